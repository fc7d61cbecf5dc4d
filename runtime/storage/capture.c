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
#include <poll.h>
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

static int write_freeze(const char *cgroup, const char *value, vps_error *err)
{
        char path[512];
        (void)snprintf(path, sizeof(path), "%s/cgroup.freeze", cgroup);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, value, 1) != 1)
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

/* 1 when cgroup.events says "frozen 1", 0 when not yet. */
static int is_frozen(int events_fd, vps_error *err)
{
        char buf[512];
        ssize_t n = pread(events_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return vps_err_sys(err, errno, "reading cgroup.events");
        buf[n] = '\0';
        return strstr(buf, "frozen 1") != NULL;
}

int vps_cgroup_thaw(const char *cgroup, vps_error *err)
{
        return write_freeze(cgroup, "0", err);
}

int vps_cgroup_freeze(const char *cgroup, unsigned int timeout_ms, vps_error *err)
{
        char path[512];
        (void)snprintf(path, sizeof(path), "%s/cgroup.events", cgroup);
        _cleanup_close_ int ev = open(path, O_RDONLY | O_CLOEXEC);
        if (ev < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        int r = write_freeze(cgroup, "1", err);
        if (r < 0)
                return r;
        /* cgroup.events raises POLLPRI when it changes; polled again in case of a miss. */
        uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
        while ((r = is_frozen(ev, err)) == 0) {
                uint64_t t = now_us();
                if (t >= deadline)
                        break;
                struct pollfd p = {.fd = ev, .events = POLLPRI};
                uint64_t left_ms = (deadline - t) / 1000u;
                (void)poll(&p, 1, left_ms > 10 ? 10 : (int)left_ms + 1);
        }
        if (r == 1)
                return 0;
        vps_error e;
        (void)vps_cgroup_thaw(cgroup, &e);
        return r < 0 ? r
                     : vps_err(err, EBUSY,
                               "its processes did not freeze within %u ms (one stuck in the "
                               "kernel?); try again",
                               timeout_ms);
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
        if ((r = vps_cgroup_freeze(vi->st.cgroup, FREEZE_TIMEOUT_MS, err)) < 0)
                return vps_err_wrap(err, "freezing VPS %s", vi->cfg.id);
        r = vps_tree_copy_catch_up(lc, &ret->copy, err);
        vps_error e;
        int t = vps_cgroup_thaw(vi->st.cgroup, &e);
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
