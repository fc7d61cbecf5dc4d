/* vpsd: pausing and unpausing a running VPS (vpsctl pause, unpause; docs/api.md). The freeze
 * is asked at once (vps_manager_pause); the kernel stops each task on its way back to user
 * space, and a task a guest holds in the kernel can put that off for good, so the loop never
 * waits for it: it watches the VPS's cgroup.events (POLLPRI) and answers the request when it
 * says frozen, or thaws the VPS and fails the request after VPSD_PAUSE_TIMEOUT_MS. */
#include "pause_routes.h"

#include "events.h"
#include "api.h"
#include "log.h"
#include "loop.h"
#include "vpsd.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <sys/epoll.h>
#include <time.h>

static int64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Drops the watch and answers the waiting requests: with the VPS, or with err. */
static void pause_end(struct vpsd *d, struct vps_loop *l, const vps_error *err)
{
        vpsd_timer_free(&d->ev, &l->w_frozen); /* closes the cgroup.events fd too */
        vpsd_timer_free(&d->ev, &l->w_pause_timer);
        struct request *q = l->pause_waiters;
        l->pause_waiters = NULL;
        for (struct request *next; q; q = next) {
                next = vpsd_request_next(q);
                if (err)
                        vpsd_request_fail(d, q, err);
                else
                        vpsd_request_finish(d, q, 200, vps_inst_to_json(&d->m, l->vi));
        }
}

static void log_paused(struct vpsd *d, struct vps_loop *l)
{
        vpsd_emit(d, "paused", l->vi->cfg.id, NULL);
        vpsd_log("VPS %s paused (frozen in %.2f ms)", l->vi->cfg.id,
                 (double)(now_us() - l->pause_began_us) / 1000.0);
}

static void on_frozen(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vps_loop *l = vpsd_container_of(s, struct vps_loop, w_frozen);
        vps_error err;
        int r = vps_cgroup_is_frozen(s->fd, &err);
        if (r == 0)
                return; /* another change (populated); the timer still runs */
        if (r == 1)
                log_paused(d, l);
        else
                vpsd_log("VPS %s: pausing: %s", l->vi->cfg.id, err.msg);
        pause_end(d, l, r < 0 ? &err : NULL);
}

static void on_timeout(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vps_loop *l = vpsd_container_of(s, struct vps_loop, w_pause_timer);
        vps_error err, e;
        vps_err(&err, ETIMEDOUT,
                "VPS %s: its processes did not freeze within %d ms (one held in the kernel?); "
                "it goes on running",
                l->vi->cfg.id, VPSD_PAUSE_TIMEOUT_MS);
        vpsd_log("%s", err.msg);
        if (vps_manager_unpause(&d->m, l->vi, &e) < 0)
                vpsd_log("VPS %s: %s", l->vi->cfg.id, e.msg);
        pause_end(d, l, &err);
}

/* Watches vi's cgroup.events until it says frozen; 1 when the request waits, 0 when it is
 * frozen already. */
static int watch_freeze(struct vpsd *d, struct vps_loop *l, vps_error *err)
{
        _cleanup_close_ int ev = vps_cgroup_events_open(l->vi->st.cgroup, err);
        int r = ev < 0 ? ev : vps_cgroup_is_frozen(ev, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if ((r = vpsd_event_add(&d->ev, &l->w_frozen, ev, EPOLLPRI, on_frozen, d, err)) < 0) {
                l->w_frozen.fd = -1;
                return r;
        }
        TAKE_FD(ev); /* the source's now */
        if ((r = vpsd_timer_new(&d->ev, &l->w_pause_timer, on_timeout, d, err)) < 0 ||
            (r = vpsd_timer_set(&l->w_pause_timer, VPSD_PAUSE_TIMEOUT_MS, false, err)) < 0) {
                pause_end(d, l, NULL);
                return r;
        }
        return 1;
}

int vpsd_route_pause(struct vpsd *d, struct request *req, const char *id, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        struct vps_loop *l = vpsd_loop_of(vi);
        if (l && l->pause_waiters) { /* under way: answered with the first */
                vpsd_request_set_next(req, l->pause_waiters);
                l->pause_waiters = req;
                return 1;
        }
        /* A change entering the guest would stall on it until its deadline; criu's dump
         * would wait on the freeze. */
        if (l && (l->job || l->criu))
                return vps_err(err, EBUSY, "VPS %s is busy with another request", id);
        int64_t t0 = now_us();
        int r = vps_manager_pause(&d->m, vi, err);
        if (r < 0)
                return r;
        if (!(l = vpsd_loop_ensure(vi)))
                r = vps_err(err, ENOMEM, "out of memory");
        if (r == 0) {
                l->pause_began_us = t0;
                r = watch_freeze(d, l, err);
        }
        if (r < 0) {
                vps_error e;
                (void)vps_manager_unpause(&d->m, vi, &e);
                return r;
        }
        if (r == 1) {
                vpsd_request_set_next(req, NULL);
                l->pause_waiters = req;
                return 1;
        }
        log_paused(d, l);
        *ret = vps_inst_to_json(&d->m, vi);
        return 0;
}

int vpsd_route_unpause(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        vpsd_pause_cancel(d, vi, "unpaused before its processes had all stopped");
        int r = vps_manager_unpause(&d->m, vi, err);
        if (r < 0)
                return r;
        vpsd_log("VPS %s unpaused", id);
        vpsd_emit(d, "unpaused", id, NULL);
        *ret = vps_inst_to_json(&d->m, vi);
        return 0;
}

void vpsd_pause_cancel(struct vpsd *d, struct vps_inst *vi, const char *why)
{
        struct vps_loop *l = vpsd_loop_of(vi);
        if (!l || (!l->pause_waiters && l->w_frozen.fd < 0 && l->w_pause_timer.fd < 0))
                return;
        vps_error err;
        vps_err(&err, ECANCELED, "VPS %s: pause cancelled: %s", vi->cfg.id, why);
        pause_end(d, l, &err);
}

bool vpsd_pause_pending(struct vpsd *d)
{
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_loop *l = vpsd_loop_of(d->m.v[i]);
                if (l && l->pause_waiters)
                        return true;
        }
        return false;
}
