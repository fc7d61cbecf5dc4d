/* vpsctl events: vpsd's event stream (GET /v1/events, JSON lines in a chunked answer) printed
 * as it comes, until interrupted or vpsd ends it. */
#include "vpsctl.h"
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vps/cleanup.h"
#include "vps/util.h"

static const char events_usage[] =
        "Usage: vpsctl events [--vps ID] [-j]\n"
        "\n"
        "Print vpsd's events as they happen, until interrupted: VPSes created, destroyed,\n"
        "started, stopped (with the reason), paused, unpaused, changed; OOM kills and other\n"
        "limit hits; the ends of snapshots, switches, clones, reinstalls, backups and\n"
        "restores. One line each: TIME TYPE VPS DETAILS.\n"
        "\n"
        "Options:\n"
        "  --vps ID       only the events of VPS ID\n"
        "  -j, --json     print each event as the JSON line vpsd sent\n"
        "  -h, --help     print this help and exit\n";

#define LINE_MAX_LEN 65536

static void print_event(const char *line, size_t len, bool json)
{
        if (len == 0)
                return; /* a keep-alive */
        if (json) {
                printf("%.*s\n", (int)len, line);
                fflush(stdout);
                return;
        }
        _cleanup_json_ json_t *o = json_loadb(line, len, 0, NULL);
        if (!json_is_object(o))
                return;
        printf("%s  %-16s %s", json_string_value(json_object_get(o, "time")) ?: "?",
               json_string_value(json_object_get(o, "type")) ?: "?",
               json_string_value(json_object_get(o, "vps")) ?: "-");
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val)
        {
                if (!strcmp(key, "time") || !strcmp(key, "type") || !strcmp(key, "vps"))
                        continue;
                _cleanup_free_ char *t = json_is_string(val)
                                                 ? strdup(json_string_value(val))
                                                 : json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
                printf(" %s=%s", key, t ? t : "?");
        }
        printf("\n");
        fflush(stdout);
}

/* The body's lines, printed as they complete. */
struct lines {
        char line[LINE_MAX_LEN];
        size_t ln;
        bool json;
};

static int on_body(const char *data, size_t n, void *arg)
{
        struct lines *l = arg;
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        print_event(l->line, l->ln, l->json);
                        l->ln = 0;
                } else if (l->ln < sizeof(l->line)) {
                        l->line[l->ln++] = data[i];
                }
        }
        return 0;
}

int cmd_events(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"vps", required_argument, NULL, 'V'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *vps = NULL;
        static struct lines c;
        int ch;
        optind = 0;
        while ((ch = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
                if (ch == 'h')
                        return vpsctl_help(events_usage);
                if (ch == 'j')
                        c.json = true;
                else if (ch == 'V')
                        vps = optarg;
                else
                        return vpsctl_opt_error(v, ch, argv);
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        vps_error err = {0};
        if (vps && vps_id_check(vps, &err) < 0)
                return vpsctl_usage_error(v, "--vps: %s", err.msg);
        char path[64];
        (void)snprintf(path, sizeof(path), "/v1/events%s%s", vps ? "?vps=" : "", vps ? vps : "");
        if (client_request_stream(&v->target, path, 0, on_body, &c, &err) < 0)
                return vpsctl_fail_err(&err);
        return 0;
}
