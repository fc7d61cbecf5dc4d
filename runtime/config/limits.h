/* Resource limits of a VPS, with vzctl's option names: cgroup v2 (ram, swap, cpus, cpulimit,
 * cpuunits, numproc, cpumask, iolimit, iopslimit, ioprio, oompolicy) and project quotas
 * (diskspace, diskinodes). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

struct json_t;

#define VPS_LIMIT_NONE UINT64_MAX /* not set: no limit */

enum vps_limit_kind {
        VPS_LIM_RAM,
        VPS_LIM_SWAP,
        VPS_LIM_CPUS,
        VPS_LIM_CPULIMIT,
        VPS_LIM_CPUUNITS,
        VPS_LIM_NUMPROC,
        VPS_LIM_DISKSPACE,  /* SOFT[:HARD] bytes */
        VPS_LIM_DISKINODES, /* SOFT[:HARD] inodes */
        VPS_LIM_CPUMASK,    /* cpuset.cpus: the list is in cpumask, v is 1 when set */
        VPS_LIM_IOLIMIT,    /* bytes per second, each of read and write (io.max) */
        VPS_LIM_IOPSLIMIT,  /* operations per second, each of read and write (io.max) */
        VPS_LIM_IOPRIO,     /* 0 (lowest) to 7, vzctl's; io.weight */
        VPS_LIM_OOMPOLICY,  /* 0 "process", 1 "restart" (memory.oom.group) */
        VPS_LIM_COUNT
};

#define VPS_CPUMASK_MAX 128

struct vps_limits {
        uint64_t v[VPS_LIM_COUNT];     /* bytes, hundredths of CPUs, percent of one CPU, weight,
                                          processes, ...; the hard limit of a pair */
        uint64_t soft[VPS_LIM_COUNT];  /* the soft limit of a pair, else VPS_LIMIT_NONE */
        char cpumask[VPS_CPUMASK_MAX]; /* "0-3,6" when VPS_LIM_CPUMASK is set */
};

struct vps_limit_info {
        const char *name;       /* JSON key and vpsctl option without "--" */
        const char *controller; /* cgroup v2 controller that enforces it, NULL: a quota */
        bool size;              /* takes K/M/G/T suffixes */
        bool pair;              /* SOFT[:HARD], vzctl's barrier:limit */
        uint64_t min, max;
        unsigned int scale;       /* >1: a decimal number, kept times scale ("0.5" CPUs: 50) */
        const char *const *words; /* the value is one of these words (its index) */
        bool cpulist;             /* a list of CPUs, "0-3,6" */
};

/* What the host contributes to the cgroup files of the limits. */
struct vps_limit_host {
        unsigned int ncpu; /* online CPUs */
        char iodev[24];    /* "MAJ:MIN" of the disk holding the VPS storage, "" if none */
};

#define VPS_LIMIT_FILES_MAX 12
#define VPS_LIMIT_VALUE_MAX 160

extern const struct vps_limit_info vps_limit_info[VPS_LIM_COUNT];

void vps_limits_init(struct vps_limits *l);
/* Parses one value: a size or a number within the limit's range, or "unlimited". */
int vps_limit_parse(enum vps_limit_kind k, const char *text, uint64_t *ret, vps_error *err);
/* Parses SOFT[:HARD] of a pair limit ("unlimited" for none); SOFT alone sets both. */
int vps_limit_parse_pair(enum vps_limit_kind k, const char *text, uint64_t *soft, uint64_t *hard,
                         vps_error *err);
/* Is any of the disk quota limits set? */
bool vps_limits_have_disk(const struct vps_limits *l);
/* Applies a JSON object {"ram": "1G", "numproc": 100, "swap": "unlimited", ...} on top of l.
 * Unknown keys are refused. */
int vps_limits_update(struct vps_limits *l, struct json_t *obj, vps_error *err);
/* {"ram": 1073741824, "swap": null, "diskspace": {"soft": N, "hard": N}, ...} */
struct json_t *vps_limits_to_json(const struct vps_limits *l);
/* Reads the "limits" object of config.json (numbers or null). */
int vps_limits_from_json(struct vps_limits *l, struct json_t *obj, vps_error *err);
/* The text form of limit k of l ("0.5", "0-3", "restart", "1073741824"), for messages. */
void vps_limit_format(const struct vps_limits *l, enum vps_limit_kind k, char *buf, size_t size);
/* The cgroup files and values that enforce l: fills file[], value[] and the controller of
 * each, returns how many. With old (the limits in force), a limit that l removes is written
 * back to its default ("max", cpu.weight 100, an empty cpuset, oom.group 0). */
int vps_limits_files(const struct vps_limits *l, const struct vps_limits *old,
                     const struct vps_limit_host *host, const char *file[VPS_LIMIT_FILES_MAX],
                     char value[VPS_LIMIT_FILES_MAX][VPS_LIMIT_VALUE_MAX],
                     const char *controller[VPS_LIMIT_FILES_MAX]);
