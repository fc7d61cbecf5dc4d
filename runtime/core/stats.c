/* libvps: a VPS's usage and limit hits from its cgroup files: OpenVZ's failcnt, from
 * memory.events, pids.events and cpu.stat. */
#include "vps/cleanup.h"
#include "core/core.h"
#include "vps/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_cg(const char *cg, const char *file)
{
        char p[PATH_MAX];
        int n = snprintf(p, sizeof(p), "%s/%s", cg, file);
        if (n < 0 || (size_t)n >= sizeof(p))
                return NULL;
        char *text = NULL;
        vps_error e;
        return vps_read_file_at(AT_FDCWD, p, &text, NULL, &e) == 0 ? text : NULL;
}

static json_t *single(const char *cg, const char *file)
{
        _cleanup_free_ char *t = read_cg(cg, file);
        if (!t)
                return json_null();
        if (strncmp(t, "max", 3) == 0)
                return json_string("max");
        return json_integer((json_int_t)strtoll(t, NULL, 10));
}

/* A value from a "key value" file, or null. */
static json_t *keyed(const char *text, const char *key)
{
        size_t n = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, n) == 0 && l[n] == ' ')
                        return json_integer((json_int_t)strtoll(l + n + 1, NULL, 10));
        return json_null();
}

static json_t *from_keyed(const char *cg, const char *file, const char *const *keys,
                          const char *const *names)
{
        _cleanup_free_ char *t = read_cg(cg, file);
        json_t *o = json_object();
        for (size_t i = 0; o && keys[i]; i++)
                json_object_set_new(o, names[i], t ? keyed(t, keys[i]) : json_null());
        return o;
}

/* io.stat has one line per device: sum them. */
static json_t *io_totals(const char *cg)
{
        _cleanup_free_ char *t = read_cg(cg, "io.stat");
        static const char *const keys[] = {"rbytes", "wbytes", "rios", "wios"};
        long long sum[4] = {0};
        for (char *p = t; p && *p; p++)
                for (size_t k = 0; k < 4; k++) {
                        size_t n = strlen(keys[k]);
                        if ((p == t || p[-1] == ' ') && strncmp(p, keys[k], n) == 0 && p[n] == '=')
                                sum[k] += strtoll(p + n + 1, NULL, 10);
                }
        json_t *o = json_object();
        for (size_t k = 0; o && k < 4; k++)
                json_object_set_new(o, keys[k], t ? json_integer(sum[k]) : json_null());
        return o;
}

static long long procs_in(const char *cg)
{
        _cleanup_free_ char *t = read_cg(cg, "cgroup.procs");
        if (!t)
                return -1;
        long long n = 0;
        for (char *p = t; *p; p++)
                n += *p == '\n';
        return n;
}

/* pids.events "max" of cg alone: on kernels without pids.events.local (6.1) a fork refused by
 * an ancestor's pids.max is counted in the forking task's own cgroup, not the ancestor's. */
static long long pids_hits_in(const char *cg)
{
        _cleanup_free_ char *t = read_cg(cg, "pids.events");
        json_t *v = t ? keyed(t, "max") : NULL;
        long long n = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
        json_decref(v);
        return n;
}

/* what(cg) summed over cg and every cgroup below it (exec'd commands sit in a cgroup of their
 * own beside the guest's, and a systemd guest runs its services in cgroups of its own, 16
 * levels deep at most by default: vpsd.conf cgroup_max_depth). -1 when cg cannot be read. */
static long long tree_sum(const char *cg, long long (*what)(const char *), int depth)
{
        long long n = what(cg);
        if (n < 0)
                return -1;
        _cleanup_closedir_ DIR *d = depth < 32 ? opendir(cg) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                char sub[1024];
                if (snprintf(sub, sizeof(sub), "%s/%s", cg, de->d_name) >= (int)sizeof(sub))
                        continue;
                long long k = tree_sum(sub, what, depth + 1);
                n += k > 0 ? k : 0;
        }
        return n;
}

static json_t *process_count(const char *cg)
{
        long long n = tree_sum(cg, procs_in, 0);
        return n < 0 ? json_null() : json_integer(n);
}

/* Forks refused by pids.max: hierarchical in pids.events where pids.events.local exists,
 * summed over the tree before. */
static json_t *pids_hits(const char *cg)
{
        char p[700];
        (void)snprintf(p, sizeof(p), "%s/pids.events.local", cg);
        long long n = access(p, F_OK) == 0 ? pids_hits_in(cg) : tree_sum(cg, pids_hits_in, 0);
        return n < 0 ? json_null() : json_integer(n);
}

json_t *vps_cgroup_stats(const char *cg)
{
        static const char *const ev_keys[] = {"high", "max", "oom", "oom_kill", NULL};
        static const char *const ev_names[] = {"memory_high", "memory_max", "oom", "oom_kill",
                                               NULL};
        static const char *const cpu_keys[] = {"usage_usec",   "user_usec",      "system_usec",
                                               "nr_throttled", "throttled_usec", NULL};
        json_t *mem = json_pack("{s:o, s:o, s:o, s:o}", "current", single(cg, "memory.current"),
                                "peak", single(cg, "memory.peak"), "swap_current",
                                single(cg, "memory.swap.current"), "max", single(cg, "memory.max"));
        json_t *events = from_keyed(cg, "memory.events", ev_keys, ev_names);
        if (events)
                json_object_set_new(events, "pids_max", pids_hits(cg));
        return json_pack("{s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o}", "memory", mem, "events", events,
                         "cpu", from_keyed(cg, "cpu.stat", cpu_keys, cpu_keys), "processes",
                         process_count(cg), "pids", "current", single(cg, "pids.current"), "max",
                         single(cg, "pids.max"), "io", io_totals(cg));
}

const char *const vps_stats_fields[] = {
        "memory_current", "memory_peak",     "swap_current",  "cpu_usec",
        "cpu_throttled",  "processes",       "io_rbytes",     "io_wbytes",
        "oom_kill",       "memory_max_hits", "pids_max_hits", NULL,
};

void vps_stats_flatten(json_t *obj, const char *cg)
{
        /* Where each field sits in vps_cgroup_stats' object. */
        static const char *const path[][2] = {
                {"memory", "current"},    {"memory", "peak"},      {"memory", "swap_current"},
                {"cpu", "usage_usec"},    {"cpu", "nr_throttled"}, {"processes", NULL},
                {"io", "rbytes"},         {"io", "wbytes"},        {"events", "oom_kill"},
                {"events", "memory_max"}, {"events", "pids_max"},
        };
        _cleanup_json_ json_t *s = cg ? vps_cgroup_stats(cg) : NULL;
        for (size_t i = 0; vps_stats_fields[i]; i++) {
                json_t *v = json_object_get(s, path[i][0]);
                if (path[i][1])
                        v = json_object_get(v, path[i][1]);
                json_object_set_new(obj, vps_stats_fields[i], v ? json_incref(v) : json_null());
        }
}
