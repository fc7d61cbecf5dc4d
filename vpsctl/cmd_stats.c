/* vpsctl stats: usage and limit hits of a running VPS (GET /v1/vps/ID/stats). */
#include "vpsctl.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"

static const char stats_usage[] =
        "Usage: vpsctl stats ID [-j]\n"
        "\n"
        "Show what the running VPS ID uses (memory, swap, CPU time, processes, I/O, disk space\n"
        "and inodes) against its limits, how often it hit them (memory.events,\n"
        "pids.events, cpu.stat), and its traffic over all its runs (until set --reset-counters).\n"
        "A figure the host cannot measure (no cgroup controller) shows as '-'.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print the figures as JSON\n"
        "  -h, --help  print this help and exit\n";

/* One "name: value" line; null prints "-". */
static void line(const char *name, const json_t *v, const char *unit)
{
        if (json_is_integer(v))
                printf("%-16s %lld%s\n", name, (long long)json_integer_value(v), unit);
        else if (json_is_string(v))
                printf("%-16s %s\n", name, json_string_value(v));
        else
                printf("%-16s -\n", name);
}

static const json_t *at(const json_t *o, const char *group, const char *key)
{
        return json_object_get(group ? json_object_get(o, group) : o, key);
}

/* The table `vpsctl stats` prints: a name, where the figure is in the JSON, its unit. */
static const struct {
        const char *name, *group, *key, *unit;
} rows[] = {
        {"memory", "memory", "current", " bytes"},
        {"memory peak", "memory", "peak", " bytes"},
        {"memory limit", "memory", "max", ""},
        {"swap", "memory", "swap_current", " bytes"},
        {"cpu time", "cpu", "usage_usec", " us"},
        {"cpu throttled", "cpu", "nr_throttled", " times"},
        {"processes", NULL, "processes", ""},
        {"tasks limit", "pids", "max", ""},
        {"io read", "io", "rbytes", " bytes"},
        {"io written", "io", "wbytes", " bytes"},
        {"hit memory.max", "events", "memory_max", " times"},
        {"oom kills", "events", "oom_kill", ""},
        {"hit pids.max", "events", "pids_max", " times"},
        {"disk used", "diskspace", "used", " bytes"},
        {"disk soft limit", "diskspace", "soft", " bytes"},
        {"disk hard limit", "diskspace", "hard", " bytes"},
        {"inodes used", "diskinodes", "used", ""},
        {"inodes limit", "diskinodes", "hard", ""},
        {"received", "network", "rx_bytes", " bytes"},
        {"received packets", "network", "rx_packets", ""},
        {"sent", "network", "tx_bytes", " bytes"},
        {"sent packets", "network", "tx_packets", ""},
        {"snapshots", "snapshots", "count", ""},
        {"snapshot size", "snapshots", "size", " bytes"},
};

int cmd_stats(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool json = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(stats_usage);
                if (c != 'j')
                        return vpsctl_opt_error(v, c, argv);
                json = true;
        }
        const char *id = NULL;
        int r = vpsctl_take_id(v, argc, argv, &id);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *s = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &s, &err, "/v1/vps/%s/stats", id) < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(s);
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                line(rows[i].name, at(s, rows[i].group, rows[i].key), rows[i].unit);
        return 0;
}
