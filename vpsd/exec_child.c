/* vpsd: the child that serves one remote exec (exec.c): the command started in the VPS as
 * `vpsctl exec` starts it locally (vps_attach_spawn: its own session, pipes or a pty of the
 * guest's, no fd of vpsd's), its stdio relayed as frames on the upgraded connection
 * (docs/api.md, "exec"). One process, poll over every fd: a command that does not read its
 * input, or a client that does not read the output, stalls only this child. */
#include "exec.h"

#include "storage/backup.h"
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "vpsd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* After the client is gone, how long the command has to end on its SIGHUP before it is
 * killed. */
#define EXEC_HANGUP_MS 2000
/* Silence this long: an empty frame to the client, to see whether it is still there. */
#define EXEC_PROBE_MS 1000

struct xrelay {
        int sock;
        struct vps_attach_proc p;
        char *in; /* a stdin frame not yet written to the command (pending bytes) */
        size_t in_off, in_len;
        bool in_closed;   /* the client sent 'C' */
        bool client_gone; /* the connection ended: SIGHUP sent */
        int64_t hangup_ms;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The session's daemon and request, for fail (this child serves one). */
static const struct vpsd *the_d;
static const struct vpsd_exec_req *the_r;

static _Noreturn void fail(int sock, const vps_error *err)
{
        vpsd_exec_refuse(the_d, the_r, sock, err);
        _exit(1);
}

static void set_winsize(int master, unsigned int cols, unsigned int rows)
{
        struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        if (master >= 0 && cols && rows)
                (void)ioctl(master, TIOCSWINSZ, &ws);
}

/* Only these reach the command: what a terminal's keys and a hangup send, and a kill. */
static void forward_signal(struct xrelay *x, int sig)
{
        if (sig == SIGKILL)
                (void)kill(x->p.pid, SIGUSR1); /* the joining child kills the group */
        else if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT)
                (void)kill(x->p.pid, sig);
}

static int stdin_fd(const struct xrelay *x)
{
        return x->p.master >= 0 ? x->p.master : x->p.in;
}

/* One frame from the client. Returns -1 when the connection has ended. */
static int client_frame(struct xrelay *x, char *buf)
{
        char type;
        size_t len = 0;
        vps_error e;
        if (vps_frame_read(x->sock, &type, buf, &len, &e) < 0)
                return -1;
        switch (type) {
        case 'I':
                x->in_off = 0;
                x->in_len = x->in_closed ? 0 : len;
                break;
        case 'C':
                /* With a pty, the command reads its end of input as a terminal gives it (^D). */
                x->in_closed = true;
                if (x->p.master < 0)
                        vps_closep(&x->p.in);
                break;
        case 'W':
                if (len == 4)
                        set_winsize(
                                x->p.master,
                                ((unsigned int)(unsigned char)buf[0] << 8) | (unsigned char)buf[1],
                                ((unsigned int)(unsigned char)buf[2] << 8) | (unsigned char)buf[3]);
                break;
        case 'S':
                if (len == 1)
                        forward_signal(x, (unsigned char)buf[0]);
                break;
        case 'P':
                /* The client's stdout is closed (`| head`): so is the command's, which gets
                 * SIGPIPE (or EPIPE) at its next write, as in a local pipeline. With a pty,
                 * its output is read on (the client drops it), as locally. */
                if (x->p.master < 0)
                        vps_closep(&x->p.out);
                break;
        default:
                break; /* unknown frames are ignored, for later additions */
        }
        return 0;
}

static void write_stdin(struct xrelay *x)
{
        int fd = stdin_fd(x);
        if (fd < 0) {
                x->in_len = 0;
                return;
        }
        ssize_t n = write(fd, x->in + x->in_off, x->in_len - x->in_off);
        if (n > 0)
                x->in_off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
                x->in_off = x->in_len; /* the command closed its stdin: input is dropped */
        if (x->in_off >= x->in_len)
                x->in_len = x->in_off = 0;
}

/* Reads what fd has and sends it as a frame of type; false at its end (or nothing now when
 * drain is set). */
static void hang_up(struct xrelay *x);

static bool pump(struct xrelay *x, int *fd, char type, bool drain)
{
        char buf[16384];
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n > 0) {
                vps_error e;
                /* A client gone while the command writes: hung up on as when its end is read
                 * (else a command that never stops writing ran on, its output dropped). */
                if (!x->client_gone && vps_frame_write(x->sock, type, buf, (size_t)n, &e) < 0)
                        hang_up(x);
                return true;
        }
        if (n < 0 && (errno == EINTR || (errno == EAGAIN && !drain)))
                return true;
        if (n == 0 || !(n < 0 && errno == EAGAIN))
                vps_closep(fd); /* EOF, or EIO of a pty without slaves */
        return false;
}

static void hang_up(struct xrelay *x)
{
        if (x->hangup_ms)
                return;
        x->client_gone = true;
        x->hangup_ms = now_ms() + EXEC_HANGUP_MS;
        (void)kill(x->p.pid, SIGHUP);
}

static void relay(struct xrelay *x, char *buf)
{
        for (;;) {
                struct pollfd f[5] = {
                        {.fd = x->client_gone || x->in_len ? -1 : x->sock, .events = POLLIN},
                        {.fd = x->in_len ? stdin_fd(x) : -1, .events = POLLOUT},
                        {.fd = x->p.master >= 0 ? x->p.master : x->p.out, .events = POLLIN},
                        {.fd = x->p.err, .events = POLLIN},
                        {.fd = x->p.pidfd, .events = POLLIN},
                };
                /* An empty frame now and then: the only way to learn that a TLS client is gone
                 * (vpsd's TLS relay does not pass the connection's end on to us). */
                int timeout = EXEC_PROBE_MS;
                if (x->hangup_ms)
                        timeout = (int)(x->hangup_ms > now_ms() ? x->hangup_ms - now_ms() : 0);
                int n = poll(f, 5, timeout);
                if (n < 0 && errno != EINTR)
                        return;
                if (n == 0 && x->hangup_ms) {
                        (void)kill(x->p.pid, SIGUSR1);
                        x->hangup_ms = now_ms() + 60000;
                        continue;
                }
                if (n == 0 && !x->client_gone) {
                        vps_error e;
                        if (vps_frame_write(x->sock, 'O', "", 0, &e) < 0)
                                hang_up(x);
                }
                if (n <= 0)
                        continue;
                if (f[0].revents && client_frame(x, buf) < 0)
                        hang_up(x);
                if (f[1].revents)
                        write_stdin(x);
                if (f[2].revents)
                        (void)pump(x, x->p.master >= 0 ? &x->p.master : &x->p.out, 'O', false);
                if (f[3].revents)
                        (void)pump(x, &x->p.err, 'R', false);
                if (f[4].revents)
                        return; /* the command has exited */
        }
}

_Noreturn void vpsd_exec_child(struct vpsd *d, struct vps_inst *vi, const struct vpsd_exec_req *r,
                               int sock)
{
        const struct vps_attach_target target = {.pid = vi->st.pid,
                                                 .starttime = vi->st.starttime,
                                                 .pidfd_ino = vi->st.pidfd_ino,
                                                 .cgroup = vi->st.cgroup};
        vps_error err = {0}, ignored;
        the_d = d;
        the_r = r;
        /* vpsd answers the command's sysinfo(2) as it does for the VPS's own processes. */
        int si = d->sysinfo_fd >= 0 ? vps_attach_sysinfo_connect(d->sysinfo_path, &ignored) : -1;
        const struct vps_attach_opts opts = {.argv = r->argv,
                                             .pty = r->tty,
                                             .sysinfo_sock = si,
                                             .env = r->env,
                                             .cols = (unsigned short)r->cols,
                                             .rows = (unsigned short)r->rows};
        struct xrelay x = {.sock = sock};
        if (vps_attach_spawn(&target, &opts, &x.p, &err) < 0)
                fail(sock, &err);
        vps_closep(&si);
        char *buf = malloc(VPS_FRAME_MAX);
        if (!buf) {
                (void)kill(x.p.pid, SIGUSR1);
                fail(sock, &(vps_error){ENOMEM, "out of memory"});
        }
        x.in = buf;
        relay(&x, buf);
        /* What the command wrote before it exited is in the pipes (or the pty): all of it,
         * and no more is waited for. */
        while (x.p.out >= 0 && pump(&x, &x.p.out, 'O', true))
                ;
        while (x.p.err >= 0 && pump(&x, &x.p.err, 'R', true))
                ;
        for (int i = 0; i < 64 && x.p.master >= 0 && pump(&x, &x.p.master, 'O', true); i++)
                ;
        int status = vps_attach_wait(&x.p);
        char text[32];
        int len = snprintf(text, sizeof(text), "{\"status\":%d}", status);
        vps_error e;
        (void)vps_frame_write(sock, 'X', text, (size_t)len, &e);
        _exit(0);
}
