/* vpsd: the starter process (starter.h); what it does is libvps's (runtime/sandbox/starter.c).
 * Exec'd like the sysinfo writer (selfexec.h). */
#include "starter.h"

#include "log.h"
#include "selfexec.h"
#include "loop.h"
#include "vpsd.h"
#include "sandbox/sandbox.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define STARTER_FD VPSD_SELFEXEC_FD

static int spawn(struct vps_starter *st, vps_error *err)
{
        *st = (struct vps_starter){.fd = -1, .pid = -1, .pidfd = -1};
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return vps_err_sys(err, errno, "socketpair");
        _cleanup_close_ int mine = sv[0], theirs = sv[1];
        /* A starter that does not keep up makes vpsd clone the start itself, never wait. */
        int fl = fcntl(mine, F_GETFL);
        if (fl < 0 || fcntl(mine, F_SETFL, fl | O_NONBLOCK) < 0)
                return vps_err_sys(err, errno, "socketpair");
        pid_t pid;
        int pidfd;
        int r = vpsd_selfexec("--starter", theirs, &pid, &pidfd, err);
        if (r < 0)
                return r;
        *st = (struct vps_starter){.fd = TAKE_FD(mine), .pid = pid, .pidfd = pidfd};
        return 0;
}

int vpsd_starter_start(struct vpsd *d, vps_error *err)
{
        return spawn(&d->starter, err);
}

static void reap(struct vps_starter *st)
{
        vps_closep(&st->fd);
        if (st->pidfd >= 0) {
                siginfo_t si;
                while (waitid(P_PIDFD, (id_t)st->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
        }
        vps_closep(&st->pidfd);
        st->pid = -1;
}

static void on_starter_exit(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        (void)revents;
        struct vpsd *d = userdata;
        vpsd_event_del(&d->ev, src);
        reap(&d->starter);
        vps_error err;
        if (spawn(&d->starter, &err) < 0) {
                vpsd_log("the starter exited and cannot be started again (%s): vpsd clones its "
                         "starts itself",
                         err.msg);
                return;
        }
        vpsd_log("the starter exited: started again, PID %d", (int)d->starter.pid);
        vpsd_starter_watch(d);
}

void vpsd_starter_watch(struct vpsd *d)
{
        vps_error err;
        if (d->starter.pidfd >= 0 && vpsd_event_add(&d->ev, &d->w_starter, d->starter.pidfd,
                                                    EPOLLIN, on_starter_exit, d, &err) < 0)
                vpsd_log("the starter is not watched: %s", err.msg);
}

void vpsd_starter_stop(struct vpsd *d)
{
        struct vps_starter *st = &d->starter;
        if (st->pidfd < 0)
                return;
        vpsd_event_del(&d->ev, &d->w_starter);
        vps_closep(&st->fd); /* its end of the socket: it exits */
        struct pollfd p = {.fd = st->pidfd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0)
                (void)vps_sys_pidfd_send_signal(st->pidfd, SIGKILL, NULL, 0);
        reap(st);
}

int vpsd_starter_main(void)
{
        return vps_starter_main(STARTER_FD);
}
