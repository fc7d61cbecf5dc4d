/* vpsd: restarts a guest asks for (reboot(2), an OOM kill under --oompolicy restart). A guest
 * whose boot ends in a reboot would otherwise be started again as fast as vpsd can: hundreds
 * of starts a second, a core of CPU and a flood of log lines. Past restart_burst restarts
 * within restart_interval s each waits (vps_backoff_next: 1 s, doubling, up to
 * restart_delay_max) on a timerfd in the loop; nothing waits in the loop itself. Meanwhile the
 * VPS is stopped, with status "backoff" and restart_at; an operator's start or stop ends it. */
#include "restart.h"

#include "events.h"
#include "log.h"
#include "loop.h"
#include "watch.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_now(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata);

/* Arms vi's restart timer to fire in delay_s seconds (0: at once). */
static int arm(struct vpsd *d, struct vps_inst *vi, int64_t delay_s, vps_error *err)
{
        struct vps_loop *l = vpsd_loop_ensure(vi);
        if (!l)
                return vps_err(err, ENOMEM, "out of memory");
        if (l->w_restart.fd < 0) {
                int r = vpsd_timer_new(&d->ev, &l->w_restart, on_timer, d, err);
                if (r < 0)
                        return r;
        }
        return vpsd_timer_set(&l->w_restart, delay_s > 0 ? delay_s * 1000 : 0, false, err);
}

void vpsd_restart_drop(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vpsd_loop_of(vi);
        if (l)
                vpsd_timer_free(&d->ev, &l->w_restart);
        vi->restart_at = 0;
}

void vpsd_restart_cancel(struct vpsd *d, struct vps_inst *vi)
{
        if (vi->restart_at)
                vpsd_log("VPS %s: the held-back restart is cancelled", vi->cfg.id);
        vpsd_restart_drop(d, vi);
        vi->backoff = (struct vps_backoff){0};
}

static void start_again(struct vpsd *d, struct vps_inst *vi, const char *why)
{
        vps_error err;
        if (vps_manager_start(&d->m, vi, &err) < 0 || vpsd_watch_vps(d, vi, &err) < 0)
                vpsd_log("VPS %s: restarting %s: %s", vi->cfg.id, why, err.msg);
        else {
                vpsd_log("VPS %s restarted %s, init PID %d", vi->cfg.id, why, (int)vi->st.pid);
                vpsd_emit(d, "started", vi->cfg.id, json_pack("{s:s}", "reason", "reboot"));
        }
}

void vpsd_restart_guest(struct vpsd *d, struct vps_inst *vi, int64_t ran_s, bool oom)
{
        const char *why = oom ? "after an out-of-memory kill" : "after reboot";
        unsigned int delay = vps_backoff_next(&vi->backoff, &d->restart_policy, mono_now(), ran_s);
        if (delay == 0) {
                start_again(d, vi, why);
                return;
        }
        vps_error err;
        if (arm(d, vi, delay, &err) < 0) {
                vpsd_log("VPS %s: cannot hold back its restart, left stopped: %s", vi->cfg.id,
                         err.msg);
                vpsd_restart_cancel(d, vi);
                return;
        }
        vi->restart_at = time(NULL) + delay;
        vpsd_log("VPS %s: %u restarts in a row (%s, the last run %lld s): the next waits %u s",
                 vi->cfg.id, vi->backoff.restarts, why, (long long)ran_s, delay);
}

static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vps_inst *vi = vpsd_container_of(s, struct vps_loop, w_restart)->vi;
        vpsd_restart_drop(d, vi);
        if (d->shutting_down || vi->status != VPS_STOPPED)
                return;
        start_again(d, vi, "after a back-off");
}

size_t vpsd_restart_inherit_env(struct vpsd *d, char *buf, size_t size)
{
        size_t n = 0;
        for (size_t i = 0; i < d->m.n && n < size; i++) {
                const struct vps_inst *vi = d->m.v[i];
                if (!vi->restart_at || vi->status != VPS_STOPPED)
                        continue;
                int w = snprintf(buf + n, size - n, "|r=%s,%lld,%u,%u", vi->cfg.id,
                                 (long long)vi->restart_at, vi->backoff.restarts,
                                 vi->backoff.delay_s);
                n += w > 0 ? (size_t)w : 0;
        }
        return n < size ? n : size - 1;
}

void vpsd_restart_inherit(struct vpsd *d, const char *env)
{
        for (const char *p = env ? strstr(env, "|r=") : NULL; p; p = strstr(p + 3, "|r=")) {
                char id[VPS_ID_MAX + 1];
                long long at = 0;
                unsigned int restarts = 0, delay = 0;
                if (sscanf(p + 3, "%63[A-Za-z0-9_-],%lld,%u,%u", id, &at, &restarts, &delay) != 4)
                        continue;
                vps_error err;
                struct vps_inst *vi = vps_manager_find(&d->m, id, &err);
                if (!vi || vi->status != VPS_STOPPED || at <= 0)
                        continue;
                vi->restart_at = (time_t)at;
                /* The window is gone with the old monotonic reading; the wait stays. */
                vi->backoff = (struct vps_backoff){.restarts = restarts, .delay_s = delay};
        }
}

void vpsd_restart_arm_all(struct vpsd *d)
{
        time_t now = time(NULL);
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_inst *vi = d->m.v[i];
                if (!vi->restart_at)
                        continue;
                vps_error err;
                if (arm(d, vi, vi->restart_at > now ? vi->restart_at - now : 0, &err) < 0) {
                        vpsd_log("VPS %s: cannot keep its held-back restart: %s", vi->cfg.id,
                                 err.msg);
                        vpsd_restart_cancel(d, vi);
                }
        }
}
