/* vpsd: serving sysinfo(2) for VPS processes. Each VPS init's seccomp filter sends sysinfo
 * calls to a listener that the start hands to vpsd (and a copy to the console keeper, so a
 * new vpsd takes it back after a crash); `vpsctl exec` hands the listener of its command's
 * filter over RUN_DIR/sysinfo.sock (the root's run directory, 0700), from host root only: a
 * listener lets its holder answer the command's syscalls and put fds into it. Every listener
 * is in the one event loop; it goes when the last process using its filter has exited. */
#include "notify.h"

#include "log.h"
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/localsock.h"
#include "sandbox/sandbox.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A seccomp listener served by the loop, or a vpsctl connection handing one over. */
struct notifier {
        struct vpsd_source w;
        int fd;
        bool client; /* a vpsctl connection */
        struct notifier *next;
};

static void on_notifier(struct vpsd_source *s, uint32_t events, void *userdata);

static struct notifier *add(struct vpsd *d, int fd, bool client)
{
        struct notifier *n = calloc(1, sizeof(*n));
        if (!n) {
                close(fd);
                return NULL;
        }
        n->fd = fd;
        n->client = client;
        vpsd_source_set(&n->w, fd, EPOLLIN, on_notifier, d);
        /* Before the loop exists (listeners inherited over a re-exec) vpsd_notify_watch_all
         * adds them later. */
        vps_error err;
        if (d->loop_up && vpsd_event_attach(&d->ev, &n->w, &err) < 0) {
                errno = err.code;
                close(fd);
                free(n);
                return NULL;
        }
        n->next = d->notifiers;
        d->notifiers = n;
        return n;
}

static void drop(struct vpsd *d, struct notifier *gone)
{
        for (struct notifier **p = &d->notifiers; *p; p = &(*p)->next)
                if (*p == gone) {
                        *p = gone->next;
                        vpsd_event_del(&d->ev, &gone->w);
                        close(gone->fd);
                        free(gone);
                        return;
                }
}

void vpsd_notify_watch_all(struct vpsd *d)
{
        vps_error err;
        for (struct notifier *n = d->notifiers; n; n = n->next)
                (void)vpsd_event_attach(&d->ev, &n->w, &err);
}

void vpsd_notify_add(struct vpsd *d, int listener)
{
        if (listener < 0)
                return;
        listener = vps_fd_high(listener);
        (void)fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
        if (!add(d, listener, false))
                vpsd_log("sysinfo: cannot watch a listener: %s", strerror(errno));
}

static void on_notifier(struct vpsd_source *s, uint32_t events, void *userdata)
{
        struct vpsd *d = userdata;
        struct notifier *n = vpsd_container_of(s, struct notifier, w);
        if (n->client) {
                char tag;
                int fd = -1;
                size_t nfds = 0;
                int r = vps_recv_msg(n->fd, &tag, 1, &fd, 1, &nfds);
                if (r <= 0) {
                        drop(d, n);
                        return;
                }
                if (nfds == 1 && tag == 'L' && vps_sysinfo_is_listener(fd))
                        vpsd_notify_add(d, fd);
                else if (nfds == 1)
                        close(fd);
                return;
        }
        if (events & EPOLLIN) {
                int r = vps_sysinfo_answer(&d->m, n->fd);
                /* ENOENT: the caller died before the answer; the listener stays. */
                if (r < 0 && r != -ENOENT && r != -EAGAIN && r != -EINTR)
                        vpsd_log("sysinfo: answering: %s", strerror(-r));
                return;
        }
        if (events & (EPOLLHUP | EPOLLERR))
                drop(d, n); /* no process uses its filter any more */
}

static void on_accept(struct vpsd_source *s, uint32_t events, void *userdata)
{
        struct vpsd *d = userdata;
        int c;
        while ((c = accept4(d->sysinfo_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                /* Only host root (vpsctl runs as root) may hand listeners over; the directory
                 * keeps others out too. */
                if (!vps_sock_peer_is_root(c)) {
                        close(c);
                        continue;
                }
                (void)add(d, c, true);
        }
}

int vpsd_notify_listen(struct vpsd *d, vps_error *err)
{
        /* In the run directory vps_manager_open made root-only; vpsd holds the root's lock, so
         * a socket file there is a previous vpsd's (before a re-exec or a crash). */
        int n = snprintf(d->sysinfo_path, sizeof(d->sysinfo_path), "%s/%s/sysinfo.sock",
                         VPS_RUN_DIR, d->m.run_name);
        if (n < 0 || (size_t)n >= sizeof(d->sysinfo_path))
                return vps_err(err, ENAMETOOLONG, "the sysinfo socket's path is too long");
        _cleanup_close_ int fd = vps_sock_listen_path(
                d->sysinfo_path, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 64, err);
        if (fd < 0)
                return fd;
        int r = vpsd_event_add(&d->ev, &d->w_sysinfo, fd, EPOLLIN, on_accept, d, err);
        if (r < 0)
                return r;
        d->sysinfo_fd = TAKE_FD(fd);
        return 0;
}

size_t vpsd_notify_inherit_env(struct vpsd *d, char *buf, size_t size)
{
        size_t n = 0;
        for (struct notifier *l = d->notifiers; l && n < size; l = l->next) {
                int fl = fcntl(l->fd, F_GETFD);
                if (l->client || fl < 0 || fcntl(l->fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
                        continue;
                int w = snprintf(buf + n, size - n, "|n=%d", l->fd);
                n += w > 0 ? (size_t)w : 0;
        }
        return n < size ? n : size - 1;
}

void vpsd_notify_inherit(struct vpsd *d, const char *env)
{
        for (const char *p = env ? strstr(env, "|n=") : NULL; p; p = strstr(p + 3, "|n=")) {
                int fd = atoi(p + 3);
                if (fd > 2 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && vps_sysinfo_is_listener(fd))
                        vpsd_notify_add(d, fd);
        }
}
