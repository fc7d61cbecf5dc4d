/* vpsctl audit: vpsd's log of the changes asked of it (/v1/audit), on either socket. */
#include "vpsctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vps/cleanup.h"

static const char audit_usage[] =
        "Usage: vpsctl audit [--since T] [-j]\n"
        "\n"
        "Print vpsd's audit log: each request that asked for a change (local or remote),\n"
        "as TIME CLIENT VERB METHOD PATH STATUS. CLIENT is local, cert:FINGERPRINT,\n"
        "token:NAME or unauthenticated.\n"
        "\n"
        "Options:\n"
        "  -s, --since T  only since T: seconds since the epoch, or an age (30m, 2h, 7d)\n"
        "  -j, --json     print a JSON array of the lines\n"
        "  -h, --help     print this help and exit\n";

/* "1796599020" or an age: "90s", "30m", "2h", "7d", "2w". */
static bool parse_since(const char *s, long long *ret)
{
        char *end = NULL;
        long long n = strtoll(s, &end, 10);
        static const char units[] = "smhdw";
        static const long long mul[] = {1, 60, 3600, 86400, 604800};
        if (!*s || *s == '-' || n < 0)
                return false;
        if (!*end) {
                *ret = n;
                return true;
        }
        const char *u = end[1] ? NULL : strchr(units, *end);
        if (!u || !*u)
                return false;
        *ret = (long long)time(NULL) - n * mul[u - units];
        return *ret >= 0;
}

int cmd_audit(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"since", required_argument, NULL, 's'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        long long since = 0;
        bool json = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":s:jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(audit_usage);
                if (c == 'j')
                        json = true;
                else if (c == 's' && !parse_since(optarg, &since))
                        return vpsctl_usage_error(v,
                                                  "--since takes seconds since the epoch or "
                                                  "an age (30m, 2h, 7d), not '%s'",
                                                  optarg);
                else if (c != 's')
                        return vpsctl_opt_error(v, c, argv);
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        _cleanup_json_ json_t *ret = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &ret, &err, "/v1/audit?since=%lld",
                           since) < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(ret);
        size_t i;
        json_t *l;
        json_array_foreach(ret, i, l)
        {
                const char *vps = json_string_value(json_object_get(l, "vps"));
                printf("%s  %s  %s  %s %s%s%s  %d\n",
                       json_string_value(json_object_get(l, "time")) ?: "?",
                       json_string_value(json_object_get(l, "client")) ?: "?",
                       json_string_value(json_object_get(l, "verb")) ?: "?",
                       json_string_value(json_object_get(l, "method")) ?: "?",
                       json_string_value(json_object_get(l, "path")) ?: "?",
                       vps && *vps ? " VPS " : "", vps && *vps ? vps : "",
                       (int)json_integer_value(json_object_get(l, "status")));
        }
        return 0;
}
