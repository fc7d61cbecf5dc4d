/* vpsd: starting, stopping, restarting and destroying a VPS, and stopping them all for a host
 * shutdown (docs/api.md). A stop, a restart and a forced destroy suspend their request until
 * the VPS's init has exited; reap.c then does what the stop was for and answers, and
 * shutdown.c answers a shutdown when the last VPS has stopped. */
#include "power_routes.h"

#include "migrated.h"
#include "migration_events.h"

#include "events.h"
#include "api.h"
#include "copy_job.h"
#include "log.h"
#include "reap.h"
#include "restart.h"
#include "starts.h"
#include "stop.h"
#include "trash.h"
#include "vpsd.h"
#include "watch.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

int vpsd_route_start(struct vpsd *d, struct request *req, const char *id, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        if (d->shutting_down)
                return vps_err(err, EBUSY, "vpsd is stopping every VPS (shutdown)");
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        int r = vpsd_check_migrated(vi, body, "start", err);
        /* Answered when the start is over (starts.c): the loop goes on meanwhile. */
        if (r == 0)
                r = vpsd_start_vps(d, vi, req, "start", err);
        /* The source of a migration started again: the migration was rolled back. */
        if (r >= 0 && vpsd_migration_pending(id))
                vpsd_migration_end(d, id, true, NULL,
                                   &(vps_error){ECANCELED, "rolled back: started here again"});
        if (r < 0) {
                if (r != -EALREADY)
                        vpsd_log("VPS %s start failed: %s", id, err->msg);
                return r;
        }
        return 1;
}

/* Queues req until vi has stopped; `after` says what to do then. */
static int wait_stop(struct vpsd *d, struct request *req, struct vps_inst *vi, json_t *body,
                     enum after_stop after, vps_error *err)
{
        json_t *jf = json_object_get(body, "fast"), *jt = json_object_get(body, "timeout");
        if ((jf && !json_is_boolean(jf)) ||
            (jt && (!json_is_integer(jt) || json_integer_value(jt) < 0 ||
                    json_integer_value(jt) > 86400)))
                return vps_err(err, EINVAL,
                               "'fast' must be a boolean and 'timeout' seconds "
                               "from 0 to 86400");
        int timeout = jt ? (int)json_integer_value(jt) : VPSD_STOP_TIMEOUT_DEFAULT;
        struct vps_loop *l = vpsd_loop_of(vi);
        if (vi->status == VPS_STOPPED || !l)
                return vps_err(err, EALREADY, "VPS %s is not running", vi->cfg.id);
        if (l->after != AFTER_NOTHING && l->after != after)
                return vps_err(err, EBUSY, "VPS %s is busy with another request", vi->cfg.id);
        int r = vpsd_stop_begin(d, vi, json_is_true(jf), timeout, err);
        if (r < 0)
                return r;
        l->after = after;
        vpsd_request_set_next(req, l->waiters);
        l->waiters = req;
        return 1;
}

int vpsd_route_stop(struct vpsd *d, struct request *req, const char *id, json_t *body,
                    unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        /* Held back in a reboot loop: stopped already, it only stays so. */
        if (vi->status == VPS_STOPPED && vi->restart_at) {
                vpsd_restart_cancel(d, vi);
                *ret = vps_inst_to_json(&d->m, vi);
                return 0;
        }
        return wait_stop(d, req, vi, body, AFTER_NOTHING, err);
}

int vpsd_route_restart(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        if (vi->status == VPS_STOPPED)
                return vpsd_route_start(d, req, id, body, status, ret, err);
        return wait_stop(d, req, vi, body, AFTER_START, err);
}

int vpsd_route_destroy(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        const char *force = vpsd_request_arg(req, "force");
        const char *to = vpsd_request_arg(req, "migrated_to");
        int r = vpsd_migration_peer_check("migrated_to", to, err);
        if (r < 0)
                return r;
        if (vi->status != VPS_STOPPED && force && strcmp(force, "0") != 0) {
                _cleanup_json_ json_t *fast = json_pack("{s:b}", "fast", 1);
                r = wait_stop(d, req, vi, fast, AFTER_DESTROY, err);
                if (r == 1)
                        vpsd_copy_cancel(d, id); /* a snapshot of it: its child goes */
                return r;
        }
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY, "VPS %s is running; stop it first or use --force",
                               vi->cfg.id);
        vpsd_copy_cancel(d, id); /* a snapshot, switch or reinstall of it: its child goes */
        vpsd_forget_vps(d, vi);
        /* Answered once its files are gone (trash.c). */
        vpsd_request_set_next(req, NULL);
        /* Said before its files go: the VPS's record, which the destroy frees, is the id's. */
        char copy[VPS_ID_MAX + 1];
        (void)snprintf(copy, sizeof(copy), "%s", id);
        r = vpsd_destroy(d, vi, req, err);
        vps_error gone;
        /* Gone (even when its files stay): vpsctl migrate's last step, the VPS runs on the
         * destination now; without it, one removed in the midst of a migration failed it. */
        if (!vps_manager_find(&d->m, copy, &gone))
                vpsd_migration_end(d, copy, true, to,
                                   to ? NULL : &(vps_error){ECANCELED, "the VPS was destroyed"});
        if (r == 0)
                *ret = json_pack("{s:s, s:b}", "id", copy, "destroyed", 1);
        return r;
}

/* POST /v1/shutdown {"timeout": S}: halts every running VPS at once (killed after S s). */
int vpsd_route_shutdown(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                        unsigned int *status, json_t **ret, vps_error *err)
{
        json_t *jt = json_object_get(body, "timeout");
        if (jt &&
            (!json_is_integer(jt) || json_integer_value(jt) < 0 || json_integer_value(jt) > 86400))
                return vps_err(err, EINVAL, "'timeout' must be seconds from 0 to 86400");
        int timeout = jt ? (int)json_integer_value(jt) : VPSD_STOP_TIMEOUT_DEFAULT;
        if (!d->shutting_down) {
                d->shutting_down = true;
                vps_error why;
                vps_err(&why, EBUSY, "vpsd is stopping every VPS (shutdown)");
                (void)vpsd_starts_abort_all(d, &why);
                d->shutdown_count = d->shutdown_killed = 0;
                for (size_t i = 0; i < d->m.n; i++) {
                        struct vps_inst *vi = d->m.v[i];
                        if (vi->status == VPS_STOPPED) {
                                vpsd_restart_cancel(d, vi); /* held back: stays stopped */
                                continue;
                        }
                        d->shutdown_count++;
                        vps_error e;
                        if (vi->status == VPS_RUNNING &&
                            vpsd_stop_begin(d, vi, false, timeout, &e) < 0)
                                vpsd_log("shutdown: VPS %s: %s", vi->cfg.id, e.msg);
                }
                vpsd_log("shutdown: stopping %u VPS%s (timeout %d s)", d->shutdown_count,
                         d->shutdown_count == 1 ? "" : "es", timeout);
        }
        size_t running = 0;
        for (size_t i = 0; i < d->m.n; i++)
                running += d->m.v[i]->status != VPS_STOPPED;
        if (!running) {
                d->shutting_down = false;
                *ret = json_pack("{s:I, s:I}", "stopped", (json_int_t)d->shutdown_count, "killed",
                                 (json_int_t)d->shutdown_killed);
                return 0;
        }
        vpsd_request_set_next(req, d->shutdown_waiters);
        d->shutdown_waiters = req;
        return 1;
}
