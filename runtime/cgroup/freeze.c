/* libvps: freezing a cgroup (cgroup.freeze, a core file of cgroup v2, there without any
 * controller). Writing 1 asks the kernel to stop every task below at its next return to user
 * space; cgroup.events says "frozen 1" once all have stopped, which a task stuck in the
 * kernel (a FUSE request its own frozen daemon will never answer) can put off for good. So
 * the write and the wait are apart: a caller in an event loop watches cgroup.events, a child
 * waits with vps_cgroup_freeze. */
#include "cgroup/cgroup.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
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
        char path[600];
        (void)snprintf(path, sizeof(path), "%s/cgroup.freeze", cgroup);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, value, 1) != 1)
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

int vps_cgroup_freeze_begin(const char *cgroup, vps_error *err)
{
        return write_freeze(cgroup, "1", err);
}

int vps_cgroup_thaw(const char *cgroup, vps_error *err)
{
        return write_freeze(cgroup, "0", err);
}

int vps_cgroup_freeze_asked(const char *cgroup)
{
        long long v = vps_cgroup_read_number(cgroup, "cgroup.freeze");
        return v < 0 ? -1 : v == 1;
}

int vps_cgroup_events_open(const char *cgroup, vps_error *err)
{
        char path[600];
        (void)snprintf(path, sizeof(path), "%s/cgroup.events", cgroup);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? vps_err_sys(err, errno, "opening %s", path) : fd;
}

int vps_cgroup_is_frozen(int events_fd, vps_error *err)
{
        char buf[512];
        ssize_t n = pread(events_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return vps_err_sys(err, errno, "reading cgroup.events");
        buf[n] = '\0';
        return strstr(buf, "frozen 1") != NULL;
}

int vps_cgroup_freeze(const char *cgroup, unsigned int timeout_ms, vps_error *err)
{
        _cleanup_close_ int ev = vps_cgroup_events_open(cgroup, err);
        if (ev < 0)
                return ev;
        int r = vps_cgroup_freeze_begin(cgroup, err);
        if (r < 0)
                return r;
        /* cgroup.events raises POLLPRI when it changes; polled again in case of a miss. */
        uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
        while ((r = vps_cgroup_is_frozen(ev, err)) == 0) {
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
