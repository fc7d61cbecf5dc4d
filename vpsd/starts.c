/* vpsd: VPS starts in steps driven by the loop (starts.h). Each start's socket is a source:
 * readable, the start goes on (vps_manager_start_step), so the loop never waits for a
 * start's processes while they build the VPS's root. */
#include "starts.h"

#include "api.h"
#include "events.h"
#include "log.h"
#include "loop.h"
#include "restart.h"
#include "suspend_routes.h"
#include "vpsd.h"
#include "watch.h"
#include "core/core.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

struct start_op {
        struct vpsd_source src;
        struct vpsd *d;
        struct vps_start *s;
        struct vps_inst *vi;
        struct request *waiters;
        const char *reason;
        struct start_op *next;
};

/* A child of vpsd's a start left (exited or about to): reaped when its pidfd says so. */
struct reap_op {
        struct vpsd_source src;
        struct vpsd *d;
        struct reap_op *next, **prev;
};

static struct start_op *ops;
static unsigned int in_flight;
static char (*queue)[VPS_ID_MAX + 1]; /* onboot IDs not begun yet */
static size_t queued, queue_at;
static struct reap_op *reaps;
/* API starts beyond vpsd.conf start_parallel in flight, begun in their order. */
struct start_wait {
        char id[VPS_ID_MAX + 1];
        struct request *req;
        const char *reason;
        struct start_wait *next;
};
static struct start_wait *waiting, **waiting_tail = &waiting;

static void on_reap(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        (void)revents, (void)userdata;
        struct reap_op *o = vpsd_container_of(src, struct reap_op, src);
        siginfo_t si = {0};
        int r = waitid(P_PIDFD, (id_t)src->fd, &si, WEXITED | WNOHANG);
        if ((r == 0 && si.si_pid == 0) || (r < 0 && errno == EINTR))
                return; /* not yet */
        int fd = src->fd;
        vpsd_event_del(&o->d->ev, src);
        close(fd);
        *o->prev = o->next;
        if (o->next)
                o->next->prev = o->prev;
        free(o);
}

static void reap_later(int pidfd, void *data)
{
        struct vpsd *d = data;
        struct reap_op *o = calloc(1, sizeof(*o));
        vps_error e;
        if (!o || vpsd_event_add(&d->ev, &o->src, pidfd, EPOLLIN, on_reap, d, &e) < 0) {
                /* Cannot watch it: waited for here (it has exited or soon will). */
                free(o);
                siginfo_t si;
                while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                close(pidfd);
                return;
        }
        o->d = d;
        o->next = reaps;
        o->prev = &reaps;
        if (reaps)
                reaps->prev = &o->next;
        reaps = o;
}

void vpsd_starts_init(struct vpsd *d)
{
        d->m.reap_hook = reap_later;
        d->m.reap_hook_data = d;
}

static void next_onboot(struct vpsd *d);
static void next_waiting(struct vpsd *d);
static int begin_start(struct vpsd *d, struct vps_inst *vi, struct request *req, const char *reason,
                       vps_error *err);

/* The start is over (r < 0: failed, err set): the VPS watched, the requests answered. */
static void start_over(struct vpsd *d, struct start_op *op, int r, vps_error *err)
{
        struct vps_inst *vi = op->vi;
        char id[VPS_ID_MAX + 1];
        (void)snprintf(id, sizeof(id), "%s", vi->cfg.id);
        if (r == 0)
                r = vpsd_watch_vps(d, vi, err);
        json_t *view = NULL;
        bool onboot = !strcmp(op->reason, "onboot");
        if (r < 0 && onboot)
                vpsd_log("onboot: %s", err->msg);
        else if (r < 0)
                vpsd_log("VPS %s start failed: %s", id, err->msg);
        else {
                /* A VPS held back in a reboot loop starts at once, and its history is
                 * forgotten. */
                vpsd_restart_cancel(d, vi);
                vpsd_log("%sVPS %s started, init PID %d", onboot ? "onboot: " : "", id,
                         (int)vi->st.pid);
                vpsd_emit(d, "started", id, json_pack("{s:s}", "reason", op->reason));
                view = vps_inst_to_json_started(&d->m, vi);
                vpsd_report_warning(d, id, view);
        }
        for (struct request *q = op->waiters, *next; q; q = next) {
                next = vpsd_request_next(q);
                if (r < 0)
                        vpsd_request_fail(d, q, err);
                else
                        vpsd_request_finish(d, q, 200, json_incref(view));
        }
        json_decref(view);
}

static void unlink_op(struct start_op *op)
{
        for (struct start_op **p = &ops; *p; p = &(*p)->next)
                if (*p == op) {
                        *p = op->next;
                        break;
                }
        in_flight--;
}

static void on_start(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct start_op *op = vpsd_container_of(src, struct start_op, src);
        vps_error err = {0};
        int r = vps_manager_start_step(op->s, &err);
        if (r == 1)
                return;
        /* Unwatched before its socket closes (a fork of vpsd may hold a copy of it: epoll would
         * go on reporting it). */
        vpsd_event_del(&d->ev, src);
        vps_manager_start_free(op->s);
        unlink_op(op);
        start_over(d, op, r, &err);
        free(op);
        next_waiting(d);
        next_onboot(d);
}

/* An API start when start_parallel are in flight: it waits its turn (the request answered
 * when its start is over, as for any other), and the VPS counts as starting meanwhile. */
static int wait_turn(struct vpsd *d, struct vps_inst *vi, struct request *req, const char *reason,
                     vps_error *err)
{
        int r = vps_manager_start_refused(vi, err);
        if (r < 0)
                return r;
        struct start_wait *w = calloc(1, sizeof(*w));
        if (!w)
                return vps_err(err, ENOMEM, "out of memory");
        (void)snprintf(w->id, sizeof(w->id), "%s", vi->cfg.id);
        w->req = req;
        w->reason = reason;
        *waiting_tail = w;
        waiting_tail = &w->next;
        vpsd_log("VPS %s: start queued (%u starts in flight, start_parallel %u)", w->id, in_flight,
                 d->start_parallel);
        return 0;
}

static struct start_wait *pop_waiting(void)
{
        struct start_wait *w = waiting;
        if (w && !(waiting = w->next))
                waiting_tail = &waiting;
        return w;
}

static void next_waiting(struct vpsd *d)
{
        while (waiting && in_flight < d->start_parallel) {
                _cleanup_free_ struct start_wait *w = pop_waiting();
                vps_error err;
                struct vps_inst *vi = vps_manager_find(&d->m, w->id, &err);
                int r = vi ? 0 : -err.code;
                if (r == 0 && d->shutting_down)
                        r = vps_err(&err, EBUSY, "vpsd is stopping every VPS (shutdown)");
                if (r == 0)
                        r = begin_start(d, vi, w->req, w->reason, &err);
                if (r < 0) {
                        vpsd_log("VPS %s start failed: %s", w->id, err.msg);
                        vpsd_request_fail(d, w->req, &err);
                }
        }
}

int vpsd_start_vps(struct vpsd *d, struct vps_inst *vi, struct request *req, const char *reason,
                   vps_error *err)
{
        if (req && (waiting || in_flight >= d->start_parallel))
                return wait_turn(d, vi, req, reason, err);
        return begin_start(d, vi, req, reason, err);
}

static int begin_start(struct vpsd *d, struct vps_inst *vi, struct request *req, const char *reason,
                       vps_error *err)
{
        struct start_op *op = calloc(1, sizeof(*op));
        if (!op)
                return vps_err(err, ENOMEM, "out of memory");
        int r = vps_manager_start_begin(&d->m, vi, &op->s, err);
        if (r == 0)
                r = vpsd_event_add(&d->ev, &op->src, vps_manager_start_fd(op->s), EPOLLIN, on_start,
                                   d, err);
        if (r < 0) {
                vps_manager_start_free(op->s);
                free(op);
                return r;
        }
        op->d = d;
        op->vi = vi;
        op->reason = reason;
        op->waiters = req;
        if (req)
                vpsd_request_set_next(req, NULL);
        op->next = ops;
        ops = op;
        in_flight++;
        return 0;
}

static void next_onboot(struct vpsd *d)
{
        while (queue_at < queued && in_flight < VPSD_START_PARALLEL && !d->shutting_down) {
                const char *id = queue[queue_at++];
                vps_error err;
                struct vps_inst *vi = vps_manager_find(&d->m, id, &err);
                if (!vi || vi->status != VPS_STOPPED)
                        continue; /* destroyed or started meanwhile */
                /* Suspended: it comes back as it was, not booted afresh. */
                if (vi->suspended) {
                        vpsd_resume_onboot(d, vi);
                        continue;
                }
                if (vpsd_start_vps(d, vi, NULL, "onboot", &err) < 0)
                        vpsd_log("onboot: %s", err.msg);
                else
                        vpsd_log("onboot: VPS %s starting (bootorder %d)", id,
                                 (int)vi->cfg.bootorder);
        }
        if (queue_at >= queued) {
                free(queue);
                queue = NULL;
                queued = queue_at = 0;
        }
}

void vpsd_starts_onboot(struct vpsd *d, struct vps_inst **list, size_t n)
{
        if (!n)
                return;
        void *q = realloc(queue, (queued + n) * sizeof(*queue));
        if (!q) {
                vpsd_log("onboot: out of memory");
                return;
        }
        queue = q;
        for (size_t i = 0; i < n; i++)
                (void)snprintf(queue[queued++], sizeof(*queue), "%s", list[i]->cfg.id);
        next_onboot(d);
}

int vpsd_start_busy(struct vpsd *d, const char *id, vps_error *err)
{
        (void)d;
        for (struct start_op *op = ops; op; op = op->next)
                if (!strcmp(op->vi->cfg.id, id))
                        return vps_err(err, EBUSY, "VPS %s is busy: it is starting; try again", id);
        for (struct start_wait *w = waiting; w; w = w->next)
                if (!strcmp(w->id, id))
                        return vps_err(err, EBUSY,
                                       "VPS %s is busy: its start waits for others to end; try "
                                       "again",
                                       id);
        return 0;
}

bool vpsd_starts_pending(struct vpsd *d)
{
        (void)d;
        return ops || waiting || queue_at < queued;
}

bool vpsd_starts_abort_all(struct vpsd *d, const vps_error *err)
{
        bool any = false;
        for (struct start_wait *w; (w = pop_waiting()); free(w)) {
                vpsd_log("VPS %s: its start is cancelled: %s", w->id, err->msg);
                vpsd_request_fail(d, w->req, err);
                any = true;
        }
        free(queue);
        queue = NULL;
        queued = queue_at = 0;
        while (ops) {
                struct start_op *op = ops;
                vpsd_event_del(&d->ev, &op->src);
                vps_manager_start_free(op->s); /* killed, its host side undone */
                unlink_op(op);
                vpsd_log("VPS %s: its start is cancelled: %s", op->vi->cfg.id, err->msg);
                for (struct request *q = op->waiters, *next; q; q = next) {
                        next = vpsd_request_next(q);
                        vpsd_request_fail(d, q, err);
                        any = true;
                }
                free(op);
        }
        return any;
}
