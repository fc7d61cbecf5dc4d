/* vpsd: a requested stop. The halt signal goes to the init at once and again from the stop
 * timer: every 20 ms while the init cannot take it yet (early in a boot the kernel drops it:
 * sandbox/sandbox.h), then once a second until the init exits; at the timeout the VPS is killed.
 * The log says how each stop ended. */
#include "stop.h"

#include "log.h"
#include "pause_routes.h"
#include "vps/cleanup.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define RESEND_BOOTING_MS 20
#define RESEND_READY_MS   1000

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next tick: soon while the init is booting, at most at the deadline. */
static int arm(struct vps_loop *l, vps_error *err)
{
        int64_t at = now_ms() + (l->halt_ready ? RESEND_READY_MS : RESEND_BOOTING_MS);
        if (at > l->stop_deadline_ms)
                at = l->stop_deadline_ms;
        return vpsd_timer_set(&l->w_timer, at, true, err);
}

static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata);

int vpsd_stop_begin(struct vpsd *d, struct vps_inst *vi, bool fast, int timeout_s, vps_error *err)
{
        struct vps_loop *l = vi->loop_data;
        /* A pause under way ends here: the halt thaws the VPS (vps_manager_halt). */
        vpsd_pause_cancel(d, vi, "the VPS is being stopped");
        if (fast || timeout_s == 0) {
                if (vi->status != VPS_STOPPED) {
                        l->stop_how = STOP_KILLED_FAST;
                        l->stop_began_ms = now_ms();
                }
                return vps_manager_kill(&d->m, vi, err);
        }
        if (vi->status == VPS_STOPPING && l->w_timer.fd >= 0)
                return 0; /* a stop is already under way; this request waits for it too */
        /* Ready before the signal goes: then that signal is taken, not dropped. */
        bool ready = vps_manager_halt_ready(&d->m, vi) > 0;
        int r = vps_manager_halt(&d->m, vi, err);
        if (r < 0)
                return r;
        l->stop_how = STOP_HALTING;
        l->halt_ready = ready;
        l->stop_began_ms = now_ms();
        l->stop_deadline_ms = l->stop_began_ms + (int64_t)timeout_s * 1000;
        l->timeout_s = timeout_s;
        if ((r = vpsd_timer_new(&d->ev, &l->w_timer, on_timer, d, err)) < 0)
                return r;
        return arm(l, err);
}

static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vps_loop *l = vpsd_container_of(s, struct vps_loop, w_timer);
        struct vps_inst *vi = l->vi;
        vps_error err;
        if (now_ms() < l->stop_deadline_ms) {
                bool ready = vps_manager_halt_ready(&d->m, vi) > 0;
                l->halt_ready = l->halt_ready || ready;
                if (vps_manager_halt(&d->m, vi, &err) < 0 || arm(l, &err) < 0)
                        vpsd_log("VPS %s: sending the halt again: %s", vi->cfg.id, err.msg);
                return;
        }
        vpsd_log("VPS %s did not stop in time: killing it", vi->cfg.id);
        l->stop_how = STOP_KILLED_TIMEOUT;
        if (d->shutting_down)
                d->shutdown_killed++;
        vpsd_timer_free(&d->ev, &l->w_timer);
        if (vps_manager_kill(&d->m, vi, &err) < 0)
                vpsd_log("VPS %s: %s", vi->cfg.id, err.msg);
}

const char *vpsd_stop_describe(struct vps_inst *vi, char *buf, size_t size)
{
        struct vps_loop *l = vi->loop_data;
        enum stop_how how = l ? l->stop_how : STOP_NONE;
        int64_t ms = l ? now_ms() - l->stop_began_ms : 0;
        if (l)
                l->stop_how = STOP_NONE;
        switch (how) {
        case STOP_HALTING:
                (void)snprintf(buf, size, " (clean: its init halted in %lld ms)", (long long)ms);
                return buf;
        case STOP_KILLED_TIMEOUT:
                (void)snprintf(buf, size, " (killed: its init did not halt within %d s)",
                               l->timeout_s);
                return buf;
        case STOP_KILLED_FAST:
                return " (killed: a fast stop)";
        case STOP_NONE:
                break;
        }
        return "";
}
