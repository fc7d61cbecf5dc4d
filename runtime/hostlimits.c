/* libvps: the host's kernel limits every VPS draws on, read (and the per-user inotify ones
 * raised) at vpsd's start-up so the daemon can log them. */
#include "vps/cleanup.h"
#include "vps/hostlimits.h"
#include "vps/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long read_knob(const char *path)
{
        _cleanup_free_ char *text = NULL;
        vps_error e;
        if (vps_read_file_at(AT_FDCWD, path, &text, NULL, &e) < 0)
                return -1;
        return strtoll(text, NULL, 10);
}

static bool write_knob(const char *path, long long v)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%lld\n", v);
        return fd >= 0 && write(fd, buf, (size_t)n) == n;
}

/* Each VPS's user namespace is owned by its own host uid (spawn.c), so these per-user limits
 * are per VPS: what one server's root would have, raised as Incus's production notes do,
 * never lowered. */
static const struct {
        const char *name, *path;
        long long floor;
} raised[] = {
        {"fs.inotify.max_user_instances", "/proc/sys/fs/inotify/max_user_instances", 1024},
        {"fs.inotify.max_user_watches", "/proc/sys/fs/inotify/max_user_watches", 1048576},
};

size_t vps_host_limits(char (*ret)[VPS_HOST_LIMIT_LINE], size_t max, unsigned int devpts_max)
{
        size_t n = 0;
        for (size_t i = 0; i < sizeof(raised) / sizeof(raised[0]) && n < max; i++) {
                long long v = read_knob(raised[i].path);
                if (v < 0)
                        continue;
                if (v >= raised[i].floor)
                        (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE, "%s = %lld (per VPS)",
                                       raised[i].name, v);
                else if (write_knob(raised[i].path, raised[i].floor))
                        (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE,
                                       "%s = %lld: raised from %lld (per VPS)", raised[i].name,
                                       raised[i].floor, v);
                else
                        (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE,
                                       "%s = %lld (per VPS): could not raise it to %lld",
                                       raised[i].name, v, raised[i].floor);
        }
        long long pty_max = read_knob("/proc/sys/kernel/pty/max");
        long long reserve = read_knob("/proc/sys/kernel/pty/reserve");
        if (pty_max >= 0 && reserve >= 0 && n < max)
                (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE,
                               "kernel.pty.max = %lld, %lld of them for all VPSes together (the "
                               "rest reserved for the host), at most %u per VPS (devpts_max)",
                               pty_max, pty_max > reserve ? pty_max - reserve : 0, devpts_max);
        return n;
}
