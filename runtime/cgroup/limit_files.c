/* libvps: the cgroup v2 files and values that enforce a VPS's limits (config.h). */
#include "config/config.h"

#include <stdio.h>
#include <string.h>

#define CPU_PERIOD 100000ULL

struct files {
        const char **file, **ctl;
        char (*value)[VPS_LIMIT_VALUE_MAX];
        int n;
};

static char *add(struct files *f, const char *file, const char *ctl)
{
        f->file[f->n] = file;
        f->ctl[f->n] = ctl;
        return f->value[f->n++];
}

static void add_num(struct files *f, const char *file, const char *ctl, uint64_t v)
{
        char *out = add(f, file, ctl);
        if (v == VPS_LIMIT_NONE)
                (void)snprintf(out, VPS_LIMIT_VALUE_MAX, "max");
        else
                (void)snprintf(out, VPS_LIMIT_VALUE_MAX, "%llu", (unsigned long long)v);
}

/* A file is written when the new or the old limits set it: removing a limit writes its
 * default. */
static bool touched(const struct vps_limits *l, const struct vps_limits *old, int k)
{
        return l->v[k] != VPS_LIMIT_NONE || (old && old->v[k] != VPS_LIMIT_NONE);
}

static const char *max_or(uint64_t v, char buf[24])
{
        if (v == VPS_LIMIT_NONE)
                return "max";
        (void)snprintf(buf, 24, "%llu", (unsigned long long)v);
        return buf;
}

/* vzctl's --ioprio 0..7 as io.weight: 4 (its default) is the cgroup default of 100. */
static const unsigned int ioprio_weight[8] = {10, 25, 50, 75, 100, 200, 400, 800};

int vps_limits_files(const struct vps_limits *l, const struct vps_limits *old,
                     const struct vps_limit_host *host, const char *file[VPS_LIMIT_FILES_MAX],
                     char value[VPS_LIMIT_FILES_MAX][VPS_LIMIT_VALUE_MAX],
                     const char *ctl[VPS_LIMIT_FILES_MAX])
{
        struct files f = {file, ctl, value, 0};
        const uint64_t *v = l->v;
        if (touched(l, old, VPS_LIM_RAM) || touched(l, old, VPS_LIM_SWAP)) {
                add_num(&f, "memory.max", "memory", v[VPS_LIM_RAM]);
                add_num(&f, "memory.swap.max", "memory", v[VPS_LIM_SWAP]);
        }
        /* restart: an OOM kill takes the whole VPS at once (vpsd then starts it again);
         * process: the kernel kills one process and the guest's init carries on. */
        if (touched(l, old, VPS_LIM_OOMPOLICY))
                add_num(&f, "memory.oom.group", "memory", v[VPS_LIM_OOMPOLICY] == 1 ? 1 : 0);
        if (touched(l, old, VPS_LIM_NUMPROC))
                add_num(&f, "pids.max", "pids", v[VPS_LIM_NUMPROC]);
        if (touched(l, old, VPS_LIM_CPUUNITS))
                add_num(&f, "cpu.weight", "cpu",
                        v[VPS_LIM_CPUUNITS] == VPS_LIMIT_NONE ? 100 : v[VPS_LIM_CPUUNITS]);
        /* --cpus N is N CPUs (hundredths kept); --cpulimit P is P percent of one CPU (vzctl):
         * the lower of the two wins. */
        uint64_t quota = VPS_LIMIT_NONE;
        if (v[VPS_LIM_CPUS] != VPS_LIMIT_NONE && v[VPS_LIM_CPUS] < (uint64_t)host->ncpu * 100)
                quota = v[VPS_LIM_CPUS] * CPU_PERIOD / 100;
        if (v[VPS_LIM_CPULIMIT] != VPS_LIMIT_NONE && v[VPS_LIM_CPULIMIT] * CPU_PERIOD / 100 < quota)
                quota = v[VPS_LIM_CPULIMIT] * CPU_PERIOD / 100;
        if (touched(l, old, VPS_LIM_CPUS) || touched(l, old, VPS_LIM_CPULIMIT)) {
                char q[24];
                (void)snprintf(add(&f, "cpu.max", "cpu"), VPS_LIMIT_VALUE_MAX, "%s %llu",
                               max_or(quota, q), CPU_PERIOD);
        }
        /* Removed: every CPU (the parent's effective set still bounds it). An empty list would
         * mean the same, but the kernel refuses to empty a populated cpuset. */
        if (touched(l, old, VPS_LIM_CPUMASK)) {
                char *out = add(&f, "cpuset.cpus", "cpuset");
                if (v[VPS_LIM_CPUMASK] != VPS_LIMIT_NONE)
                        (void)snprintf(out, VPS_LIMIT_VALUE_MAX, "%s", l->cpumask);
                else if (host->ncpu > 1)
                        (void)snprintf(out, VPS_LIMIT_VALUE_MAX, "0-%u", host->ncpu - 1);
                else
                        (void)snprintf(out, VPS_LIMIT_VALUE_MAX, "0");
        }
        if ((touched(l, old, VPS_LIM_IOLIMIT) || touched(l, old, VPS_LIM_IOPSLIMIT)) &&
            host->iodev[0]) {
                char b[24], o[24];
                const char *bps = max_or(v[VPS_LIM_IOLIMIT], b);
                const char *iops = max_or(v[VPS_LIM_IOPSLIMIT], o);
                (void)snprintf(add(&f, "io.max", "io"), VPS_LIMIT_VALUE_MAX,
                               "%s rbps=%s wbps=%s riops=%s wiops=%s", host->iodev, bps, bps, iops,
                               iops);
        }
        if (touched(l, old, VPS_LIM_IOPRIO))
                (void)snprintf(add(&f, "io.weight", "io"), VPS_LIMIT_VALUE_MAX, "default %u",
                               v[VPS_LIM_IOPRIO] <= 7 ? ioprio_weight[v[VPS_LIM_IOPRIO]] : 100);
        return f.n;
}
