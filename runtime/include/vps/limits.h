/* Resource limits of a VPS, with vzctl's option names: cgroup v2 (ram, swap, cpus, cpulimit,
 * cpuunits, numproc) and project quotas (diskspace, diskinodes). */
#pragma once

#include <stdbool.h>
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
        VPS_LIM_COUNT
};

struct vps_limits {
        uint64_t v[VPS_LIM_COUNT];    /* bytes, CPUs, percent of one CPU, weight, processes;
                                         the hard limit of a pair */
        uint64_t soft[VPS_LIM_COUNT]; /* the soft limit of a pair, else VPS_LIMIT_NONE */
};

struct vps_limit_info {
        const char *name;       /* JSON key and vpsctl option without "--" */
        const char *controller; /* cgroup v2 controller that enforces it, NULL: a quota */
        bool size;              /* takes K/M/G/T suffixes */
        bool pair;              /* SOFT[:HARD], vzctl's barrier:limit */
        uint64_t min, max;
};

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
/* The cgroup files and values that enforce l: fills file[], value[] and the controller of
 * each (up to 8), returns how many. With old (the limits in force), a limit that l removes
 * is written back to "max" (cpu.weight to 100). */
int vps_limits_files(const struct vps_limits *l, const struct vps_limits *old, unsigned int ncpu,
                     const char *file[8], char value[8][32], const char *controller[8]);
