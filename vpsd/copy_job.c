/* vpsd: the copy of a clone (vps_clone_fill: the source's upper layer, as big and as deep as its
 * guest made it) in a child process, so that the loop serves every other request meanwhile.
 * The loop makes the new VPS (hidden as vps/.clone-NEWID), starts the child, watches its pidfd
 * and, when it ends, publishes the clone and answers the POST (201), or destroys it. Both VPSes
 * are busy meanwhile: changes, starts and destroys of them are refused (a stop of a running
 * source goes ahead). The child dies with vpsd (PR_SET_PDEATHSIG); the next vpsd removes the
 * hidden copy and thaws a source left frozen (vps_snapshot_recover). */
#include "clone_job.h"

#include "api.h"
#include "log.h"
#include "loop.h"
#include "trash.h"
#include "vpsd.h"
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct clone_job {
        struct vpsd_source w;
        int pidfd, out_fd;
        struct request *req; /* NULL once answered (vpsd exiting) */
        struct vps_inst *src, *dst;
        struct clone_job *next;
};

/* What the child sends back. */
struct clone_result {
        int r;
        vps_error err;
        struct vps_capture cap;
};

static bool is_busy(const struct vpsd *d, const struct vps_inst *vi)
{
        for (const struct clone_job *j = d->clones; j; j = j->next)
                if (j->src == vi || j->dst == vi)
                        return true;
        return false;
}

int vpsd_clone_check_busy(const struct vpsd *d, const struct vps_inst *vi, vps_error *err)
{
        if (vi && is_busy(d, vi))
                return vps_err(err, EBUSY, "VPS %s is busy: a clone of it or to it is under way",
                               vi->cfg.id);
        return 0;
}

static _Noreturn void child_main(struct vpsd *d, struct vps_inst *src, struct vps_inst *dst,
                                 pid_t parent, int out)
{
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);
        (void)prctl(PR_SET_NAME, "vpsd-clone");
        static struct clone_result res;
        res.r = vps_clone_fill(&d->m, src, dst, &res.cap, &res.err);
        ssize_t n = write(out, &res, sizeof(res));
        _exit(n == (ssize_t)sizeof(res) ? 0 : 1);
}

/* The new VPS's loop state, before a destroy: it never ran (a start is refused while it is
 * filled), so nothing of it is watched. */
static void forget(struct vps_inst *vi)
{
        free(vi->loop_data);
        vi->loop_data = NULL;
}

static void job_unlink(struct vpsd *d, struct clone_job *j)
{
        for (struct clone_job **p = &d->clones; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
}

/* The clone's outcome: published, or (failed) published and destroyed off the loop. */
static int collect(struct vpsd *d, struct clone_job *j, struct clone_result *res, vps_error *err)
{
        siginfo_t si = {0};
        while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        int r = vps_read_full(j->out_fd, res, sizeof(*res)) == (ssize_t)sizeof(*res)
                        ? res->r
                        : vps_err(err, EIO, "cloning VPS %s to %s: the copy ended abnormally",
                                  j->src->cfg.id, j->dst->cfg.id);
        if (r < 0 && res->r < 0)
                *err = res->err;
        /* The child saved the clone's settings (take_settings): config.json has them. */
        struct vps_config c;
        vps_error e;
        if (vps_config_load(j->dst->dir_fd, &c, &e) == 0)
                j->dst->cfg = c;
        int p = vps_clone_publish(&d->m, j->dst, r < 0 ? &e : err);
        return r < 0 ? r : p;
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        (void)revents;
        struct vpsd *d = userdata;
        struct clone_job *j = vpsd_container_of(s, struct clone_job, w);
        vpsd_event_del(&d->ev, &j->w);
        job_unlink(d, j);
        static struct clone_result res;
        memset(&res, 0, sizeof(res));
        vps_error err = {0};
        int r = collect(d, j, &res, &err);
        char src[VPS_ID_MAX + 1], dst[VPS_ID_MAX + 1];
        (void)snprintf(src, sizeof(src), "%s", j->src->cfg.id);
        (void)snprintf(dst, sizeof(dst), "%s", j->dst->cfg.id);
        json_t *ret = NULL;
        if (r == 0) {
                vpsd_log("VPS %s cloned to %s: frozen %.2f ms, %llu files, %.2f ms in all", src,
                         dst, (double)res.cap.frozen_us / 1000.0,
                         (unsigned long long)res.cap.copy.files, (double)res.cap.total_us / 1000.0);
                ret = vps_inst_to_json(&d->m, j->dst);
                if (ret)
                        json_object_set_new(ret, "frozen_ms",
                                            json_real((double)(res.cap.frozen_us / 10) / 100.0));
        } else {
                vpsd_log("VPS %s: %s", src, err.msg);
                /* Its files (a part of the source's) go off the loop. */
                vps_error e;
                forget(j->dst);
                if (vpsd_destroy(d, j->dst, NULL, &e) < 0)
                        vpsd_log("VPS %s: %s", dst, e.msg);
        }
        if (j->req && r < 0)
                vpsd_request_fail(d, j->req, &err);
        else if (j->req)
                vpsd_request_finish(d, j->req, 201, ret);
        else
                json_decref(ret);
        vps_closep(&j->pidfd);
        vps_closep(&j->out_fd);
        free(j);
}

int vpsd_clone_start(struct vpsd *d, struct request *req, struct vps_inst *src,
                     struct vps_inst *dst, vps_error *err)
{
        struct clone_job *j = calloc(1, sizeof(*j));
        int out[2] = {-1, -1};
        int r = !j                          ? vps_err(err, ENOMEM, "out of memory")
                : pipe2(out, O_CLOEXEC) < 0 ? vps_err_sys(err, errno, "pipe")
                                            : 0;
        pid_t pid = -1;
        if (r == 0) {
                *j = (struct clone_job){
                        .pidfd = -1, .out_fd = out[0], .req = req, .src = src, .dst = dst};
                pid_t parent = getpid();
                struct clone_args args = {.flags = CLONE_PIDFD,
                                          .pidfd = (uint64_t)(uintptr_t)&j->pidfd,
                                          .exit_signal = SIGCHLD};
                (void)fflush(NULL);
                pid = vps_sys_clone3(&args);
                if (pid == 0) {
                        close(out[0]);
                        child_main(d, src, dst, parent, out[1]);
                }
                if (pid < 0)
                        r = vps_err_sys(err, errno, "starting the copy");
        }
        vps_closep(&out[1]);
        if (r == 0 && vpsd_event_add(&d->ev, &j->w, j->pidfd, EPOLLIN, on_end, d, err) < 0) {
                (void)vps_sys_pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
                while (waitid(P_PIDFD, (id_t)j->pidfd, &(siginfo_t){0}, WEXITED) < 0 &&
                       errno == EINTR)
                        ;
                r = -err->code;
        }
        if (r < 0) {
                if (j) {
                        vps_closep(&j->pidfd);
                        vps_closep(&j->out_fd);
                }
                free(j);
                vps_error e;
                if (vps_clone_publish(&d->m, dst, &e) == 0) {
                        forget(dst);
                        (void)vpsd_destroy(d, dst, NULL, &e);
                }
                return vps_err_wrap(err, "cloning VPS %s", src->cfg.id);
        }
        j->next = d->clones;
        d->clones = j;
        return 1;
}

bool vpsd_clone_answer_all(struct vpsd *d)
{
        vps_error err;
        vps_err(&err, ESHUTDOWN, "vpsd is exiting; the clone is not made");
        bool any = false;
        for (struct clone_job *j = d->clones; j; j = j->next)
                if (j->req) {
                        vpsd_request_fail(d, j->req, &err);
                        j->req = NULL;
                        any = true;
                }
        return any;
}
