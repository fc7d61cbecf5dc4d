/* vpsd: a snapshot's, a switch's, a clone's or a reinstall's copy of a guest's files runs in
 * a child (copy_job.h): a fork of vpsd that does the library's work on its copy of vpsd's
 * state, dies with vpsd (PR_SET_PDEATHSIG), and sends its result on a pipe; the loop watches
 * its pidfd, takes the result in and answers the suspended request (a progress stream gets
 * the child's progress frames first, stream.h). Meanwhile every request but a GET on the
 * VPSes it copies is refused (busy), except a destroy of a VPS whose copy lies inside its own
 * directory (a snapshot, a switch, a reinstall), which kills the child and goes ahead. After
 * a kill -9 of vpsd the child dies too, and what it left is what a crash of the old in-loop
 * code left (vps_snapshot_recover, the reinstall journal, vps/.clone-* at start). */
#include "copy_job.h"

#include "api.h"
#include "events.h"
#include "gated.h"
#include "log.h"
#include "loop.h"
#include "progress_feed.h"
#include "storage/storage.h"
#include "stream.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

struct copy_job {
        struct vpsd_source w_end; /* the child's pidfd */
        pid_t pid;
        int pidfd, out_fd;
        int progress_fd;     /* the request's progress stream, or -1 */
        int feed_fd;         /* the child's end of its progress feed (progress_feed.h), or -1 */
        struct request *req; /* NULL once answered (vpsd exiting) */
        char what[16], id[VPS_ID_MAX + 1], new_id[VPS_ID_MAX + 1];
        bool cancellable, cancelled;
        vpsd_copy_done_fn done;
        json_t *arg;
        struct copy_job *next;
};

/* What the child sends back; well within a pipe's buffer, written once before it exits. */
struct copy_result {
        int r;
        vps_error err;
        char json[16384];
};

static struct copy_job *jobs;

int vpsd_copy_busy(struct vpsd *d, const char *id, bool destroy, vps_error *err)
{
        (void)d;
        for (struct copy_job *j = jobs; j; j = j->next) {
                if (!strcmp(j->new_id, id))
                        return vps_err(err, EBUSY,
                                       "VPS %s is busy: it is being made (a clone of VPS %s); "
                                       "try again when the clone is done",
                                       id, j->id);
                if (strcmp(j->id, id) != 0 || (destroy && j->cancellable))
                        continue;
                return vps_err(err, EBUSY, "VPS %s is busy: a %s of it is under way; try again", id,
                               j->what);
        }
        return 0;
}

void vpsd_copy_cancel(struct vpsd *d, const char *id)
{
        (void)d;
        for (struct copy_job *j = jobs; j; j = j->next)
                if (j->cancellable && !j->cancelled && !strcmp(j->id, id)) {
                        vpsd_log("VPS %s is destroyed: cancelling its %s (PID %d)", id, j->what,
                                 (int)j->pid);
                        j->cancelled = true;
                        (void)vps_sys_pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
                }
}

bool vpsd_copy_running(struct vpsd *d)
{
        (void)d;
        return jobs != NULL;
}

static void on_copy(void *arg, const struct vps_copy_stats *s)
{
        struct vpsd_progress *pr = arg;
        /* done never goes back (a file's data copied may pass its allocated size) */
        pr->bytes = s->bytes > pr->bytes ? s->bytes : pr->bytes;
        pr->files = s->files > pr->files ? s->files : pr->files;
        pr->done = pr->bytes;
        vpsd_progress_update(pr);
}

const struct vps_copy_progress *vpsd_copy_progress_begin(struct vpsd_progress *pr, int dir_fd,
                                                         const char *path,
                                                         struct vps_copy_progress *cb)
{
        if (!pr)
                return NULL;
        struct vps_copy_stats total = {0};
        vps_error e;
        _cleanup_close_ int fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void)vps_tree_usage(fd, &total, &e); /* 0: unknown */
        pr->total = total.bytes;
        vpsd_progress_send(pr);
        *cb = (struct vps_copy_progress){.fn = on_copy, .arg = pr};
        return cb;
}

void vpsd_copy_progress_end(struct vpsd_progress *pr)
{
        if (pr)
                vpsd_progress_end(pr);
}

_Noreturn static void child_main(struct vpsd *d, const struct vpsd_copy_spec *s, int pfd, int feed,
                                 int go, int out)
{
        vpsd_stream_child_setup(); /* dies with vpsd; vpsd's blocked signals unblocked */
        char c;
        if (read(go, &c, 1) != 1) /* the loop could not watch us: nothing is done */
                _exit(1);
        static struct copy_result res;
        json_t *ret = NULL;
        struct vpsd_progress pr = {.fd = pfd, .phase = "copy", .unit = "bytes"};
        vpsd_progress_feed_child(feed);
        res.r = s->child(d, s->arg, pfd >= 0 || feed >= 0 ? &pr : NULL, &ret, &res.err);
        _cleanup_free_ char *text = ret ? json_dumps(ret, JSON_COMPACT) : NULL;
        if (res.r == 0 && text && strlen(text) >= sizeof(res.json))
                res.r = vps_err(&res.err, E2BIG, "the %s's result is too large", s->what);
        else if (res.r == 0 && text)
                memcpy(res.json, text, strlen(text) + 1);
        (void)vps_write_full(out, &res, sizeof(res));
        _exit(0);
}

static void job_free(struct copy_job *j)
{
        vps_closep(&j->pidfd);
        vps_closep(&j->out_fd);
        json_decref(j->arg);
        free(j);
}

static void on_end(struct vpsd_source *src, uint32_t revents, void *userdata);

/* What vpsd_gated_fork hands the child and the watch. */
struct copy_fork {
        struct vpsd *d;
        struct copy_job *j;
        const struct vpsd_copy_spec *s;
};

_Noreturn static void copy_child(void *arg, int go, int out)
{
        struct copy_fork *f = arg;
        child_main(f->d, f->s, f->j->progress_fd, f->j->feed_fd, go, out);
}

static int watch_copy(void *arg, int pidfd, vps_error *err)
{
        struct copy_fork *f = arg;
        vps_error ev;
        if (vpsd_event_add(&f->d->ev, &f->j->w_end, pidfd, EPOLLIN, on_end, f->d, &ev) < 0)
                return vps_err_sys(err, ev.code, "watching the %s's child", f->s->what);
        return 0;
}

static void unwatch_copy(void *arg)
{
        struct copy_fork *f = arg;
        vpsd_event_del(&f->d->ev, &f->j->w_end);
}

static int fork_child(struct vpsd *d, struct copy_job *j, const struct vpsd_copy_spec *s,
                      vps_error *err)
{
        struct copy_fork f = {.d = d, .j = j, .s = s};
        struct vpsd_gated g = {.id = s->id,
                               .what = s->what,
                               .child = copy_child,
                               .watch = watch_copy,
                               .unwatch = unwatch_copy,
                               .arg = &f};
        return vpsd_gated_fork(&g, &j->pid, &j->pidfd, &j->out_fd, err);
}

int vpsd_copy_start(struct vpsd *d, struct request *req, const struct vpsd_copy_spec *s,
                    vps_error *err)
{
        struct copy_job *j = calloc(1, sizeof(*j));
        if (!j)
                return vps_err(err, ENOMEM, "out of memory");
        j->w_end.fd = j->pidfd = j->out_fd = -1;
        j->req = req;
        j->progress_fd = vpsd_request_progress_fd(req);
        j->cancellable = s->cancellable;
        j->done = s->done;
        j->arg = json_incref(s->arg);
        (void)snprintf(j->what, sizeof(j->what), "%s", s->what);
        (void)snprintf(j->id, sizeof(j->id), "%s", s->id);
        (void)snprintf(j->new_id, sizeof(j->new_id), "%s", s->new_id ? s->new_id : "");
        vpsd_progress_feed_open(d, s->id, s->what, &j->feed_fd);
        int r = fork_child(d, j, s, err);
        vps_closep(&j->feed_fd); /* the child's alone: its end closes when it exits */
        if (r < 0) {
                job_free(j);
                return r;
        }
        j->next = jobs;
        jobs = j;
        return 1;
}

/* Reaps the child; its result, or why there is none. */
static int collect(struct copy_job *j, json_t **ret, vps_error *err)
{
        siginfo_t si = {0};
        while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        static struct copy_result res;
        if (j->cancelled)
                return vps_err(err, ECANCELED, "VPS %s was destroyed: its %s was cancelled", j->id,
                               j->what);
        if (vps_read_full(j->out_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
                return vps_err(err, EIO, "VPS %s: the %s's child ended abnormally (%s %d)", j->id,
                               j->what, si.si_code == CLD_EXITED ? "status" : "signal",
                               si.si_status);
        if (res.r < 0) {
                *err = res.err;
                return res.r;
        }
        *ret = res.json[0] ? json_loads(res.json, 0, NULL) : NULL;
        return 0;
}

/* The event of a copy's end: snapshot, switch, reinstall or clone, done or failed. */
static void emit_end(struct vpsd *d, const struct copy_job *j, const vps_error *err, json_t *ret)
{
        json_t *extra = json_object();
        const char *name = json_string_value(json_object_get(ret, "name"));
        if (extra && j->new_id[0])
                json_object_set_new(extra, "to", json_string(j->new_id));
        else if (extra && name && !err)
                json_object_set_new(extra, "name", json_string(name));
        vpsd_emit_result(d, j->what, j->id, err, extra);
        if (!err && j->new_id[0])
                vpsd_emit(d, "created", j->new_id, NULL);
}

static void on_end(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        (void)revents;
        struct vpsd *d = userdata;
        struct copy_job *j = vpsd_container_of(src, struct copy_job, w_end);
        vpsd_event_del(&d->ev, &j->w_end);
        for (struct copy_job **p = &jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        vps_error err = {0};
        _cleanup_json_ json_t *result = NULL;
        int r = collect(j, &result, &err);
        /* A child killed while it held the VPS frozen must not leave it so (unless the VPS
         * was paused before: it stays paused). */
        struct vps_inst *vi = r < 0 ? vps_manager_find(&d->m, j->id, &(vps_error){0}) : NULL;
        if (vi && vi->status == VPS_RUNNING && vi->st.cgroup[0] && !vi->st.paused)
                (void)vps_cgroup_thaw(vi->st.cgroup, &(vps_error){0});
        unsigned int status = 200;
        json_t *ret = NULL;
        r = j->done(d, j->arg, r, result, &status, &ret, &err);
        emit_end(d, j, r < 0 ? &err : NULL, ret);
        if (j->req && r < 0)
                vpsd_request_fail(d, j->req, &err);
        else if (j->req)
                vpsd_request_finish(d, j->req, status, ret);
        else
                json_decref(ret);
        job_free(j);
}

bool vpsd_copy_answer_all(struct vpsd *d)
{
        bool any = false;
        for (struct copy_job *j = jobs; j; j = j->next) {
                if (!j->req)
                        continue;
                vps_error err;
                vps_err(&err, ESHUTDOWN,
                        "vpsd is exiting; the %s of VPS %s is cut short (a vpsd that starts "
                        "removes what it made)",
                        j->what, j->id);
                vpsd_request_fail(d, j->req, &err);
                j->req = NULL;
                any = true;
        }
        return any;
}
