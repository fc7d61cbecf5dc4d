/* vpsctl exec and enter against a remote (--remote, VPSCTL_REMOTE): POST /v1/vps/ID/exec
 * upgraded to vps-exec (docs/api.md, "exec"); vpsd runs the command in the VPS as a local exec
 * does and the stream carries its stdio as frames. Our stdin goes as 'I' frames ('C' at its
 * end), SIGINT, SIGTERM, SIGHUP and SIGQUIT as 'S' frames, a terminal's size as 'W' frames;
 * 'O' and 'R' frames are the command's stdout and stderr, 'X' its status, which is ours; a 'P'
 * frame says our stdout closed. */
#include "vpsctl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "storage/backup.h"
#include "vps/cleanup.h"

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};

static json_t *exec_body(char *const *argv, bool pty, struct winsize *ws, bool have_ws)
{
        json_t *args = json_array();
        for (size_t i = 0; args && argv[i]; i++)
                json_array_append_new(args, json_string(argv[i]));
        json_t *o = json_pack("{s:o, s:b}", "argv", args, "tty", pty);
        const char *term = getenv("TERM");
        if (o && pty && term)
                json_object_set_new(o, "env", json_pack("{s:s}", "TERM", term));
        if (o && have_ws && ws->ws_col && ws->ws_row) {
                json_object_set_new(o, "cols", json_integer(ws->ws_col));
                json_object_set_new(o, "rows", json_integer(ws->ws_row));
        }
        return o;
}

static int send_winsize(int fd)
{
        struct winsize ws;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row)
                return 0;
        unsigned char b[4] = {(unsigned char)(ws.ws_col >> 8), (unsigned char)ws.ws_col,
                              (unsigned char)(ws.ws_row >> 8), (unsigned char)ws.ws_row};
        vps_error e;
        return vps_frame_write(fd, 'W', b, sizeof(b), &e);
}

/* False once out is closed (EPIPE: SIGPIPE is ignored meanwhile): what follows is dropped. */
static bool write_out(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                buf += n;
                len -= (size_t)n;
        }
        return true;
}

/* What a vpsd that closed the command's stdout on our 'P' can still have had on its way. */
#define DROPPED_MAX (8u << 20)

/* Our stdout: open, or closed (`| head -n1`) and how much was dropped since; pty: the
 * command's output comes from a pty, which vpsd reads on after 'P'. */
struct out_state {
        bool closed, pty;
        size_t dropped;
};

/* One frame from vpsd: 1 with *status at the end ('X'), -1 with err ('E', or the stream
 * ended), else 0. When our stdout closes, vpsd closes the command's ('P'), which ends as it
 * would in a local pipeline, and its status (141 after SIGPIPE) is ours, without a word on
 * stderr. A vpsd before 'P' sends on: past DROPPED_MAX we leave (vpsd hangs the command up,
 * as for a client gone) with the status a shell gives a writer that SIGPIPE ended. A
 * command on a pty has nothing to end it: we leave at once, as ssh -t does. */
static int server_frame(int fd, char *buf, int *status, struct out_state *out, vps_error *err)
{
        char type;
        size_t len = 0;
        if (vps_frame_read(fd, &type, buf, &len, err) < 0) {
                if (err->code == ECONNRESET)
                        vps_err(err, ECONNRESET,
                                "the connection to vpsd ended before the command's status");
                return -1;
        }
        if (type == 'O' && out->closed && (out->dropped += len) > DROPPED_MAX) {
                *status = 128 + SIGPIPE;
                return 1;
        }
        if (type == 'O' && !out->closed && !write_out(STDOUT_FILENO, buf, len)) {
                vps_error e;
                out->closed = true;
                if (out->pty) {
                        *status = 128 + SIGPIPE;
                        return 1;
                }
                (void)vps_frame_write(fd, 'P', "", 0, &e);
        }
        if (type == 'R')
                (void)write_out(STDERR_FILENO, buf, len);
        if (type == 'O' || type == 'R')
                return 0;
        if (type != 'X' && type != 'E')
                return 0;
        _cleanup_json_ json_t *j = json_loadb(buf, len, 0, NULL);
        if (type == 'X') {
                *status = (int)json_integer_value(json_object_get(j, "status"));
                return 1;
        }
        const char *msg = json_string_value(json_object_get(j, "error"));
        int code = (int)json_integer_value(json_object_get(j, "errno"));
        return vps_err(err, code > 0 ? code : EIO, "%s", msg ? msg : "exec failed");
}

/* Our stdin to the command; false at its end ('C' sent). */
static bool stdin_frame(int fd)
{
        char buf[16384];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
                return true;
        vps_error e;
        if (n <= 0) {
                (void)vps_frame_write(fd, 'C', "", 0, &e);
                return false;
        }
        (void)vps_frame_write(fd, 'I', buf, (size_t)n, &e);
        return true;
}

static int relay(int fd, int sigfd, bool pty, vps_error *err)
{
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        bool in_open = true;
        struct out_state out = {.pty = pty};
        int status = 0;
        for (;;) {
                struct pollfd f[3] = {{.fd = fd, .events = POLLIN},
                                      {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
                                      {.fd = sigfd, .events = POLLIN}};
                if (poll(f, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vps_err_sys(err, errno, "poll");
                }
                if (f[0].revents) {
                        int r = server_frame(fd, buf, &status, &out, err);
                        if (r < 0)
                                return r;
                        if (r == 1)
                                return status;
                }
                if (f[1].revents)
                        in_open = stdin_frame(fd);
                struct signalfd_siginfo si;
                if (f[2].revents && read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                        vps_error e;
                        unsigned char sig = (unsigned char)si.ssi_signo;
                        if (sig == SIGWINCH)
                                (void)send_winsize(fd);
                        else
                                (void)vps_frame_write(fd, 'S', &sig, 1, &e);
                }
        }
}

int vpsctl_exec_remote(const struct vpsctl *v, const char *id, char *const *argv, bool pty)
{
        struct winsize ws = {0};
        bool have_ws = pty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0;
        _cleanup_json_ json_t *body = exec_body(argv, pty, &ws, have_ws);
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (!text)
                return vpsctl_fail("out of memory");
        char path[320];
        (void)snprintf(path, sizeof(path), "/v1/vps/%s/exec", id);
        /* Blocked from before the stream opens: a Ctrl-C meanwhile goes to the command. */
        sigset_t set, old;
        sigemptyset(&set);
        for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
                struct sigaction sa;
                if (sigaction(forwarded[i], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
                        sigaddset(&set, forwarded[i]);
        }
        sigprocmask(SIG_BLOCK, &set, &old);
        vps_error err = {0};
        _cleanup_close_ int fd = -1;
        _cleanup_close_ int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (sigfd < 0 || vpsctl_stream_open(v, path, "vps-exec", text, &fd, NULL, &err) < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                if (sigfd < 0)
                        vps_err_sys(&err, errno, "signalfd");
                return vpsctl_fail_err(&err);
        }
        /* A terminal in raw mode: its keys (Ctrl-C too) go to the command's pty as they are. */
        struct termios saved;
        bool raw = pty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        if (raw) {
                struct termios t = saved;
                cfmakeraw(&t);
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &t);
        }
        /* A write to our closed stdout fails with EPIPE instead of killing us. */
        struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
        (void)sigaction(SIGPIPE, &ign, &old_pipe);
        int r = relay(fd, sigfd, pty, &err);
        (void)sigaction(SIGPIPE, &old_pipe, NULL);
        if (raw)
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return r < 0 ? vpsctl_fail_err(&err) : r;
}
