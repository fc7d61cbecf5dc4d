/* vpsctl migrate --online: the live move with CRIU. Both vpsds must say checkpointing is
 * available (else refused before anything is done). The VPS is suspended here (criu dump:
 * frozen, its images in its directory, its processes gone), its backup and images streamed
 * in frames into `vpsctl restore - ID --checkpoint` there (the VPS restored suspended), then
 * resumed there; only when that vpsd says it runs is it removed here. Before the resume there
 * the source is fenced (marked migrated_to: its resume refused without force, onboot skips
 * it); a failure resumes it here only once the destination's copy is known gone, else it
 * stays suspended and marked (migrate_fence.c). A guard process resumes it here if vpsctl is
 * killed before the fence. */
#include "vpsctl.h"
#include "client.h"
#include "migrate_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/backup.h"
#include "vps/cleanup.h"

/* The checkpoint state a vpsd's /v1/version reports: 0 when available, else why not. */
static int available(json_t *version, const char *where, vps_error *err)
{
        json_t *cp = json_object_get(json_object_get(version, "server") ?: version, "checkpoint");
        const char *why = json_string_value(json_object_get(cp, "why"));
        const char *state = json_string_value(json_object_get(cp, "state"));
        if (json_is_true(json_object_get(cp, "available")))
                return 0;
        if (state && !strcmp(state, "probing"))
                return vps_err(err, EAGAIN,
                               "--online needs checkpointing (CRIU), which %s's vpsd is still "
                               "probing: try again in a moment",
                               where);
        return vps_err(err, EOPNOTSUPP,
                       "--online needs checkpointing (CRIU), which %s's vpsd says is not "
                       "available: %s",
                       where,
                       why  ? why
                       : cp ? "it did not say why"
                            : "it does not know it");
}

/* Both sides can checkpoint, the VPS runs, and the ID is free there: before anything. */
static int online_checks(struct vpsctl *v, struct migrate *m, vps_error *err)
{
        if (m->to_node)
                return vps_err(err, EOPNOTSUPP, "--online with --to-node is not built yet");
        if (m->keep)
                return vps_err(err, EINVAL,
                               "--online and --keep-src: the images kept here could run it twice");
        _cleanup_json_ json_t *here = NULL, *vps = NULL;
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &here, err, "/v1/version") < 0 ||
            available(here, "this host", err) < 0)
                return -err->code;
        if (vpsctl_get_vps(v, m->id, &vps, err) < 0)
                return -err->code;
        const char *status = json_string_value(json_object_get(vps, "status"));
        if (!status || strcmp(status, "running") != 0)
                return vps_err(err, EINVAL, "VPS %s is %s: only a running one migrates online",
                               m->id, status ? status : "in an unknown state");
        m->was_running = true;
        m->ips = json_incref(json_object_get(vps, "ip"));
        const char *args[] = {"version", "-j", NULL};
        int st;
        char why[512];
        _cleanup_free_ char *out = NULL;
        int r = ssh_run(&m->dest, args, &st, &out, why, sizeof(why), err);
        if (r < 0)
                return r;
        if (st != 0)
                return vps_err(err, st == 255 ? EHOSTUNREACH : EPROTO, "%s: %s", m->dest.name,
                               why[0] ? why : "vpsctl version failed there");
        _cleanup_json_ json_t *there = json_loads(out ? out : "", 0, NULL);
        if ((r = available(there, m->dest.name, err)) < 0)
                return r;
        return migrate_preflight(m, err);
}

/* After a failure: the destination's copy (ours) removed, the VPS resumed here from its
 * images (still in its directory). Once the source is fenced (the copy there may have been
 * resumed), it resumes here only when the copy there is known gone (with force, which lifts
 * the fence): else it stays suspended and marked, and the error says so. */
static int roll_back(struct vpsctl *v, struct migrate *m, bool remote, vps_error *why)
{
        vps_error e = {0};
        char tail[2 * VPS_ERROR_MSG_MAX + 256];
        if (migrate_undo_there(m, remote, "suspended", "resume", tail, sizeof(tail))) {
                if (migrate_here(v, m->id, "resume", m->fenced, &e) < 0)
                        (void)snprintf(tail, sizeof(tail),
                                       "; and resuming VPS %s here failed: %s (it stays suspended "
                                       "here)",
                                       m->id, e.msg);
                else
                        (void)snprintf(tail, sizeof(tail), "; VPS %s runs here again (resumed)",
                                       m->id);
        }
        size_t len = strlen(why->msg);
        (void)snprintf(why->msg + len, sizeof(why->msg) - len, "%s", tail);
        return vpsctl_fail_err(why);
}

static int online_steps(struct vpsctl *v, struct migrate *m, vps_error *err)
{
        double t0 = migrate_now();
        int r = online_checks(v, m, err);
        if (r < 0)
                return vpsctl_fail_err(err);
        __attribute__((cleanup(migrate_guard_release))) int guard =
                migrate_guard_start(v, m->id, "resume");
        if (guard < 0)
                return vpsctl_fail("starting the guard: %s", strerror(errno));
        /* Frozen from here: criu freezes it, dumps it and kills it. */
        double t_freeze = migrate_now();
        _cleanup_json_ json_t *ans = NULL, *body = json_pack("{s:i}", "rounds", (int)m->rounds);
        r = vpsctl_request(v, "POST", body, TIMEOUT_NONE, &ans, err, "/v1/vps/%s/suspend", m->id);
        m->t_stop = migrate_now() - t_freeze;
        /* After a pre-copy, frozen only from the dump proper (vpsd's clock is this host's). */
        json_t *fz = json_object_get(ans, "frozen_at_ns");
        if (r >= 0 && m->rounds && json_is_integer(fz) &&
            (double)json_integer_value(fz) / 1e9 > t_freeze)
                t_freeze = (double)json_integer_value(fz) / 1e9;
        if (r < 0) {
                /* A dump that fails leaves the VPS running (criu lets go of it). */
                migrate_guard_release(&guard);
                (void)vps_err_wrap(err, "checkpointing VPS %s here", m->id);
                return vpsctl_fail_err(err);
        }
        double t1 = migrate_now();
        bool maybe = false;
        r = migrate_restore_there(v, m, "&checkpoint=1", true, &maybe, err);
        m->t_copy = migrate_now() - t1;
        if (r < 0)
                return roll_back(v, m, maybe, err);
        /* The destination's copy is the one to run from here: the guard lets go first, so
         * that a kill now leaves both suspended rather than both running; then the fence, so
         * that nothing (onboot, a user, a restarted vpsd) resumes it here while it may run
         * there. */
        migrate_guard_release(&guard);
        if ((r = migrate_fence_here(v, m, err)) < 0)
                return roll_back(v, m, true, err);
        double t2 = migrate_now();
        if ((r = migrate_start_there(m, "resume", err)) < 0 && err->code != ECONNRESET)
                return roll_back(v, m, true, err);
        /* No answer: it may run there; resuming it here could make two. */
        if (r < 0)
                return vpsctl_fail("%s: VPS %s may run on %s now, so it stays suspended here, "
                                   "marked migrated (check there; resume --force resumes it here)",
                                   err->msg, m->id, m->dest.name);
        m->t_start = migrate_now() - t2;
        m->t_down = migrate_now() - t_freeze;
        /* Its images and record here go (gone already is done); kept, they stay marked. */
        if (migrate_remove_here(v, m, err) < 0)
                return vpsctl_fail("VPS %s runs on %s now, but removing it here failed: %s; it is "
                                   "kept here suspended, marked migrated (destroy it)",
                                   m->id, m->dest.name, err->msg);
        m->t_total = migrate_now() - t0;
        return migrate_report(m);
}

int migrate_rounds_parse(const char *s, unsigned int *ret)
{
        char *end;
        long n = strtol(s, &end, 10);
        if (!*s || *end || n < 0 || n > 8)
                return -EINVAL;
        *ret = (unsigned int)n;
        return 0;
}

int migrate_online(struct vpsctl *v, struct migrate *m)
{
        (void)signal(SIGPIPE, SIG_IGN);
        vps_error err = {0};
        /* One ssh connection for all the steps: no handshake inside the downtime. */
        struct ssh_mux mux;
        if (ssh_mux_begin(&m->dest, &mux, &err) < 0)
                return vpsctl_fail_err(&err);
        int r = online_steps(v, m, &err);
        ssh_mux_end(&m->dest, &mux);
        json_decref(m->ips);
        m->ips = NULL;
        return r;
}
