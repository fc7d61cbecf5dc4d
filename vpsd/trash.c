/* vpsd: a guest's files removed by a child process (libvps rmtree.c), watched by the loop.
 * The guest chose their size and depth, and nothing a guest can slow down is waited for in
 * the loop. Whatever drops such a tree first renames it to a trash name (VPS_TRASH_PREFIX,
 * one rename: the visible state is final at once) next to where it was: vps/.del-ID for a
 * destroy, templates/.del-NAME, vps/ID/snapshots/.del-NAME and vps/ID/.del-upper for a
 * template remove, a snapshot delete, a switch or a reinstall. A destroy's DELETE is answered
 * when the child is done; the others are answered at the rename. The leftovers of a vpsd
 * that died meanwhile (the child dies with it) are taken up again at start-up. */
#include "trash.h"

#include "events.h"
#include "api.h"
#include "log.h"
#include "vps/cleanup.h"
#include "storage/storage.h"
#include "vps/syscalls.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

struct trash_job {
        struct vpsd_source w;
        struct vps_rm_job job;
        dev_t dev; /* the directory it is in */
        ino_t ino;
        char where[600]; /* that directory, for the log: vps, vps/ID/snapshots, a cgroup */
        char name[NAME_MAX + 1];
        char id[VPS_ID_MAX + 1]; /* a destroy's VPS, for the answer ("" otherwise) */
        uint32_t projid;         /* a destroy's disk project, released when done */
        struct request *waiters;
        struct trash_job *next;
};

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata);

static bool running(struct vpsd *d, const struct stat *dir, const char *name)
{
        for (struct trash_job *t = d->trash; t; t = t->next)
                if (t->dev == dir->st_dev && t->ino == dir->st_ino && strcmp(t->name, name) == 0)
                        return true;
        return false;
}

/* 1 when a child now removes dir_fd/name, 0 when one did already. */
static int trash_start(struct vpsd *d, int dir_fd, const char *where, const char *name,
                       unsigned int flags, const char *id, uint32_t projid, struct request *waiters,
                       vps_error *err)
{
        struct stat dir;
        if (fstat(dir_fd, &dir) < 0)
                return vps_err_sys(err, errno, "stat %s", where);
        if (running(d, &dir, name))
                return 0;
        struct trash_job *t = calloc(1, sizeof(*t));
        if (!t)
                return vps_err(err, ENOMEM, "out of memory");
        t->dev = dir.st_dev;
        t->ino = dir.st_ino;
        (void)snprintf(t->where, sizeof(t->where), "%s", where);
        (void)snprintf(t->name, sizeof(t->name), "%s", name);
        (void)snprintf(t->id, sizeof(t->id), "%s", id);
        t->projid = projid;
        int r = vps_rm_start(dir_fd, name, flags, &t->job, err);
        vps_error ev_err;
        if (r == 0 &&
            vpsd_event_add(&d->ev, &t->w, t->job.pidfd, EPOLLIN, on_end, d, &ev_err) < 0) {
                r = vps_err_sys(err, ev_err.code, "watching the removal of %s/%s", where, name);
                vps_error e;
                (void)vps_sys_pidfd_send_signal(t->job.pidfd, SIGKILL, NULL, 0);
                (void)vps_rm_finish(&t->job, &e);
        }
        if (r < 0) {
                free(t);
                return r;
        }
        t->waiters = waiters;
        t->next = d->trash;
        d->trash = t;
        return 1;
}

int vpsd_destroy(struct vpsd *d, struct vps_inst *vi, struct request *waiters, vps_error *err)
{
        char trash[VPS_ID_MAX + 16], id[VPS_ID_MAX + 1];
        (void)snprintf(id, sizeof(id), "%s", vi->cfg.id);
        uint32_t projid;
        if (vi->status == VPS_STOPPED)
                vps_snapshot_umount_all(&d->m, vi); /* its snapshots shown on host dirs */
        int r = vps_manager_unlink(&d->m, vi, trash, sizeof(trash), &projid, err);
        if (r < 0)
                return r;
        vpsd_log("VPS %s destroyed; removing its files (vps/%s)", id, trash);
        vpsd_emit(d, "destroyed", id, NULL);
        vps_error te;
        if (vpsd_token_forget_vps(&d->auth, id, &te) < 0)
                vpsd_log("VPS %s: dropping it from the tokens: %s", id, te.msg);
        r = trash_start(d, d->m.vps_fd, "vps", trash, 0, id, projid, waiters, err);
        if (r < 0)
                return vps_err_wrap(err,
                                    "VPS %s is gone, but its files stay in vps/%s until vpsd "
                                    "starts again",
                                    id, trash);
        return 1;
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        (void)revents;
        struct vpsd *d = userdata;
        struct trash_job *t = vpsd_container_of(s, struct trash_job, w);
        vpsd_event_del(&d->ev, &t->w);
        vps_error err;
        int r = vps_rm_finish(&t->job, &err);
        if (r < 0)
                vpsd_log("removing %s/%s: %s (tried again when vpsd starts)", t->where, t->name,
                         err.msg);
        else
                vpsd_log("%s/%s removed", t->where, t->name);
        if (r == 0 && t->projid)
                vps_disk_release(&d->m, t->projid);
        for (struct request *q = t->waiters, *next; q; q = next) {
                next = vpsd_request_next(q);
                if (r < 0)
                        vpsd_request_fail(d, q, &err);
                else
                        vpsd_request_finish(d, q, 200,
                                            json_pack("{s:s, s:b}", "id", t->id, "destroyed", 1));
        }
        for (struct trash_job **p = &d->trash; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        break;
                }
        free(t);
}

/* The project id of a VPS whose files are in the trash, for its quota's release. */
static uint32_t trash_projid(struct vpsd *d, const char *name)
{
        _cleanup_close_ int fd =
                openat(d->m.vps_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct vps_config cfg;
        vps_error e;
        return fd >= 0 && vps_config_load(fd, &cfg, &e) == 0 ? cfg.projid : 0;
}

/* Each .del-* in dir_fd not being removed yet: a child for it. In vps/ (destroy is true) the
 * project of each is released once it is gone. */
static void sweep(struct vpsd *d, int dir_fd, const char *where, bool destroyed)
{
        _cleanup_closedir_ DIR *dir = vps_opendir_fd(dir_fd);
        if (dir)
                rewinddir(dir); /* the offset is dir_fd's, which a walk may have left anywhere */
        struct dirent *de;
        size_t plen = strlen(VPS_TRASH_PREFIX);
        while (dir && (de = readdir(dir))) {
                if (strncmp(de->d_name, VPS_TRASH_PREFIX, plen) != 0)
                        continue;
                vps_error err;
                uint32_t projid = destroyed ? trash_projid(d, de->d_name) : 0;
                int r = trash_start(d, dir_fd, where, de->d_name, 0, "", projid, NULL, &err);
                if (r < 0)
                        vpsd_log("removing %s/%s: %s", where, de->d_name, err.msg);
                else if (r > 0)
                        vpsd_log("removing %s/%s", where, de->d_name);
        }
}

void vpsd_trash_sweep_vps(struct vpsd *d, struct vps_inst *vi)
{
        char where[VPS_ID_MAX + 32];
        (void)snprintf(where, sizeof(where), "vps/%s", vi->cfg.id);
        sweep(d, vi->dir_fd, where, false);
        _cleanup_close_ int snaps =
                openat(vi->dir_fd, "snapshots", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        (void)snprintf(where, sizeof(where), "vps/%s/snapshots", vi->cfg.id);
        if (snaps >= 0)
                sweep(d, snaps, where, false);
}

void vpsd_trash_sweep_templates(struct vpsd *d)
{
        sweep(d, d->m.tpl_fd, "templates", false);
}

void vpsd_trash_cgroup(struct vpsd *d, const char *id)
{
        _cleanup_close_ int fd =
                open(d->m.cg.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        vps_error err;
        int r = fd < 0 ? vps_err_sys(&err, errno, "opening %s", d->m.cg.parent)
                       : trash_start(d, fd, d->m.cg.parent, id, VPS_RM_CGROUP, "", 0, NULL, &err);
        if (r < 0)
                vpsd_log("removing cgroup %s/%s: %s (tried again at its next start)",
                         d->m.cg.parent, id, err.msg);
        else if (r > 0)
                vpsd_log("removing cgroup %s/%s off the loop", d->m.cg.parent, id);
}

void vpsd_trash_resume(struct vpsd *d)
{
        sweep(d, d->m.vps_fd, "vps", true);
        vpsd_trash_sweep_templates(d);
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_inst *vi = d->m.v[i];
                vpsd_trash_sweep_vps(d, vi);
                /* A stopped VPS's cgroups that a stop left (out of time) */
                char cg[1024];
                (void)snprintf(cg, sizeof(cg), "%s/%s", d->m.cg.parent, vi->cfg.id);
                if (vi->status == VPS_STOPPED && access(cg, F_OK) == 0 && !vps_cgroup_populated(cg))
                        vpsd_trash_cgroup(d, vi->cfg.id);
        }
}

bool vpsd_trash_answer_all(struct vpsd *d)
{
        vps_error e, *err = &e;
        vps_err(err, ESHUTDOWN,
                "vpsd is exiting; the VPS's files are removed when it starts again");
        bool any = false;
        for (struct trash_job *t = d->trash; t; t = t->next) {
                for (struct request *q = t->waiters, *next; q; q = next) {
                        next = vpsd_request_next(q);
                        vpsd_request_fail(d, q, err);
                        any = true;
                }
                t->waiters = NULL;
        }
        return any;
}
