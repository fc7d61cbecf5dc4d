/* Usage figures of a running VPS, read from its cgroup (cheap: a few small files). */
#pragma once

struct json_t;

/* {"memory": {"current", "peak", "swap_current", "max"}, "events": {"memory_high",
 * "memory_max", "oom", "oom_kill", "pids_max"}, "cpu": {"usage_usec", "user_usec",
 * "system_usec", "nr_throttled", "throttled_usec"}, "processes": N, "pids": {"current"},
 * "io": {"rbytes", "wbytes", "rios", "wios"}}. A figure whose file the host lacks (no
 * controller) is null. */
struct json_t *vps_cgroup_stats(const char *cgroup);
