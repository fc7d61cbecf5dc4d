/* libvps: the tables of what a start binds into a guest's tree from the host (mounts.c
 * mounts them), and their list for a checkpoint (vps_host_binds): criu must be told each is
 * external to the VPS, and a restore gives each its source again. */
#include "mounttab.h"
#include "sandbox/sandbox.h"

#include <stdio.h>
#include <string.h>

const char *const vps_masked_paths[] = {
        "/proc/kcore",       "/proc/keys",           "/proc/key-users",     "/proc/timer_list",
        "/proc/sched_debug", "/proc/sysrq-trigger",  "/proc/latency_stats", "/proc/kallsyms",
        "/proc/kmsg",        "/proc/acpi",           "/proc/scsi",          "/sys/firmware",
        "/sys/kernel/debug", "/sys/kernel/security",
};
const size_t vps_n_masked_paths = sizeof(vps_masked_paths) / sizeof(vps_masked_paths[0]);

const char *const vps_dev_nodes[VPS_N_DEV_NODES] = {"null",   "zero",    "full",
                                                    "random", "urandom", "tty"};

const char *const vps_lxcfs_views[] = {
        "/proc/meminfo", "/proc/cpuinfo",   "/proc/stat",  "/proc/uptime",
        "/proc/loadavg", "/proc/diskstats", "/proc/swaps", "/sys/devices/system/cpu/online",
};
const size_t vps_n_lxcfs_views = sizeof(vps_lxcfs_views) / sizeof(vps_lxcfs_views[0]);

static void add(struct vps_host_bind *ret, unsigned int max, unsigned int *n, const char *target,
                enum vps_bind_kind kind, const char *source)
{
        if (*n >= max)
                return;
        struct vps_host_bind *x = &ret[(*n)++];
        *x = (struct vps_host_bind){.kind = kind};
        (void)snprintf(x->target, sizeof(x->target), "%s", target);
        (void)snprintf(x->key, sizeof(x->key), "m%s", target);
        for (char *c = x->key; *c; c++)
                if (*c == '/')
                        *c = '_';
        (void)snprintf(x->source, sizeof(x->source), "%s", source);
}

unsigned int vps_host_binds(const struct vps_config *cfg, const char *vps_dir, const char *run_dir,
                            const char *lxcfs, struct vps_host_bind *ret, unsigned int max)
{
        unsigned int n = 0;
        char target[64], src[400];
        /* Directories among them are masked by a tmpfs of the guest's own: criu dumps those. */
        for (size_t i = 0; i < vps_n_masked_paths; i++)
                add(ret, max, &n, vps_masked_paths[i], VPS_BIND_PATH, "/dev/null");
        for (size_t i = 0; i < VPS_N_DEV_NODES; i++) {
                (void)snprintf(target, sizeof(target), "/dev/%s", vps_dev_nodes[i]);
                add(ret, max, &n, target, VPS_BIND_PATH, target);
        }
        char names[VPS_MAX_DEVNODES][8];
        unsigned int nd = cfg ? vps_devnodes_effective(cfg, names) : 0;
        for (unsigned int i = 0; i < nd; i++) {
                const struct vps_devnode *d = vps_devnode_find(names[i]);
                if (!d)
                        continue;
                (void)snprintf(target, sizeof(target), "/dev/%s", d->path);
                (void)snprintf(src, sizeof(src), "%s/devnodes/%s", vps_dir, d->name);
                add(ret, max, &n, target, VPS_BIND_PATH, src);
        }
        add(ret, max, &n, "/dev/console", VPS_BIND_CONSOLE, "");
        const char *id = cfg ? cfg->id : "";
        (void)snprintf(src, sizeof(src), "%s/boot-id-%s", run_dir, id);
        add(ret, max, &n, "/proc/sys/kernel/random/boot_id", VPS_BIND_PATH, src);
        for (size_t i = 0; lxcfs && i < vps_n_lxcfs_views; i++) {
                (void)snprintf(src, sizeof(src), "%s%s", lxcfs, vps_lxcfs_views[i]);
                add(ret, max, &n, vps_lxcfs_views[i], VPS_BIND_PATH, src);
        }
        if (!lxcfs) { /* with LXCFS: the same key, /proc/meminfo, names LXCFS's view */
                (void)snprintf(src, sizeof(src), "%s/meminfo", vps_dir);
                add(ret, max, &n, "/proc/meminfo", VPS_BIND_PATH, src);
        }
        return n;
}
