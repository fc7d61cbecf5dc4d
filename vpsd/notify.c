/* vpsd: serving sysinfo(2) for VPS processes. Each VPS init's seccomp filter sends sysinfo
 * calls to a listener that the start hands to vpsd (and a copy to the console keeper, so a
 * new vpsd takes it back after a crash); `vpsctl exec` hands the listener of its command's
 * filter over RUN_DIR/sysinfo.sock (the root's run directory, 0700), from host root only: a
 * listener lets its holder answer the command's syscalls and put fds into it. Every listener
 * is in the one event loop; it goes when the last process using its filter has exited. */
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/localsock.h"
#include "sandbox/sandbox.h"
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

static struct notifier *add(struct vpsd *d, int fd, enum watch_kind kind)
{
        struct notifier *n = calloc(1, sizeof(*n));
        if (!n) {
                close(fd);
                return NULL;
        }
        n->fd = fd;
        n->w = (struct watch){kind, n};
        /* Before the loop exists (listeners inherited over a re-exec) vpsd_notify_watch_all
         * adds them later. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &n->w};
        if (d->loop_up && epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
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
                        (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, gone->fd, NULL);
                        close(gone->fd);
                        free(gone);
                        return;
                }
}

void vpsd_notify_watch_all(struct vpsd *d)
{
        for (struct notifier *n = d->notifiers; n; n = n->next) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &n->w};
                (void)epoll_ctl(d->epfd, EPOLL_CTL_ADD, n->fd, &ev);
        }
}

void vpsd_notify_add(struct vpsd *d, int listener)
{
        if (listener < 0)
                return;
        listener = vps_fd_high(listener);
        (void)fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
        if (!add(d, listener, W_SYSINFO))
                vpsd_log("sysinfo: cannot watch a listener: %s", strerror(errno));
}

void vpsd_notify_on(struct vpsd *d, struct notifier *n, uint32_t events)
{
        if (n->w.kind == W_SYSINFO_CLIENT) {
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
        d->w_sysinfo = (struct watch){W_SYSINFO_LISTEN, d};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->w_sysinfo};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return vps_err_sys(err, errno, "epoll_ctl");
        d->sysinfo_fd = TAKE_FD(fd);
        return 0;
}

void vpsd_notify_on_accept(struct vpsd *d)
{
        int c;
        while ((c = accept4(d->sysinfo_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                /* Only host root (vpsctl runs as root) may hand listeners over; the directory
                 * keeps others out too. */
                if (!vps_sock_peer_is_root(c)) {
                        close(c);
                        continue;
                }
                (void)add(d, c, W_SYSINFO_CLIENT);
        }
}

size_t vpsd_notify_inherit_env(struct vpsd *d, char *buf, size_t size)
{
        size_t n = 0;
        for (struct notifier *l = d->notifiers; l && n < size; l = l->next) {
                int fl = fcntl(l->fd, F_GETFD);
                if (l->w.kind != W_SYSINFO || fl < 0 || fcntl(l->fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
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
