/* libvps: the freeze-and-capture primitive behind snapshots and backups
 * (vps_capture_upper): a running VPS is frozen through cgroup.freeze (a core file of cgroup
 * v2, there without any controller) while its upper layer is captured, then thawed on every
 * path, then the copy is flushed; the frozen time is measured. The copy is made while it runs
 * and only brought up to date while frozen (vps_tree_copy_live), so that time follows what it
 * changed.
 * A process frozen is stopped at its return to user space, so a write(2) it had begun is
 * whole in the copy or absent from it. */
#include "storage/storage.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define FREEZE_TIMEOUT_MS 5000

/* A running VPS: its upper layer copied while it runs, then frozen for the catch-up only
 * (what it changed meanwhile), thawed on every path, and the copy flushed after the thaw:
 * the copy is whole the moment the catch-up ends and the guest's later writes go to its own
 * files, not to the copy's, so its flush need not keep the guest waiting. */
static int capture_running(struct vps_inst *vi, int src, int dst_fd, const struct vps_copy_opts *o,
                           struct vps_capture *ret, vps_error *err)
{
        _cleanup_(vps_live_copy_freep) struct vps_live_copy *lc = NULL;
        int r = vps_tree_copy_live(src, dst_fd, o, &lc, err);
        /* Most of the data reaches the disk before the freeze, so that the journal is not busy
         * writing it while the catch-up runs. */
        if (r == 0 && syncfs(dst_fd) < 0)
                r = vps_err_sys(err, errno, "flushing the copy");
        if (r < 0)
                return r;
        uint64_t t0 = now_us();
        /* A paused VPS is frozen already, and stays so (vpsctl unpause thaws it). */
        bool paused = vi->st.paused;
        if (!paused && (r = vps_cgroup_freeze(vi->st.cgroup, FREEZE_TIMEOUT_MS, err)) < 0)
                return vps_err_wrap(err, "freezing VPS %s", vi->cfg.id);
        r = vps_tree_copy_catch_up(lc, &ret->copy, err);
        vps_error e;
        int t = paused ? 0 : vps_cgroup_thaw(vi->st.cgroup, &e);
        ret->frozen_us = now_us() - t0;
        if (t < 0 && r == 0) {
                *err = e;
                r = t;
        }
        if (r == 0 && syncfs(dst_fd) < 0)
                r = vps_err_sys(err, errno, "flushing the copy");
        return r;
}

int vps_capture_upper(struct vps_manager *m, struct vps_inst *vi, int dst_fd,
                      const struct vps_copy_opts *o, struct vps_capture *ret, vps_error *err)
{
        (void)m;
        *ret = (struct vps_capture){0};
        if (vi->status == VPS_STOPPING)
                return vps_err(err, EBUSY, "VPS %s is stopping; try again when it has stopped",
                               vi->cfg.id);
        _cleanup_close_ int src =
                openat(vi->dir_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0)
                return vps_err_sys(err, errno, "opening the upper layer of VPS %s", vi->cfg.id);
        uint64_t t0 = now_us();
        int r;
        if (vi->status == VPS_RUNNING) {
                r = capture_running(vi, src, dst_fd, o, ret, err);
        } else {
                r = vps_tree_copy(src, dst_fd, o, &ret->copy, err);
                if (r == 0 && syncfs(dst_fd) < 0)
                        r = vps_err_sys(err, errno, "flushing the copy");
        }
        ret->total_us = now_us() - t0;
        return r < 0 ? vps_err_wrap(err, "copying the upper layer of VPS %s", vi->cfg.id) : 0;
}
