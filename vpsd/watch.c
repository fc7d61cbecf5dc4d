/* vpsd: the loop's hold on each running VPS: its init's pidfd (its exit goes to the
 * vps_exited hook, reap.c) and its console master (console.c); stop.c and restart.c add its
 * timers. */
#include "watch.h"

#include "console.h"
#include "limit_events.h"
#include "loop.h"
#include "notify.h"
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "vpsd.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>

static void on_pidfd(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        d->vps_exited(d, vpsd_container_of(s, struct vps_loop, w_pid)->vi);
}

static void on_console(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        vpsd_console_on_master(userdata, vpsd_container_of(s, struct vps_loop, w_console)->vi);
}

int vpsd_watch_vps(struct vpsd *d, struct vps_inst *vi, vps_error *err)
{
        struct vps_loop *l = vpsd_loop_ensure(vi);
        if (!l)
                return vps_err(err, ENOMEM, "out of memory");
        /* The init's sysinfo listener (a start, or the keeper after a restart). */
        if (vi->notify_fd >= 0)
                vpsd_notify_add(d, TAKE_FD(vi->notify_fd));
        vpsd_limits_watch(d, vi);
        int r = vpsd_event_add(&d->ev, &l->w_pid, vi->pidfd, EPOLLIN, on_pidfd, d, err);
        if (r == 0 && vi->console_fd >= 0) {
                r = vpsd_event_add(&d->ev, &l->w_console, vi->console_fd, EPOLLIN, on_console, d,
                                   err);
                l->console_watched = r == 0;
        }
        return r;
}

void vpsd_unwatch_pid(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vi->loop_data;
        if (!l)
                return;
        if (l->w_pid.timer)
                vpsd_timer_free(&d->ev, &l->w_pid);
        else
                vpsd_event_del(&d->ev, &l->w_pid);
        l->w_pid.fd = -1;
        l->w_pid.timer = false;
}

int vpsd_watch_exit_later(struct vpsd *d, struct vps_inst *vi, int64_t ms, vps_error *err)
{
        struct vps_loop *l = vi->loop_data;
        if (!l->w_pid.timer) {
                vpsd_unwatch_pid(d, vi);
                if (vpsd_timer_new(&d->ev, &l->w_pid, on_pidfd, d, err) < 0)
                        return -1;
        }
        return vpsd_timer_set(&l->w_pid, ms, false, err);
}

int vpsd_watch_all(struct vpsd *d, vps_error *err)
{
        int r = 0;
        for (size_t i = 0; r == 0 && i < d->m.n; i++)
                if (d->m.v[i]->status != VPS_STOPPED)
                        r = vpsd_watch_vps(d, d->m.v[i], err);
        return r;
}

/* (The views are also refreshed at each sysinfo call, notify.c.) */
int vpsd_meminfo_tick(void *userdata)
{
        struct vpsd *d = userdata;
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
