/* vpsctl console: the HTTP Upgrade of POST /v1/vps/ID/console (client_stream_open: the local
 * socket or a remote's TLS), then bytes relayed both ways between it and the caller's
 * terminal or pipes. */
#include "vpsctl.h"
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vps/cleanup.h"

#define DETACH_KEY 0x1d /* Ctrl-], as telnet and lxc-console */

static const char console_usage[] =
        "Usage: vpsctl console ID [--timeout S]\n"
        "\n"
        "Attach to the console of the VPS ID. On a terminal, type Ctrl-] to detach.\n"
        "When standard input is not a terminal, send it to the console and, once it ends,\n"
        "keep printing the console's output for S seconds (default 1), then exit.\n"
        "\n"
        "Options:\n"
        "  --timeout S  seconds to wait for output after the end of standard input\n"
        "  -h, --help   print this help and exit\n";

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
        got_signal = sig;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *buf, size_t len, bool is_socket)
{
        while (len > 0) {
                /* MSG_NOSIGNAL: a daemon that went away is an error to report, not SIGPIPE */
                ssize_t n = is_socket ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* --- the relay ----------------------------------------------------------------------- */

struct relay {
        int sock;
        bool tty;       /* stdin is a terminal: raw mode, Ctrl-] detaches */
        bool stdin_eof; /* then only the socket is read, until the deadline */
        int64_t deadline_ms;
        int64_t drain_ms; /* --timeout */
};

/* Returns 1 to go on, 0 to stop (detach or EOF), a negative errno on error. */
static int from_stdin(struct relay *rl, vps_error *err)
{
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

        if (n < 0)
                return errno == EINTR || errno == EAGAIN
                               ? 1
                               : vps_err_sys(err, errno, "reading standard input");
        if (n == 0) {
                if (rl->tty)
                        return 0; /* the terminal hung up */
                /* not shutdown(SHUT_WR): the console would take it for a hangup */
                rl->stdin_eof = true;
                rl->deadline_ms = now_ms() + rl->drain_ms;
                return 1;
        }
        size_t len = (size_t)n;
        char *key = rl->tty ? memchr(buf, DETACH_KEY, len) : NULL;
        if (key)
                len = (size_t)(key - buf);
        int r = write_all(rl->sock, buf, len, true);
        if (r < 0)
                return vps_err_sys(err, -r, "writing to the console");
        return key ? 0 : 1;
}

static int from_socket(struct relay *rl, vps_error *err)
{
        char buf[16384];
        ssize_t n = read(rl->sock, buf, sizeof(buf));

        if (n < 0)
                return errno == EINTR ? 1 : vps_err_sys(err, errno, "reading the console");
        if (n == 0)
                return 0; /* vpsd closed the console: the VPS stopped or vpsd went away */
        int r = write_all(STDOUT_FILENO, buf, (size_t)n, false);
        if (r == -EPIPE)
                return 0; /* whoever read our output has had enough */
        if (r < 0)
                return vps_err_sys(err, -r, "writing to standard output");
        return 1;
}

static int relay(struct relay *rl, vps_error *err)
{
        int r = 1;

        while (r > 0 && !got_signal) {
                struct pollfd fds[2] = {
                        {.fd = rl->sock, .events = POLLIN},
                        {.fd = rl->stdin_eof ? -1 : STDIN_FILENO, .events = POLLIN},
                };
                int64_t wait = -1;
                if (rl->stdin_eof) {
                        wait = rl->deadline_ms - now_ms();
                        if (wait <= 0)
                                return 0;
                }
                int n = poll(fds, 2, (int)(wait > INT32_MAX ? INT32_MAX : wait));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vps_err_sys(err, errno, "waiting for the console");
                if (fds[0].revents)
                        r = from_socket(rl, err);
                if (r > 0 && fds[1].revents)
                        r = from_stdin(rl, err);
        }
        return r < 0 ? r : 0;
}

/* --- the terminal -------------------------------------------------------------------- */

struct term {
        bool saved;
        struct termios orig;
};

static void term_restorep(struct term *t)
{
        if (t->saved)
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &t->orig);
}

/* Raw mode sends every key, Ctrl-C included, to the VPS; the cleanup attribute puts the
 * terminal back on every way out of session(). */
static int session(struct relay *rl, vps_error *err)
{
        _cleanup_(term_restorep) struct term term = {0};

        if (rl->tty) {
                if (tcgetattr(STDIN_FILENO, &term.orig) < 0)
                        return vps_err_sys(err, errno, "reading the terminal settings");
                struct termios raw = term.orig;
                cfmakeraw(&raw);
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
                        return vps_err_sys(err, errno, "setting the terminal to raw mode");
                term.saved = true;
        }
        return relay(rl, err);
}

/* SIGINT, SIGTERM and SIGHUP end the relay through got_signal instead of killing us with
 * the terminal left in raw mode; no SA_RESTART, so that poll() returns. */
static void catch_signals(void)
{
        struct sigaction sa = {.sa_handler = on_signal};
        (void)sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        (void)sigaction(SIGHUP, &sa, NULL);
        (void)signal(SIGPIPE, SIG_IGN);
}

/* --- the command --------------------------------------------------------------------- */

static bool parse_drain(const char *s, int64_t *ret_ms)
{
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(d) || d < 0 || d > 86400.0 * 365)
                return false;
        *ret_ms = (int64_t)(d * 1000.0 + 0.5);
        return true;
}

/* --timeout, the one option besides --help. */
static int on_timeout(struct vpsctl *v, int c, const char *arg, void *ret_drain_ms)
{
        (void)c;
        if (!parse_drain(arg, ret_drain_ms))
                return vpsctl_usage_error(v, "invalid timeout '%s': expected a number of seconds",
                                          arg);
        return CMD_CONTINUE;
}

static int parse(struct vpsctl *v, int argc, char **argv, const char **ret_id,
                 int64_t *ret_drain_ms)
{
        static const struct option options[] = {
                {"timeout", required_argument, NULL, 256},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        return vpsctl_parse_id_opts(v, argc, argv, console_usage, options, on_timeout, ret_drain_ms,
                                    ret_id);
}

int cmd_console(struct vpsctl *v, int argc, char **argv)
{
        struct relay rl = {.drain_ms = 1000, .tty = isatty(STDIN_FILENO) == 1};
        const char *id = NULL;
        vps_error err = {0};
        char path[128];

        int r = parse(v, argc, argv, &id, &rl.drain_ms);
        if (r != CMD_CONTINUE)
                return r;

        _cleanup_close_ int fd = -1;
        (void)snprintf(path, sizeof(path), "/v1/vps/%s/console", id);
        if (client_stream_open(&v->target, path, "vps-console", NULL, &fd, NULL, &err) < 0)
                return vpsctl_fail_err(&err);
        rl.sock = fd;

        catch_signals();
        if (rl.tty)
                (void)fprintf(stderr, "Connected to the console of VPS %s (Ctrl-] to detach)\n",
                              id);
        r = session(&rl, &err);
        if (rl.tty)
                (void)fputs("\n", stderr); /* the guest's cursor may be anywhere on the line */
        if (r < 0)
                return vpsctl_fail_err(&err);
        return got_signal ? 128 + got_signal : 0;
}
