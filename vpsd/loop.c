/* vpsd: the one event loop. epoll over libmicrohttpd's epoll fd, a signalfd, and for each
 * running VPS its pidfd (exit), console master (output to log and attached clients) and a
 * timerfd (stop.c). No thread or helper process per VPS. */
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "vpsd.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

struct vps_loop *vpsd_loop_of(struct vps_inst *vi)
{
        return vi->loop_data;
}

static int ep_add(struct vpsd *d, int fd, struct watch *w, vps_error *err)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return vps_err_sys(err, errno, "epoll_ctl");
        return 0;
}

struct vps_loop *vpsd_loop_ensure(struct vps_inst *vi)
{
        struct vps_loop *l = vi->loop_data;
        if (l)
                return l;
        l = calloc(1, sizeof(*l));
        if (!l)
                return NULL;
        l->timer_fd = l->restart_fd = -1;
        l->w_pid = (struct watch){W_PIDFD, vi};
        l->w_console = (struct watch){W_CONSOLE, vi};
        l->w_timer = (struct watch){W_TIMER, vi};
        l->w_restart = (struct watch){W_RESTART, vi};
        vi->loop_data = l;
        return l;
}

int vpsd_watch_vps(struct vpsd *d, struct vps_inst *vi, vps_error *err)
{
        struct vps_loop *l = vpsd_loop_ensure(vi);
        if (!l)
                return vps_err(err, ENOMEM, "out of memory");
        /* The init's sysinfo listener (a start, or the keeper after a restart). */
        if (vi->notify_fd >= 0)
                vpsd_notify_add(d, TAKE_FD(vi->notify_fd));
        int r = ep_add(d, vi->pidfd, &l->w_pid, err);
        if (r == 0 && vi->console_fd >= 0) {
                r = ep_add(d, vi->console_fd, &l->w_console, err);
                l->console_watched = r == 0;
        }
        return r;
}

/* Drops the loop's hold on a VPS that has stopped (its fds are closed by the reap). */
static void unwatch(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vi->loop_data;
        if (!l)
                return;
        if (vi->pidfd >= 0)
                (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, vi->pidfd, NULL);
        if (l->console_watched && vi->console_fd >= 0)
                (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, vi->console_fd, NULL);
        l->console_watched = false;
        vps_closep(&l->timer_fd);
        vpsd_restart_drop(d, vi);
        vpsd_console_drop_all(d, vi);
}

void vpsd_forget_vps(struct vpsd *d, struct vps_inst *vi)
{
        unwatch(d, vi);
        free(vi->loop_data);
        vi->loop_data = NULL;
}

void vpsd_vps_exited(struct vpsd *d, struct vps_inst *vi)
{
        bool reboot = false, oom = false;
        vps_error err;
        struct vps_loop *lj = vi->loop_data;
        if (lj && lj->job) {
                /* A job is changing it (its host side too): the reap waits for the job. */
                (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, vi->pidfd, NULL);
                lj->exit_deferred = true;
                return;
        }
        time_t started = vi->st.started_at;
        vpsd_console_drain(d, vi);
        unwatch(d, vi);
        vpsd_keeper_drop(d, vi->cfg.id);
        int r = vps_manager_reap(&d->m, vi, &reboot, &oom, &err);
        if (r == -EAGAIN)
                return;
        if (r < 0)
                vpsd_log("VPS %s: cleaning up: %s", vi->cfg.id, err.msg);
        char buf[96];
        const char *how = vpsd_stop_describe(vi, buf, sizeof(buf));
        vpsd_log("VPS %s stopped%s", vi->cfg.id,
                 oom      ? " by an out-of-memory kill (oompolicy restart)"
                 : reboot ? " for a reboot"
                          : how);
        struct vps_loop *l = vi->loop_data;
        if (reboot && l && !l->waiters && !d->shutting_down) {
                time_t now = time(NULL);
                vpsd_restart_guest(d, vi, now > started ? now - started : 0, oom);
                return;
        }
        vpsd_after_stop(d, vi);
}

static void on_signal(struct vpsd *d)
{
        struct signalfd_siginfo si;
        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        vpsd_log("signal %d: exiting, VPSes keep running", (int)si.ssi_signo);
                        d->quit = true;
                } else if (si.ssi_signo == SIGHUP) {
                        const char *why = vpsd_reexec_blocker(d);
                        if (why) {
                                vpsd_log("SIGHUP: not re-executing now: %s; send it again", why);
                        } else {
                                vpsd_log("SIGHUP: re-executing, VPSes and consoles kept");
                                d->reexec = d->quit = true;
                        }
                }
}

int vpsd_loop_init(struct vpsd *d, vps_error *err)
{
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (d->epfd < 0)
                return vps_err_sys(err, errno, "epoll_create1");
        d->loop_up = true;
        vpsd_notify_watch_all(d);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return vps_err_sys(err, errno, "sigprocmask");
        signal(SIGPIPE, SIG_IGN);
        d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->sigfd < 0)
                return vps_err_sys(err, errno, "signalfd");
        d->w_sig = (struct watch){W_SIGNAL, d};
        int r = ep_add(d, d->sigfd, &d->w_sig, err);
        for (size_t i = 0; r == 0 && i < d->m.n; i++)
                if (d->m.v[i]->status != VPS_STOPPED)
                        r = vpsd_watch_vps(d, d->m.v[i], err);
        return r;
}

static void dispatch(struct vpsd *d, struct watch *w, uint32_t events)
{
        switch (w->kind) {
        case W_MHD:
                d->mhd_kick = true;
                break;
        case W_SIGNAL:
                on_signal(d);
                break;
        case W_PIDFD:
                vpsd_vps_exited(d, w->ptr);
                break;
        case W_JOB:
                vpsd_job_on_end(d, w->ptr);
                break;
        case W_JOB_TIMER:
                vpsd_job_on_timer(d, w->ptr);
                break;
        case W_TIMER:
                vpsd_stop_on_timer(d, w->ptr);
                break;
        case W_CONSOLE:
                vpsd_console_on_master(d, w->ptr);
                break;
        case W_CLIENT:
                vpsd_console_on_client(d, w->ptr);
                break;
        case W_BUILD_OUT:
                vpsd_build_on_output(d, w->ptr);
                break;
        case W_BUILD_END:
                vpsd_build_on_end(d, w->ptr);
                break;
        case W_SYSINFO:
        case W_SYSINFO_CLIENT:
                vpsd_notify_on(d, w->ptr, events);
                break;
        case W_SYSINFO_LISTEN:
                vpsd_notify_on_accept(d);
                break;
        case W_TRASH:
                vpsd_trash_on_end(d, w->ptr);
                break;
        case W_RESTART:
                vpsd_restart_on_timer(d, w->ptr);
                break;
        case W_STREAM:
                vpsd_stream_on_ctl(d, w->ptr);
                break;
        }
}

/* vpsd's /proc/meminfo views (lxcfs.h) follow each VPS's usage every few seconds (and at each
 * sysinfo call): returns the milliseconds until the next round. */
static int meminfo_tick(struct vpsd *d)
{
        enum { EVERY_MS = 5000 };
        static long long next;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (now >= next) {
                vps_meminfo_refresh_all(&d->m);
                next = now + EVERY_MS;
        }
        return (int)(next - now);
}

int vpsd_loop_run(struct vpsd *d)
{
        struct epoll_event evs[64];
        while (!d->quit) {
                int timeout = -1;
                MHD_UNSIGNED_LONG_LONG mt;
                if (d->mhd_kick)
                        timeout = 0;
                else if (MHD_get_timeout(d->mhd, &mt) == MHD_YES)
                        timeout = mt > 60000 ? 60000 : (int)mt;
                /* Summaries of suppressed log lines are written when their interval ends. */
                int lt = vpsd_log_tick();
                if (lt >= 0 && (timeout < 0 || lt < timeout))
                        timeout = lt;
                int mt_ms = meminfo_tick(d);
                if (timeout < 0 || mt_ms < timeout)
                        timeout = mt_ms;
                int n = epoll_wait(d->epfd, evs, 64, timeout);
                if (n < 0 && errno != EINTR)
                        return -errno;
                for (int i = 0; i < n; i++)
                        dispatch(d, evs[i].data.ptr, evs[i].events);
                d->mhd_kick = false;
                (void)MHD_run(d->mhd);
        }
        return 0;
}
