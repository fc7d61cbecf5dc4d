/* libvps: the host's kernel limits every VPS draws on, read (and raised where a host of many
 * VPSes needs more) at vpsd's start-up so the daemon can log them. */
#include "vps/cleanup.h"
#include "cgroup/cgroup.h"
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

/* Raised as Incus's production notes raise them for many containers, never lowered. Each
 * VPS's user namespace is owned by its own host uid (spawn.c), so the per-user counts
 * (inotify, keys) are per VPS: what one server's root would have. A systemd guest takes 5
 * inotify instances, and with --features nesting (keyctl allowed: security.c) a keyring for
 * each of its services; the host's neighbour table holds an entry for each VPS on the bridge. Not
 * raised: net.core.bpf_jit_limit (a VPS cannot load BPF programs); kernel.dmesg_restrict is no
 * limit (security.c refuses syslog). */
static const struct {
        const char *name, *path;
        long long floor;
        const char *scope;
} raised[] = {
        {"fs.inotify.max_user_instances", "/proc/sys/fs/inotify/max_user_instances", 1024,
         "per VPS"},
        {"fs.inotify.max_user_watches", "/proc/sys/fs/inotify/max_user_watches", 1048576,
         "per VPS"},
        {"fs.inotify.max_queued_events", "/proc/sys/fs/inotify/max_queued_events", 1048576,
         "per inotify instance"},
        {"kernel.keys.maxkeys", "/proc/sys/kernel/keys/maxkeys", 2000, "per VPS"},
        {"kernel.keys.maxbytes", "/proc/sys/kernel/keys/maxbytes", 2000000, "per VPS"},
        {"fs.aio-max-nr", "/proc/sys/fs/aio-max-nr", 524288, "all VPSes together"},
        {"vm.max_map_count", "/proc/sys/vm/max_map_count", 262144, "per process"},
        {"net.ipv4.neigh.default.gc_thresh3", "/proc/sys/net/ipv4/neigh/default/gc_thresh3", 8192,
         "the host's neighbours, all VPSes together"},
        {"net.ipv6.neigh.default.gc_thresh3", "/proc/sys/net/ipv6/neigh/default/gc_thresh3", 8192,
         "the host's neighbours, all VPSes together"},
};

size_t vps_host_limits(char (*ret)[VPS_HOST_LIMIT_LINE], size_t max, unsigned int devpts_max)
{
        size_t n = 0;
        for (size_t i = 0; i < sizeof(raised) / sizeof(raised[0]) && n < max; i++) {
                long long v = read_knob(raised[i].path);
                if (v < 0)
                        continue;
                if (v >= raised[i].floor)
                        (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE, "%s = %lld (%s)",
                                       raised[i].name, v, raised[i].scope);
                else if (write_knob(raised[i].path, raised[i].floor))
                        (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE,
                                       "%s = %lld: raised from %lld (%s)", raised[i].name,
                                       raised[i].floor, v, raised[i].scope);
                else
                        (void)snprintf(ret[n++], VPS_HOST_LIMIT_LINE,
                                       "%s = %lld (%s): could not raise it to %lld", raised[i].name,
                                       v, raised[i].scope, raised[i].floor);
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
