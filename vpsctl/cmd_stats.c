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
        "and inodes) against its limits, and how often it hit them (memory.events,\n"
        "pids.events, cpu.stat).\n"
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
        line("memory", at(s, "memory", "current"), " bytes");
        line("memory peak", at(s, "memory", "peak"), " bytes");
        line("memory limit", at(s, "memory", "max"), "");
        line("swap", at(s, "memory", "swap_current"), " bytes");
        line("cpu time", at(s, "cpu", "usage_usec"), " us");
        line("cpu throttled", at(s, "cpu", "nr_throttled"), " times");
        line("processes", at(s, NULL, "processes"), "");
        line("tasks limit", at(s, "pids", "max"), "");
        line("io read", at(s, "io", "rbytes"), " bytes");
        line("io written", at(s, "io", "wbytes"), " bytes");
        line("hit memory.max", at(s, "events", "memory_max"), " times");
        line("oom kills", at(s, "events", "oom_kill"), "");
        line("hit pids.max", at(s, "events", "pids_max"), " times");
        line("disk used", at(s, "diskspace", "used"), " bytes");
        line("disk soft limit", at(s, "diskspace", "soft"), " bytes");
        line("disk hard limit", at(s, "diskspace", "hard"), " bytes");
        line("inodes used", at(s, "diskinodes", "used"), "");
        line("inodes limit", at(s, "diskinodes", "hard"), "");
        return 0;
}
