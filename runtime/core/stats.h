/* Usage figures of a running VPS, read from its cgroup (cheap: a few small files). */
#pragma once

struct json_t;

/* {"memory": {"current", "peak", "swap_current", "max"}, "events": {"memory_high",
 * "memory_max", "oom", "oom_kill", "pids_max"}, "cpu": {"usage_usec", "user_usec",
 * "system_usec", "nr_throttled", "throttled_usec"}, "processes": N, "pids": {"current"},
 * "io": {"rbytes", "wbytes", "rios", "wios"}}. A figure whose file the host lacks (no
 * controller) is null. */
struct json_t *vps_cgroup_stats(const char *cgroup);

/* The names of the flat usage fields of `list -o` (NULL-terminated). */
extern const char *const vps_stats_fields[];
/* Adds those fields to a VPS object from its cgroup (cgroup NULL: a stopped VPS, all null):
 * memory_current, memory_peak, swap_current, cpu_usec, cpu_throttled, processes, io_rbytes,
 * io_wbytes, oom_kill, memory_max_hits, pids_max_hits. */
void vps_stats_flatten(struct json_t *obj, const char *cgroup);
