/* vpsctl version: the client's version and the daemon's (GET /v1/version), so that a
 * mismatch after an upgrade is easy to see. */
#include "vpsctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"

static const char version_usage[] =
        "Usage: vpsctl version [-j]\n"
        "\n"
        "Print the versions of vpsctl and of the vpsd it talks to, and that vpsd's\n"
        "PID, state root, bridge and subnet, default network mode, and whether the LXCFS\n"
        "its VPSes' /proc views come from is serving (probed now; when it is not, or is off,\n"
        "vpsd gives each VPS a /proc/meminfo of its own that agrees with sysinfo(2)), and\n"
        "whether it can checkpoint VPSes (suspend, resume), and why not: its criu and what\n"
        "`criu check` said when vpsd started.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print {\"client\": ..., \"server\": {...}}\n"
        "  -h, --help  print this help and exit\n";

int cmd_version(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        _cleanup_json_ json_t *server = NULL;
        vps_error err = {0};
        bool json = false;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(version_usage);
                if (c != 'j')
                        return vpsctl_opt_error(v, c, argv);
                json = true;
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);

        /* the client's version is worth printing even when the daemon is down */
        if (!json)
                printf("vpsctl %s\n", VPS_VERSION);
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &server, &err, "/v1/version") < 0)
                return vpsctl_fail_err(&err);
        if (json) {
                _cleanup_json_ json_t *out =
                        json_pack("{s:s, s:O?}", "client", VPS_VERSION, "server", server);
                return out ? vpsctl_print_json(out) : vpsctl_fail("cannot format JSON");
        }
        const char *version = json_string_value(json_object_get(server, "version"));
        const char *api = json_string_value(json_object_get(server, "api"));
        printf("vpsd %s (API %s)\n", version ? version : "unknown", api ? api : "unknown");
        json_int_t pid = json_integer_value(json_object_get(server, "pid"));
        const char *root = json_string_value(json_object_get(server, "root"));
        const char *bridge = json_string_value(json_object_get(server, "bridge"));
        const char *subnet = json_string_value(json_object_get(server, "subnet"));
        const char *mode = json_string_value(json_object_get(server, "netmode"));
        if (pid > 0 && root && bridge && subnet && mode) /* an older vpsd has none of them */
                printf("vpsd PID %lld, root %s, bridge %s on %s, default netmode %s\n",
                       (long long)pid, root, bridge, subnet, mode);
        json_t *lx = json_object_get(server, "lxcfs");
        const char *state = json_string_value(json_object_get(lx, "state"));
        const char *dir = json_string_value(json_object_get(lx, "dir"));
        const char *detail = json_string_value(json_object_get(lx, "detail"));
        if (state && json_is_true(json_object_get(lx, "serving")))
                printf("lxcfs: serving at %s\n", dir ? dir : "?");
        else if (state)
                printf("lxcfs: %s%s%s%s%s: /proc/meminfo inside is vpsd's view, top and uptime "
                       "show the host's\n",
                       state, dir ? " at " : "", dir ? dir : "", detail ? ": " : "",
                       detail ? detail : "");
        json_t *cp = json_object_get(server, "checkpoint");
        const char *cstate = json_string_value(json_object_get(cp, "state"));
        const char *criu = json_string_value(json_object_get(cp, "criu"));
        const char *cver = json_string_value(json_object_get(cp, "version"));
        const char *why = json_string_value(json_object_get(cp, "why"));
        if (cstate && json_is_true(json_object_get(cp, "available")))
                printf("checkpoint: available (criu %s, %s)\n", cver ? cver : "?",
                       criu ? criu : "?");
        else if (cstate && strcmp(cstate, "probing") == 0)
                printf("checkpoint: being probed (criu check)\n");
        else if (cstate)
                printf("checkpoint: not available: %s\n", why ? why : "?");
        return 0;
}
