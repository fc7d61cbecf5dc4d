/* vpsd: the end of a VPS's run. Its init has exited: the loop lets go of it, libvps reaps it,
 * and what comes next is decided here: a restart the guest asked for (restart.c), what the
 * stop was requested for (a start, a destroy), the answers to the requests waiting for it. */
#include "reap.h"

#include "events.h"
#include "limit_events.h"
#include "api.h"
#include "console.h"
#include "keeper.h"
#include "log.h"
#include "loop.h"
#include "pause_routes.h"
#include "restart.h"
#include "shutdown.h"
#include "stop.h"
#include "trash.h"
#include "vpsd.h"
#include "watch.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Drops the loop's hold on a VPS that has stopped (its fds are closed by the reap). */
static void unwatch(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vi->loop_data;
        if (!l)
                return;
        vpsd_unwatch_pid(d, vi);
        if (l->console_watched && vi->console_fd >= 0)
                vpsd_event_del(&d->ev, &l->w_console);
        l->console_watched = false;
        l->w_console.fd = -1;
        vpsd_limits_unwatch(d, vi);
        vpsd_timer_free(&d->ev, &l->w_timer);
        vpsd_pause_cancel(d, vi, "the VPS has stopped");
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
                vpsd_unwatch_pid(d, vi);
                lj->exit_deferred = true;
                return;
        }
        if (!vps_manager_exit_ready(vi) && lj) {
                /* A tracer holds its exit: reaped once it lets go (until then it stays
                 * "stopping"; nothing of it is torn down twice). */
                if (vpsd_watch_exit_later(d, vi, 100, &err) == 0)
                        return;
                vpsd_log("VPS %s: cannot wait for its exit: %s", vi->cfg.id, err.msg);
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
        if (r == -ETIMEDOUT)
                vpsd_trash_cgroup(d, vi->cfg.id); /* the rest off the loop */
        char buf[96];
        struct vps_loop *lh = vi->loop_data;
        static const char *const reasons[] = {[STOP_NONE] = "exited",
                                              [STOP_HALTING] = "halt",
                                              [STOP_KILLED_TIMEOUT] = "killed",
                                              [STOP_KILLED_FAST] = "kill"};
        /* exited: its init ended without a stop asked for (a halt inside, or a crash). */
        const char *reason = oom      ? "oom"
                             : reboot ? "reboot"
                                      : reasons[lh ? lh->stop_how : STOP_NONE];
        const char *how = vpsd_stop_describe(vi, buf, sizeof(buf));
        vpsd_emit(d, "stopped", vi->cfg.id, json_pack("{s:s}", "reason", reason));
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

void vpsd_after_stop(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vpsd_loop_of(vi);
        enum after_stop after = l ? l->after : AFTER_NOTHING;
        struct request *waiters = l ? l->waiters : NULL;
        /* Not a restart the guest asked for: its reboot history ends here. */
        vpsd_restart_cancel(d, vi);
        if (l) {
                l->waiters = NULL;
                l->after = AFTER_NOTHING;
        }
        vps_error err = {0};
        int r = 0;
        char id[VPS_ID_MAX + 1];
        (void)snprintf(id, sizeof(id), "%s", vi->cfg.id);
        if (after == AFTER_START) {
                r = vps_manager_start(&d->m, vi, &err);
                if (r == 0)
                        r = vpsd_watch_vps(d, vi, &err);
        } else if (after == AFTER_DESTROY) {
                vpsd_forget_vps(d, vi);
                r = vpsd_destroy(d, vi, waiters, &err);
                if (r == 1)
                        waiters = NULL; /* answered when the files are gone */
                r = r < 0 ? r : 0;
                vi = NULL;
        }
        if (r < 0)
                vpsd_log(after == AFTER_START ? "VPS %s start failed: %s" : "VPS %s: %s", id,
                         err.msg);
        else if (after == AFTER_START) {
                vpsd_log("VPS %s started again (restart), init PID %d", id, (int)vi->st.pid);
                vpsd_emit(d, "started", id, json_pack("{s:s}", "reason", "restart"));
        }
        for (struct request *q = waiters, *next; q; q = next) {
                next = vpsd_request_next(q);
                if (r < 0)
                        vpsd_request_fail(d, q, &err);
                else if (vi)
                        vpsd_request_finish(d, q, 200, vps_inst_to_json(&d->m, vi));
                else
                        vpsd_request_finish(d, q, 200,
                                            json_pack("{s:s, s:b}", "id", id, "destroyed", 1));
        }
        vpsd_shutdown_check(d);
}
