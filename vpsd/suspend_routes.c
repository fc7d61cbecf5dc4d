/* vpsd: suspending a VPS to disk and resuming it (vpsctl suspend, resume; docs/api.md).
 * Each runs criu in a child of vpsd (gated.c) whose pidfd the loop watches, so a dump of a
 * large VPS never holds the loop. A suspend's child runs `criu dump` (checkpoint.h), which
 * kills the VPS once its images are whole: the loop sees the init exit and reaps it as any
 * stop, and the job's end marks it suspended. A resume makes the host side as a start does
 * (core.h vps_manager_resume_begin), then its child becomes criu, so that the restored init,
 * criu's sibling (--restore-sibling), is vpsd's own child, taken in as a started one. */
#include "suspend_routes.h"

#include "api.h"
#include "copy_job.h"
#include "events.h"
#include "gated.h"
#include "log.h"
#include "migration_events.h"
#include "netlock.h"
#include "migrated.h"
#include "loop.h"
#include "stream.h"
#include "trash.h"
#include "vpsd.h"
#include "watch.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct criu_job {
        struct vpsd_source w_end;   /* the child's pidfd */
        struct vpsd_source w_timer; /* its deadline */
        struct vpsd *d;
        pid_t pid;
        int pidfd, out_fd;
        struct request *req; /* NULL: none (onboot) or answered (vpsd exiting) */
        struct vps_inst *vi;
        bool resume;
        struct vps_start *start; /* a resume's host side */
        struct vps_checkpoint_params p;
        char run_dir[128], vps_dir[600];
        struct timespec began;
        int64_t frozen_ns;
        unsigned int timeout_s; /* the deadline: the request's "timeout", else criu_timeout */
        bool own_timeout;       /* the request's */
        bool overran;           /* killed at it */
};

/* What the child sends when it fails before criu (a resume) or when it is done (a dump). */
struct criu_result {
        int r;
        vps_error err;
        int64_t frozen_ns; /* a dump: when the dump proper began (after a pre-copy) */
};

/* 0 when this host can checkpoint, else why not. */
static int checkpoint_ready(struct vpsd *d, const char *verb, vps_error *err)
{
        if (d->criu.state == VPS_CRIU_PROBING)
                return vps_err(err, EAGAIN,
                               "%s needs checkpointing (CRIU), which vpsd is still probing: try "
                               "again in a moment",
                               verb);
        if (d->criu.state != VPS_CRIU_AVAILABLE)
                return vps_err(err, EOPNOTSUPP,
                               "%s needs checkpointing (CRIU), which this host's vpsd says is not "
                               "available: %s",
                               verb, d->criu.why[0] ? d->criu.why : "it did not say why");
        return 0;
}

static int64_t elapsed_ms(const struct criu_job *j)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (int64_t)(now.tv_sec - j->began.tv_sec) * 1000 +
               (now.tv_nsec - j->began.tv_nsec) / 1000000;
}

_Noreturn static void criu_child(void *arg, int go, int out)
{
        struct criu_job *j = arg;
        vpsd_stream_child_setup(); /* dies with vpsd; vpsd's blocked signals unblocked */
        /* A group of its own: criu and whatever it forks are killed together at the deadline
         * (on_timer). */
        (void)setpgid(0, 0);
        char c;
        if (read(go, &c, 1) != 1) /* the loop could not watch us: nothing is done */
                _exit(1);
        static struct criu_result res;
        if (j->resume)
                res.r = vps_checkpoint_restore_exec(&j->p, &res.err); /* criu, if it works */
        else
                res.r = vps_checkpoint_dump(&j->p, &res.frozen_ns, &res.err);
        (void)vps_write_full(out, &res, sizeof(res));
        _exit(res.r < 0);
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata);

static int watch_child(void *arg, int pidfd, vps_error *err)
{
        struct criu_job *j = arg;
        vps_error e;
        if (vpsd_timer_set(&j->w_timer, (int64_t)j->timeout_s * 1000, false, &e) < 0 ||
            vpsd_event_add(&j->d->ev, &j->w_end, pidfd, EPOLLIN, on_end, j->d, &e) < 0)
                return vps_err_sys(err, e.code, "watching criu");
        return 0;
}

static void unwatch_child(void *arg)
{
        struct criu_job *j = arg;
        vpsd_event_del(&j->d->ev, &j->w_end);
        vpsd_event_del(&j->d->ev, &j->w_timer);
}

/* The deadline passed: criu's group killed (the child's, criu's, what they forked); on_end
 * then puts the VPS back as it was (running, or suspended with its images). */
static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        (void)revents, (void)userdata;
        struct criu_job *j = vpsd_container_of(s, struct criu_job, w_timer);
        vpsd_log("VPS %s: criu %s did not finish within %u s (%s): killing it (PID %d)",
                 j->vi->cfg.id, j->resume ? "restore" : "dump", j->timeout_s,
                 j->own_timeout ? "the request's timeout" : "vpsd.conf criu_timeout", (int)j->pid);
        j->overran = true;
        /* A dump's tasks held frozen while criu dies: its death lets them go at once, and a
         * connection it left in repair mode answers their next read with EPERM (tcp_recvmsg),
         * which ends it. dump_killed takes the connections out of repair mode, then thaws. */
        vps_error e;
        const char *cg = j->vi->st.cgroup;
        if (!j->resume && j->vi->status == VPS_RUNNING && cg[0] &&
            vps_cgroup_freeze_begin(cg, &e) < 0)
                vpsd_log("VPS %s: freezing it before criu is killed: %s", j->vi->cfg.id, e.msg);
        /* The child is not reaped before on_end: its PID, the group's, is not reused. */
        (void)kill(-j->pid, SIGKILL);
        (void)vps_sys_pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
}

static void job_free(struct criu_job *j)
{
        vpsd_timer_free(&j->d->ev, &j->w_timer);
        if (j->start)
                vps_manager_start_free(j->start); /* undone unless the VPS runs */
        vps_closep(&j->pidfd);
        vps_closep(&j->out_fd);
        free(j);
}

static int job_start(struct vpsd *d, struct criu_job *j, vps_error *err)
{
        struct vps_loop *l = vpsd_loop_ensure(j->vi);
        if (!l)
                return vps_err(err, ENOMEM, "out of memory");
        clock_gettime(CLOCK_MONOTONIC, &j->began);
        vps_error e;
        if (vpsd_timer_new(&d->ev, &j->w_timer, on_timer, d, &e) < 0)
                return vps_err_sys(err, e.code, "VPS %s: a deadline for criu", j->vi->cfg.id);
        struct vpsd_gated g = {.id = j->vi->cfg.id,
                               .what = j->resume ? "resume" : "suspend",
                               .child = criu_child,
                               .watch = watch_child,
                               .unwatch = unwatch_child,
                               .arg = j};
        int r = vpsd_gated_fork(&g, &j->pid, &j->pidfd, &j->out_fd, err);
        if (r < 0)
                return r;
        l->criu = j;
        if (j->req)
                vpsd_request_set_next(j->req, NULL);
        return 1;
}

static struct criu_job *job_new(struct vpsd *d, struct vps_inst *vi, struct request *req,
                                bool resume, unsigned int timeout_s)
{
        struct criu_job *j = calloc(1, sizeof(*j));
        if (j)
                *j = (struct criu_job){.w_end = {.fd = -1},
                                       .w_timer = {.fd = -1},
                                       .timeout_s = timeout_s ? timeout_s : d->criu_timeout,
                                       .own_timeout = timeout_s != 0,
                                       .d = d,
                                       .pidfd = -1,
                                       .out_fd = -1,
                                       .req = req,
                                       .vi = vi,
                                       .resume = resume};
        return j;
}

/* The checks of both, in order: the VPS, no other suspend or resume of it, the host. */
static struct vps_inst *checks(struct vpsd *d, const char *id, bool resume, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return NULL;
        struct vps_loop *l = vi->loop_data;
        if (l && l->criu)
                return vps_err(err, EBUSY, "VPS %s is busy: a %s of it is under way", id,
                               l->criu->resume ? "resume" : "suspend"),
                       NULL;
        /* A stopped VPS does not suspend, whatever the host; else the host first. */
        if ((!resume && vi->status != VPS_RUNNING &&
             vps_manager_suspend_check(&d->m, vi, resume, err) < 0) ||
            checkpoint_ready(d, resume ? "resume" : "suspend", err) < 0 ||
            vps_manager_suspend_check(&d->m, vi, resume, err) < 0)
                return NULL;
        if (!resume && l && l->job)
                return vps_err(err, EBUSY, "VPS %s is busy: a change to it is under way", id), NULL;
        /* A snapshot's copy freezes it (a start under way is refused above: not running). */
        if (vpsd_copy_busy(d, id, false, err) < 0)
                return NULL;
        return vi;
}

/* The body's {"timeout": S} (seconds, instead of vpsd.conf criu_timeout) into *ret, 0 when
 * absent. */
static int body_timeout(json_t *body, unsigned int *ret, vps_error *err)
{
        json_t *jt = json_object_get(body, "timeout");
        *ret = 0;
        if (!jt)
                return 0;
        if (!json_is_integer(jt) || json_integer_value(jt) < 1 ||
            json_integer_value(jt) > VPS_CRIU_TIMEOUT_MAX)
                return vps_err(err, EINVAL, "'timeout': seconds from 1 to %d",
                               VPS_CRIU_TIMEOUT_MAX);
        *ret = (unsigned int)json_integer_value(jt);
        return 0;
}

int vpsd_route_suspend(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        (void)status, (void)ret;
        /* {"rounds": N}: a pre-copy of N rounds before the dump (an online migration's) */
        json_t *jr = json_object_get(body, "rounds");
        if (jr && (!json_is_integer(jr) || json_integer_value(jr) < 0 ||
                   json_integer_value(jr) > VPS_CHECKPOINT_ROUNDS_MAX))
                return vps_err(err, EINVAL, "'rounds': 0 to %d pre-copy rounds",
                               VPS_CHECKPOINT_ROUNDS_MAX);
        unsigned int timeout_s;
        if (body_timeout(body, &timeout_s, err) < 0)
                return -err->code;
        struct vps_inst *vi = checks(d, id, false, err);
        if (!vi)
                return -err->code;
        struct criu_job *j = job_new(d, vi, req, false, timeout_s);
        if (!j)
                return vps_err(err, ENOMEM, "out of memory");
        (void)snprintf(j->vps_dir, sizeof(j->vps_dir), "%s/vps/%s", d->m.root, id);
        (void)snprintf(j->run_dir, sizeof(j->run_dir), "%s/%s", VPS_RUN_DIR, d->m.run_name);
        j->p = (struct vps_checkpoint_params){.criu = d->criu.path,
                                              .vps_dir = j->vps_dir,
                                              .run_dir = j->run_dir,
                                              /* which views it has: its mountinfo says */
                                              .lxcfs = d->m.lxcfs[0] ? d->m.lxcfs : NULL,
                                              .cfg = &vi->cfg,
                                              .pid = vi->st.pid,
                                              .console = vi->console_hold,
                                              .rounds = (unsigned int)json_integer_value(jr)};
        int r = job_start(d, j, err);
        if (r < 0)
                job_free(j);
        else
                vpsd_log("VPS %s: suspending (criu dump, PID %d, deadline %u s)", id, (int)j->pid,
                         j->timeout_s);
        return r;
}

int vpsd_resume_vps(struct vpsd *d, struct vps_inst *vi, struct request *req,
                    unsigned int timeout_s, vps_error *err)
{
        if (!checks(d, vi->cfg.id, true, err))
                return -err->code;
        struct criu_job *j = job_new(d, vi, req, true, timeout_s);
        if (!j)
                return vps_err(err, ENOMEM, "out of memory");
        int r = vps_manager_resume_begin(&d->m, vi, d->criu.path, &j->start, &j->p, j->run_dir,
                                         sizeof(j->run_dir), err);
        /* criu runs vpsd's own binary to lock the VPS's /proc and /sys (criu_action.c). */
        j->p.lock_helper = "/proc/self/exe";
        if (r == 0)
                r = job_start(d, j, err);
        if (r < 0)
                job_free(j);
        else
                vpsd_log("VPS %s: resuming (criu restore, PID %d, deadline %u s)", vi->cfg.id,
                         (int)j->pid, j->timeout_s);
        return r;
}

int vpsd_route_resume(struct vpsd *d, struct request *req, const char *id, json_t *body,
                      unsigned int *status, json_t **ret, vps_error *err)
{
        (void)status, (void)ret;
        unsigned int timeout_s;
        if (body_timeout(body, &timeout_s, err) < 0)
                return -err->code;
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        int r = vpsd_check_migrated(vi, body, "resume", err);
        if (r < 0)
                return r;
        r = vpsd_resume_vps(d, vi, req, timeout_s, err);
        /* The source of an online migration resumed again: the migration was rolled back. */
        if (r >= 0 && vpsd_migration_pending(id))
                vpsd_migration_end(d, id, true, NULL,
                                   &(vps_error){ECANCELED, "rolled back: resumed here again"});
        return r;
}

/* The child's end: its exit status and what it said (nothing when it became criu). */
static int collect(struct criu_job *j, int *ret_status, vps_error *err)
{
        siginfo_t si = {0};
        while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        *ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        static struct criu_result res;
        if (vps_read_full(j->out_fd, &res, sizeof(res)) == (ssize_t)sizeof(res)) {
                j->frozen_ns = res.frozen_ns;
                if (res.r < 0)
                        *err = res.err;
                return res.r;
        }
        if (j->overran) /* said in full once the VPS is put back (overran_error) */
                return vps_err(err, ETIMEDOUT, "criu was killed at its deadline");
        if (*ret_status == 0)
                return 0;
        return vps_checkpoint_log_error(j->vi->dir_fd, j->resume ? "restore.log" : "dump.log",
                                        *ret_status, err);
}

/* Images no longer needed, removed off the loop. */
static void drop_images(struct vpsd *d, struct vps_inst *vi)
{
        char name[64];
        vps_error e;
        if (vps_trash_rename(vi->dir_fd, VPS_CHECKPOINT_DIR, VPS_CHECKPOINT_DIR, name, sizeof(name),
                             &e) == 0)
                vpsd_trash_sweep_vps(d, vi);
}

/* ETIMEDOUT: "VPS ID: criu dump did not finish within N s (vpsd.conf criu_timeout): killed;
 * OUTCOME". */
static int overran_error(const struct criu_job *j, const char *outcome, vps_error *err)
{
        return vps_err(
                err, ETIMEDOUT, "VPS %s: criu %s did not finish within %u s (%s): killed; %s",
                j->vi->cfg.id, j->resume ? "restore" : "dump", j->timeout_s,
                j->own_timeout ? "the request's timeout" : "vpsd.conf criu_timeout", outcome);
}

/* A dump killed at its deadline: its partial images removed, criu's network lock deleted and
 * the connections it left in repair mode taken out of it (netlock.c) while the tasks are
 * still frozen (on_timer), then the VPS's cgroup thawed (that freeze, and one criu might
 * have asked for). The message says whether the VPS runs on. */
static int dump_killed(struct vpsd *d, struct criu_job *j, vps_error *err)
{
        struct vps_inst *vi = j->vi;
        vps_error e;
        drop_images(d, vi);
        bool runs = vi->status == VPS_RUNNING && !vps_manager_exit_ready(vi);
        if (runs)
                vpsd_criu_net_unlock(vi, true);
        if (vi->st.cgroup[0] && vps_cgroup_thaw(vi->st.cgroup, &e) < 0 && runs)
                vpsd_log("VPS %s: thawing after the killed dump: %s", vi->cfg.id, e.msg);
        return overran_error(j, runs ? "the VPS runs on" : "the VPS had stopped; no images kept",
                             err);
}

static int suspend_end(struct vpsd *d, struct criu_job *j, int r, vps_error *err)
{
        struct vps_inst *vi = j->vi;
        if (r < 0 && j->overran)
                return dump_killed(d, j, err);
        bool runs = vi->status == VPS_RUNNING && !vps_manager_exit_ready(vi);
        if (r < 0 && runs) /* criu unlocks on its own failure, not on a crash */
                vpsd_criu_net_unlock(vi, false);
        if (r < 0)
                return vps_err_wrap(err, "suspending VPS %s (%s)", vi->cfg.id,
                                    runs ? "it runs on" : "it has stopped; no images kept");
        /* criu killed it: reaped now if the loop has not yet seen the exit. */
        if (vi->status != VPS_STOPPED && vps_manager_exit_ready(vi))
                d->vps_exited(d, vi);
        vi->suspended = true;
        vps_inst_touch(&d->m, vi);
        return 0;
}

static int resume_end(struct vpsd *d, struct criu_job *j, int r, vps_error *err)
{
        struct vps_inst *vi = j->vi;
        pid_t pid = r < 0 ? r : vps_checkpoint_restored_pid(vi->dir_fd, err);
        int pidfd = pid < 0 ? -1 : vps_sys_pidfd_open(pid, 0);
        if (pid >= 0 && pidfd < 0)
                r = vps_err_sys(err, errno, "the restored init %d", (int)pid);
        else if (pid < 0)
                r = (int)pid;
        if (r == 0) {
                r = vps_manager_resume_end(j->start, pidfd, pid, err); /* takes pidfd */
                if (r == 0)
                        r = vpsd_watch_vps(d, vi, err);
        }
        if (r < 0 && j->overran) {
                /* What criu restored so far goes (its init is vpsd's child: reaped), then the
                 * host side with the start (job_free); the images stay, host root's again. */
                vps_manager_resume_abort(j->start);
                vps_checkpoint_reclaim(vi->dir_fd);
                return overran_error(j, "it stays suspended, its images kept", err);
        }
        if (r < 0) {
                vps_checkpoint_reclaim(vi->dir_fd);
                return vps_err_wrap(err, "resuming VPS %s (it stays suspended)", vi->cfg.id);
        }
        drop_images(d, vi);
        return 0;
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        (void)revents;
        struct vpsd *d = userdata;
        struct criu_job *j = vpsd_container_of(s, struct criu_job, w_end);
        vpsd_event_del(&d->ev, &j->w_end);
        vpsd_event_del(&d->ev, &j->w_timer);
        struct vps_inst *vi = j->vi;
        struct vps_loop *l = vi->loop_data;
        if (l)
                l->criu = NULL;
        vps_error err = {0};
        int status = 0;
        int r = collect(j, &status, &err);
        r = j->resume ? resume_end(d, j, r, &err) : suspend_end(d, j, r, &err);
        const char *verb = j->resume ? "resume" : "suspend";
        if (r < 0)
                vpsd_log("%s", err.msg);
        else
                vpsd_log("VPS %s %s in %lld ms%s%d", vi->cfg.id,
                         j->resume ? "resumed" : "suspended", (long long)elapsed_ms(j),
                         j->resume ? ", init PID " : "", j->resume ? (int)vi->st.pid : 0);
        vpsd_emit_result(d, verb, vi->cfg.id, r < 0 ? &err : NULL, NULL);
        if (j->req && r < 0)
                vpsd_request_fail(d, j->req, &err);
        else if (j->req) {
                json_t *o = vps_inst_to_json(&d->m, vi);
                /* A suspend's: when the VPS froze for the dump proper (CLOCK_MONOTONIC, ns),
                 * for a migration's downtime after a pre-copy. */
                if (o && !j->resume && j->frozen_ns)
                        json_object_set_new(o, "frozen_at_ns", json_integer(j->frozen_ns));
                vpsd_request_finish(d, j->req, 200, o);
        }
        job_free(j);
}

int vpsd_criu_busy(struct vpsd *d, const char *id, vps_error *err)
{
        vps_error e;
        struct vps_inst *vi = vps_manager_find(&d->m, id, &e);
        struct vps_loop *l = vi ? vi->loop_data : NULL;
        if (!l || !l->criu)
                return 0;
        return vps_err(err, EBUSY, "VPS %s is busy: a %s of it is under way; try again", id,
                       l->criu->resume ? "resume" : "suspend");
}

/* Suspended onboot VPSes waiting for the start-up probe (their IDs). */
static char (*waiting)[VPS_ID_MAX + 1];
static size_t n_waiting;

static void resume_onboot(struct vpsd *d, const char *id)
{
        vps_error err;
        struct vps_inst *vi = vps_manager_find(&d->m, id, &err);
        if (!vi || !vi->suspended)
                return; /* destroyed or resumed meanwhile */
        /* An online migration's fence: its copy on the destination may run. */
        if (vi->cfg.migrated_to[0]) {
                vpsd_log("onboot: VPS %s stays suspended: it was migrated to %s (resume "
                         "--force resumes it here)",
                         id, vi->cfg.migrated_to);
                return;
        }
        if (vpsd_resume_vps(d, vi, NULL, 0, &err) < 0)
                vpsd_log("onboot: VPS %s stays suspended: %s", id, err.msg);
        else
                vpsd_log("onboot: VPS %s resuming", id);
}

void vpsd_resume_onboot(struct vpsd *d, struct vps_inst *vi)
{
        if (d->criu.state != VPS_CRIU_PROBING) {
                resume_onboot(d, vi->cfg.id);
                return;
        }
        void *w = realloc(waiting, (n_waiting + 1) * sizeof(*waiting));
        if (!w) {
                vpsd_log("onboot: VPS %s stays suspended: out of memory", vi->cfg.id);
                return;
        }
        waiting = w;
        (void)snprintf(waiting[n_waiting++], sizeof(*waiting), "%s", vi->cfg.id);
}

void vpsd_criu_probed(struct vpsd *d)
{
        for (size_t i = 0; i < n_waiting; i++)
                resume_onboot(d, waiting[i]);
        free(waiting);
        waiting = NULL;
        n_waiting = 0;
}

bool vpsd_criu_answer_all(struct vpsd *d)
{
        bool any = false;
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_loop *l = d->m.v[i]->loop_data;
                struct criu_job *j = l ? l->criu : NULL;
                if (!j || !j->req)
                        continue;
                vps_error err;
                vps_err(&err, ESHUTDOWN, "vpsd is exiting; the %s of VPS %s is cut short",
                        j->resume ? "resume" : "suspend", j->vi->cfg.id);
                vpsd_request_fail(d, j->req, &err);
                j->req = NULL;
                any = true;
        }
        return any;
}
