/* libvps: the relay between vpsctl's own stdin, stdout and stderr and a command it runs in a
 * VPS, as Docker's and Podman's exec do: the command never holds a terminal of the host, so
 * it cannot push input into one (TIOCSTI) or make it its controlling terminal. One process,
 * poll over every fd: a command that writes much before it reads its input, or fills stdout
 * and stderr at once, never waits on us, nor we on it. */
#include "sandbox/attach_relay.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

/* One direction: bytes read from `from` wait in buf until `to` takes them. */
struct chan {
        int from, to;
        bool own_from, own_to; /* pipe ends of the relay's, closed when the chan ends */
        bool input;            /* the caller's stdin: ends when the command is gone */
        bool until_eof;        /* the pty master: read until its last slave is closed */
        bool done;
        size_t off, len;
        char buf[16384];
};

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};

void vps_relay_block_signals(sigset_t *ret_set, sigset_t *ret_old)
{
        sigemptyset(ret_set);
        for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
                struct sigaction sa;
                if (sigaction(forwarded[i], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
                        sigaddset(ret_set, forwarded[i]);
        }
        sigprocmask(SIG_BLOCK, ret_set, ret_old);
}

static void chan_close(int *fd, bool own)
{
        if (own && *fd >= 0)
                close(*fd);
        *fd = -1;
}

static void chan_end(struct chan *c)
{
        c->done = true;
        c->off = c->len = 0;
        chan_close(&c->from, c->own_from);
        chan_close(&c->to, c->own_to); /* the command's stdin: it reads EOF */
}

/* Nobody takes the output any more (stdout closed): a pipe is closed, so that the command's
 * next write fails as it would in a local pipeline; the pty is read on, into nothing. */
static void chan_lost_to(struct chan *c)
{
        if (c->input || c->own_from) {
                chan_end(c);
                return;
        }
        c->to = -1;
        c->off = c->len = 0;
}

/* gone: the command has exited; a pipe then gives what it holds and no more is waited for. */
static void chan_read(struct chan *c, bool gone)
{
        ssize_t n = read(c->from, c->buf, sizeof(c->buf));
        if (n > 0 && c->to < 0)
                return; /* read into nothing */
        if (n > 0) {
                c->off = 0;
                c->len = (size_t)n;
        } else if (n == 0 || !(errno == EINTR || (errno == EAGAIN && (!gone || c->until_eof)))) {
                chan_end(c); /* EOF, EIO of a pty without slaves, or drained */
        }
}

static void chan_write(struct chan *c)
{
        size_t n = c->len - c->off;
        /* The caller's own fds stay blocking (they are shared with its shell): after POLLOUT
         * a pipe takes PIPE_BUF bytes without blocking. */
        if (!c->own_to && n > PIPE_BUF)
                n = PIPE_BUF;
        ssize_t w = write(c->to, c->buf + c->off, n);
        if (w > 0) {
                c->off += (size_t)w;
                if (c->off == c->len)
                        c->off = c->len = 0;
        } else if (!(w < 0 && (errno == EINTR || errno == EAGAIN))) {
                chan_lost_to(c);
        }
}

static void copy_winsize(int from, int to)
{
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) == 0)
                (void)ioctl(to, TIOCSWINSZ, &ws);
}

/* A forwarded signal goes to the joining child, which passes it to the command's process
 * group; the window size goes to the pty. */
static void on_signals(int sfd, const struct vps_relay *r, bool tty, bool gone)
{
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGWINCH) {
                        if (tty && r->master >= 0)
                                copy_winsize(STDIN_FILENO, r->master);
                } else if (!gone) {
                        (void)vps_sys_pidfd_send_signal(r->pidfd, (int)si.ssi_signo, NULL, 0);
                }
        }
}

/* The chans of this relay, in c; returns how many. */
static size_t make_chans(struct vps_relay *r, struct chan *c)
{
        size_t n = 0;
        if (r->master >= 0) {
                /* The stdin pipe is not used: the command reads the pty. */
                close(r->in);
                c[n++] = (struct chan){.from = STDIN_FILENO, .to = r->master, .input = true};
                c[n++] = (struct chan){.from = r->master, .to = STDOUT_FILENO, .until_eof = true};
        } else {
                c[n++] = (struct chan){
                        .from = STDIN_FILENO, .to = r->in, .own_to = true, .input = true};
        }
        c[n++] = (struct chan){.from = r->out, .to = STDOUT_FILENO, .own_from = true};
        c[n++] = (struct chan){.from = r->err, .to = STDERR_FILENO, .own_from = true};
        r->in = r->out = r->err = -1;
        return n;
}

/* Whether an output chan is still open; the input chan ends with the command. */
static bool outputs_left(const struct chan *c, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!c[i].input && !c[i].done)
                        return true;
        return false;
}

/* Once the command is gone: the input ends, and each pipe gives what it holds. */
static void after_exit(struct chan *c, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (c[i].done || c[i].len || c[i].until_eof)
                        continue;
                if (c[i].input)
                        chan_end(&c[i]);
                else
                        chan_read(&c[i], true);
        }
}

static void relay_loop(struct vps_relay *r, struct chan *c, size_t n, int sfd, bool tty)
{
        bool gone = false;
        while (!gone || outputs_left(c, n)) {
                if (gone)
                        after_exit(c, n);
                struct pollfd pfd[8];
                size_t idx[8], np = 0;
                for (size_t i = 0; i < n; i++) {
                        if (c[i].done)
                                continue;
                        if (c[i].len)
                                pfd[np] = (struct pollfd){.fd = c[i].to, .events = POLLOUT};
                        else if (!gone || c[i].until_eof)
                                pfd[np] = (struct pollfd){.fd = c[i].from, .events = POLLIN};
                        else
                                continue; /* drained by after_exit */
                        idx[np++] = i;
                }
                size_t base = np;
                if (gone && base == 0)
                        continue;
                pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
                pfd[np++] = (struct pollfd){.fd = gone ? -1 : r->pidfd, .events = POLLIN};
                if (poll(pfd, np, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (size_t k = 0; k < base; k++) {
                        struct chan *ch = &c[idx[k]];
                        if (!pfd[k].revents || ch->done)
                                continue;
                        if (ch->len)
                                chan_write(ch);
                        else
                                chan_read(ch, gone);
                }
                if (pfd[base].revents)
                        on_signals(sfd, r, tty, gone);
                if (pfd[base + 1].revents)
                        gone = true;
        }
        for (size_t i = 0; i < n; i++)
                if (!c[i].done)
                        chan_end(&c[i]);
}

void vps_relay_run(struct vps_relay *r, const sigset_t *set)
{
        struct chan c[4];
        size_t n = make_chans(r, c);
        /* A write to a pipe whose reader is gone fails with EPIPE instead of killing us. */
        struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
        sigaction(SIGPIPE, &ign, &old_pipe);
        int sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);

        bool tty = r->master >= 0 && isatty(STDIN_FILENO);
        struct termios saved;
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
                struct termios raw = saved;
                cfmakeraw(&raw);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                copy_winsize(STDIN_FILENO, r->master);
        } else {
                tty = false;
        }
        relay_loop(r, c, n, sfd, tty);
        if (tty)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (sfd >= 0)
                close(sfd);
        sigaction(SIGPIPE, &old_pipe, NULL);
}
