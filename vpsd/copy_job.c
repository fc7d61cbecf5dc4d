/* vpsd: copies of a guest's tree (as big and as deep as its guest made it) in a child process,
 * so that the loop serves every other request meanwhile: a clone's, a snapshot's
 * and a switch's (copy_routes.c). The loop prepares (names, directories), starts the child,
 * watches its pidfd and, when it ends, finishes (a rename) and answers the request. The VPSes
 * involved are busy meanwhile: changes, snapshots, backups, starts and destroys are refused (a
 * stop goes ahead). The child dies with vpsd (PR_SET_PDEATHSIG); the next vpsd removes what it
 * left and thaws a VPS left frozen (vps_snapshot_recover). */
#include "copy_job.h"

#include "api.h"
#include "log.h"
#include "loop.h"
#include "vpsd.h"
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct copy_job {
        struct vpsd_source w;
        int pidfd, out_fd;
        struct request *req; /* NULL once answered (vpsd exiting) */
        struct vps_inst *a, *b;
        vpsd_copy_end_fn end;
        void *arg;
        struct copy_job *next;
};

/* What the child sends back. */
struct copy_result {
        int r;
        vps_error err;
        struct vps_capture cap;
};

int vpsd_copy_check_busy(const struct vpsd *d, const struct vps_inst *vi, vps_error *err)
{
        for (const struct copy_job *j = d->copies; vi && j; j = j->next)
                if (j->a == vi || j->b == vi)
                        return vps_err(err, EBUSY,
                                       "VPS %s is busy: a copy of its files is under way",
                                       vi->cfg.id);
        return 0;
}

static _Noreturn void child_main(struct vpsd *d, vpsd_copy_fn fn, void *arg, pid_t parent, int out)
{
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);
        (void)prctl(PR_SET_NAME, "vpsd-copy");
        static struct copy_result res;
        res.r = fn(d, arg, &res.cap, &res.err);
        ssize_t n = write(out, &res, sizeof(res));
        _exit(n == (ssize_t)sizeof(res) ? 0 : 1);
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        (void)revents;
        struct vpsd *d = userdata;
        struct copy_job *j = vpsd_container_of(s, struct copy_job, w);
        vpsd_event_del(&d->ev, &j->w);
        for (struct copy_job **p = &d->copies; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        siginfo_t si = {0};
        while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        static struct copy_result res;
        memset(&res, 0, sizeof(res));
        if (vps_read_full(j->out_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
                res.r = vps_err(&res.err, EIO, "the copy ended abnormally (%s %d)",
                                si.si_code == CLD_EXITED ? "exit" : "signal", si.si_status);
        vps_closep(&j->pidfd);
        vps_closep(&j->out_fd);
        j->end(d, j->arg, j->req, res.r, &res.err, &res.cap);
        free(j);
}

int vpsd_copy_start(struct vpsd *d, struct request *req, struct vps_inst *a, struct vps_inst *b,
                    vpsd_copy_fn fn, vpsd_copy_end_fn end, void *arg, vps_error *err)
{
        struct copy_job *j = calloc(1, sizeof(*j));
        if (!j)
                return vps_err(err, ENOMEM, "out of memory");
        *j = (struct copy_job){
                .pidfd = -1, .out_fd = -1, .req = req, .a = a, .b = b, .end = end, .arg = arg};
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0) {
                free(j);
                return vps_err_sys(err, errno, "pipe");
        }
        j->out_fd = out[0];
        pid_t parent = getpid();
        struct clone_args args = {.flags = CLONE_PIDFD,
                                  .pidfd = (uint64_t)(uintptr_t)&j->pidfd,
                                  .exit_signal = SIGCHLD};
        (void)fflush(NULL);
        pid_t pid = vps_sys_clone3(&args);
        if (pid == 0) {
                close(out[0]);
                child_main(d, fn, arg, parent, out[1]);
        }
        close(out[1]);
        int r = pid < 0 ? vps_err_sys(err, errno, "starting the copy") : 0;
        if (r == 0 && vpsd_event_add(&d->ev, &j->w, j->pidfd, EPOLLIN, on_end, d, err) < 0) {
                (void)vps_sys_pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
                while (waitid(P_PIDFD, (id_t)j->pidfd, &(siginfo_t){0}, WEXITED) < 0 &&
                       errno == EINTR)
                        ;
                r = -err->code;
        }
        if (r < 0) {
                vps_closep(&j->pidfd);
                vps_closep(&j->out_fd);
                free(j);
                return r;
        }
        j->next = d->copies;
        d->copies = j;
        return 1;
}

bool vpsd_copy_answer_all(struct vpsd *d)
{
        vps_error err;
        vps_err(&err, ESHUTDOWN, "vpsd is exiting; the copy is not finished");
        bool any = false;
        for (struct copy_job *j = d->copies; j; j = j->next)
                if (j->req) {
                        vpsd_request_fail(d, j->req, &err);
                        j->req = NULL;
                        any = true;
                }
        return any;
}
