/* vpsd: changes that enter a running guest (its files, its hostname, its eth0) run as jobs,
 * children of vpsd, so no guest can make the loop wait (a FUSE mount over its / that never
 * answers). Each step that enters the guest is killed at the guest_timeout deadline
 * (runtime/sandbox/helper.c) and the change's own undo runs, in the child; the loop watches the
 * child's pidfd and answers the request when it ends, with what it changed of vpsd's state. */
#include "jobs.h"

#include "api.h"
#include "events.h"
#include "gated.h"
#include "log.h"
#include "vps/cleanup.h"
#include "vps/nsrun.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "netsetup/netsetup.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* A job's steps are all bounded by its deadline (plus a grace for an undo), so the timer
 * that kills the child this long after the deadline only catches a bug. */
#define JOB_SLACK_S 10

struct job {
        struct vpsd_source w_end, w_timer; /* the child's pidfd; the timer owns its fd */
        pid_t pid;
        int pidfd, out_fd;
        struct request *req; /* NULL once answered (vpsd exiting) */
        struct vps_inst *vi;
        bool addresses, overran;
};

/* What the child sends back: the state it changed in its copy of vpsd. */
struct job_result {
        int r;
        vps_error err;
        struct vps_config cfg;
        struct vps_netconf net;
        char warning[sizeof(((struct vps_manager *)0)->warning)];
};

int vpsd_job_check_busy(struct vpsd *d, const struct vps_inst *vi, bool addresses, vps_error *err)
{
        struct vps_loop *l = vi ? vi->loop_data : NULL;
        if (l && l->job)
                return vps_err(err, EBUSY,
                               "VPS %s is busy: a change to it is under way (for up to %u s); "
                               "try again",
                               vi->cfg.id, d->guest_timeout);
        if (addresses && d->address_jobs)
                return vps_err(err, EBUSY,
                               "an address change of another VPS is under way (for up to %u s); "
                               "try again",
                               d->guest_timeout);
        return 0;
}

_Noreturn static void job_main(struct vpsd *d, struct vps_inst *vi, vpsd_job_fn fn, void *arg,
                               int go, int out)
{
        char c;
        if (read(go, &c, 1) != 1) /* the loop could not watch us: nothing is done */
                _exit(1);
        ns_nft_forget_context(); /* its netlink socket is the daemon's too */
        vps_helper_deadline(d->guest_timeout);
        static struct job_result res;
        res.r = fn(d, vi, arg, &res.err);
        res.cfg = vi->cfg;
        res.net = d->m.net;
        memcpy(res.warning, d->m.warning, sizeof(res.warning));
        (void)vps_write_full(out, &res, sizeof(res));
        _exit(0);
}

static void job_free(struct vpsd *d, struct job *j)
{
        vps_closep(&j->pidfd);
        vps_closep(&j->out_fd);
        vpsd_timer_free(&d->ev, &j->w_timer);
        free(j);
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata);
static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata);

/* What vpsd_gated_fork hands the child and the watch. */
struct job_fork {
        struct vpsd *d;
        struct job *j;
        vpsd_job_fn fn;
        void *arg;
};

_Noreturn static void job_child(void *arg, int go, int out)
{
        struct job_fork *f = arg;
        job_main(f->d, f->j->vi, f->fn, f->arg, go, out);
}

static int watch_job(void *arg, int pidfd, vps_error *err)
{
        struct job_fork *f = arg;
        int r = vpsd_timer_set(&f->j->w_timer, (int64_t)(f->d->guest_timeout + JOB_SLACK_S) * 1000,
                               false, err);
        if (r < 0)
                return r;
        return vpsd_event_add(&f->d->ev, &f->j->w_end, pidfd, EPOLLIN, on_end, f->d, err);
}

static void unwatch_job(void *arg)
{
        struct job_fork *f = arg;
        vpsd_event_del(&f->d->ev, &f->j->w_end);
}

int vpsd_job_start(struct vpsd *d, struct request *req, struct vps_inst *vi, bool addresses,
                   vpsd_job_fn fn, void *arg, vps_error *err)
{
        struct vps_loop *l = vi->loop_data;
        if (!l || vi->status == VPS_STOPPED)
                return vps_err(err, EALREADY, "VPS %s is not running", vi->cfg.id);
        int r = vpsd_job_check_busy(d, vi, addresses, err);
        if (r < 0)
                return r;
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return vps_err(err, ENOMEM, "out of memory");
        *j = (struct job){.w_end = {.fd = -1},
                          .pidfd = -1,
                          .out_fd = -1,
                          .req = req,
                          .vi = vi,
                          .addresses = addresses};
        vps_error e;
        if (vpsd_timer_new(&d->ev, &j->w_timer, on_timer, d, &e) < 0) {
                r = vps_err_sys(err, e.code, "VPS %s: preparing the change", vi->cfg.id);
                job_free(d, j);
                return r;
        }
        struct job_fork f = {.d = d, .j = j, .fn = fn, .arg = arg};
        struct vpsd_gated g = {.id = vi->cfg.id,
                               .what = "change",
                               .child = job_child,
                               .watch = watch_job,
                               .unwatch = unwatch_job,
                               .arg = &f};
        r = vpsd_gated_fork(&g, &j->pid, &j->pidfd, &j->out_fd, err);
        if (r < 0) {
                job_free(d, j);
                return r;
        }
        l->job = j;
        if (addresses)
                d->address_jobs++;
        return 1;
}

/* Reaps the child and takes back what it changed; the answer to its request. */
static int job_collect(struct vpsd *d, struct job *j, json_t **ret, vps_error *err)
{
        siginfo_t si = {0};
        while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        static struct job_result res;
        struct vps_inst *vi = j->vi;
        if (vps_read_full(j->out_fd, &res, sizeof(res)) != (ssize_t)sizeof(res)) {
                /* Killed or crashed halfway: config.json says what it saved. */
                struct vps_config c;
                vps_error e;
                if (vps_config_load(vi->dir_fd, &c, &e) == 0)
                        vi->cfg = c;
                return vps_err(err, j->overran ? ETIMEDOUT : EIO,
                               "VPS %s: the change %s; its settings are what config.json says "
                               "(restart the VPS to be sure it runs with them)",
                               vi->cfg.id,
                               j->overran ? "overran its deadline and was killed"
                                          : "ended abnormally");
        }
        vi->cfg = res.cfg;
        /* Set up by the child (idempotent steps): not to be redone, nor forgotten. */
        d->m.net.ready |= res.net.ready;
        d->m.net.routed_ready |= res.net.routed_ready;
        d->m.net.v6_ready |= res.net.v6_ready;
        if (!d->m.net.mtu)
                d->m.net.mtu = res.net.mtu;
        if (res.r < 0) {
                *err = res.err;
                return res.r;
        }
        *ret = vps_inst_to_json(&d->m, vi);
        if (res.warning[0]) {
                vpsd_log("VPS %s: warning: %s", vi->cfg.id, res.warning);
                if (*ret)
                        json_object_set_new(*ret, "warning", json_string(res.warning));
        }
        return 0;
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct job *j = vpsd_container_of(s, struct job, w_end);
        vpsd_event_del(&d->ev, &j->w_end);
        vpsd_event_del(&d->ev, &j->w_timer);
        json_t *ret = NULL;
        vps_error err = {0};
        int r = job_collect(d, j, &ret, &err);
        if (r < 0)
                vpsd_log("%s", err.msg);
        if (j->req && r < 0)
                vpsd_request_fail(d, j->req, &err);
        else if (j->req)
                vpsd_request_finish(d, j->req, 200, ret);
        else
                json_decref(ret);
        struct vps_inst *vi = j->vi;
        /* As a change made in the loop is announced (handlers.c patch_vps): a job is a change
         * to a running guest (its hostname, addresses, logins), done once the child is. */
        if (r == 0)
                vpsd_emit(d, "changed", vi->cfg.id, NULL);
        struct vps_loop *l = vi->loop_data;
        if (j->addresses)
                d->address_jobs--;
        l->job = NULL;
        job_free(d, j);
        if (l->exit_deferred) {
                l->exit_deferred = false;
                d->vps_exited(d, vi);
        }
}

static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct job *j = vpsd_container_of(s, struct job, w_timer);
        vpsd_log("VPS %s: a change overran its deadline by %d s: killing its job (PID %d)",
                 j->vi->cfg.id, JOB_SLACK_S, (int)j->pid);
        vpsd_event_del(&d->ev, &j->w_timer);
        j->overran = true;
        (void)vps_sys_pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
}

bool vpsd_job_answer_all(struct vpsd *d)
{
        bool any = false;
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_loop *l = d->m.v[i]->loop_data;
                struct job *j = l ? l->job : NULL;
                if (!j || !j->req)
                        continue;
                vps_error err;
                vps_err(&err, ESHUTDOWN, "vpsd is exiting; the change to VPS %s goes on (PID %d)",
                        j->vi->cfg.id, (int)j->pid);
                vpsd_request_fail(d, j->req, &err);
                j->req = NULL;
                any = true;
        }
        return any;
}
