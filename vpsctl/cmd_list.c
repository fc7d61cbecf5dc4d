/* vpsctl list: the VPS table, like vzlist: running VPSes unless -a, columns chosen with -o
 * among the keys of the VPS object. */
#include "vpsctl.h"
#include "format.h"
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"
#include "core/core.h"

static const char list_usage[] =
        "Usage: vpsctl list [-a | --all-nodes] [-o FIELDS] [-H] [-j]\n"
        "\n"
        "List the running VPSes (all of them with -a), sorted by ID.\n"
        "\n"
        "Options:\n"
        "  -a, --all            include stopped VPSes (a VPS in backoff, a reboot loop\n"
        "                       held back, is listed without it)\n"
        "      --all-nodes      every VPS of the fleet (vpsd --cluster), from etcd's\n"
        "                       records: id, node, status, ip; the status of a VPS\n"
        "                       whose node is down is unknown\n"
        "  -o, --output FIELDS  comma-separated columns, named as the keys of the VPS\n"
        "                       object: id, status, pid, hostname, ip, ostemplate,\n"
        "                       uid_base, uid_count, root, cgroup, created_at,\n"
        "                       started_at, diskspace, diskinodes (used/limit), plan...;\n"
        "                       rx_bytes, rx_packets, tx_bytes, tx_packets: traffic over\n"
        "                       all runs (until set --reset-counters)\n"
        "                       (default: id,status,pid,hostname,ip,ostemplate)\n"
        "  -H, --no-header      do not print the header line\n"
        "  -j, --json           print a JSON array (with -o, objects with those keys only)\n"
        "  -h, --help           print this help and exit\n";

struct list_opts {
        bool all;
        bool all_nodes;
        bool header;
        bool json;
        char **fields; /* from -o, NULL for the default columns */
};

static void list_opts_done(struct list_opts *o)
{
        vps_strvfreep(&o->fields);
}

static int parse(struct vpsctl *v, int argc, char **argv, struct list_opts *o)
{
        static const struct option options[] = {
                {"all", no_argument, NULL, 'a'},
                {"output", required_argument, NULL, 'o'},
                {"no-header", no_argument, NULL, 'H'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {"all-nodes", no_argument, NULL, 'N'},
                {0},
        };
        vps_error err = {0};
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, ":ao:Hjh", options, NULL)) != -1) {
                switch (c) {
                case 'a':
                        o->all = true;
                        break;
                case 'o':
                        vps_strvfreep(&o->fields); /* the last -o wins */
                        o->fields = NULL;
                        if (format_fields_parse(optarg, &o->fields, &err) < 0)
                                return vpsctl_usage_error(v, "%s", err.msg);
                        break;
                case 'N':
                        o->all_nodes = true;
                        break;
                case 'H':
                        o->header = false;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'h':
                        return vpsctl_help(list_usage);
                default:
                        return vpsctl_opt_error(v, c, argv);
                }
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        return CMD_CONTINUE;
}

/* The rows to show: without -a only VPSes that are up ("running", "stopping" ones, which
 * still have processes, and "backoff" ones, which vpsd starts again), sorted by ID as vzlist
 * does. */
static json_t *select_rows(const json_t *all, bool include_stopped)
{
        _cleanup_json_ json_t *up = include_stopped
                                            ? json_incref((json_t *)all)
                                            : format_filter(all, "status", "stopped", false);
        return up ? format_sort(up, "id") : NULL;
}

static int print_rows(const json_t *rows, const struct list_opts *o)
{
        char *const *fields = o->fields ? o->fields : format_vps_default_fields;

        if (o->json) {
                _cleanup_json_ json_t *out =
                        o->fields ? format_project(rows, o->fields) : json_incref((json_t *)rows);
                if (!out)
                        return vpsctl_fail("cannot format the list: out of memory");
                return vpsctl_print_json(out);
        }
        int r = format_table(stdout, rows, fields, o->header);
        if (r < 0)
                return vpsctl_fail("writing the list: %s", strerror(-r));
        return 0;
}

/* -j: vpsd's text straight to standard output as it comes (no copy of a list of 10,000 VPSes
 * held); its first character must open an array. */
struct raw_out {
        bool begun;
};

static int raw_chunk(const char *data, size_t len, void *arg)
{
        struct raw_out *o = arg;
        if (!o->begun) {
                size_t sp = 0;
                while (sp < len && strchr(" \t\r\n", data[sp]))
                        sp++;
                if (sp == len)
                        return 0;
                if (data[sp] != '[')
                        return -EBADMSG;
                o->begun = true;
        }
        return fwrite(data, 1, len, stdout) == len ? 0 : -EIO;
}

static int print_raw(struct vpsctl *v, bool all)
{
        struct raw_out o = {0};
        vps_error err = {0};
        char path[32];
        (void)snprintf(path, sizeof(path), "/v1/vps?up=%d&pretty=1", all ? 0 : 1);
        int r = client_request_stream(&v->target, path, TIMEOUT_SHORT, raw_chunk, &o, &err);
        if (r == -EBADMSG || (r == 0 && !o.begun))
                return vpsctl_fail("unexpected reply from vpsd: GET /v1/vps is not an array");
        if (r == -EIO || (r == 0 && fflush(stdout) != 0))
                return vpsctl_fail("writing to standard output: %s", strerror(errno));
        return r < 0 ? vpsctl_fail_err(&err) : 0;
}

/* The table of the default columns: vpsd's text scanned for their keys alone (no tree of
 * every key of every VPS: 10,000 VPSes are about 7 MB of JSON). */
static int list_table(struct vpsctl *v, const struct list_opts *o)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        _cleanup_json_ json_t *all = NULL;
        _cleanup_json_ json_t *rows = NULL;
        vps_error err = {0};
        char path[32];
        (void)snprintf(path, sizeof(path), "/v1/vps?up=%d", o->all ? 0 : 1);
        if (client_request_text(&v->target, path, TIMEOUT_SHORT, &text, &len, &err) < 0)
                return vpsctl_fail_err(&err);
        /* The columns, among them id and status, which select_rows reads. */
        if (format_scan_rows(text ? text : "", text ? len : 0, format_vps_default_fields, &all,
                             &err) < 0)
                return vpsctl_fail("unexpected reply from vpsd: GET /v1/vps is not an array");
        rows = select_rows(all, o->all);
        if (!rows)
                return vpsctl_fail("cannot build the list: out of memory");
        return print_rows(rows, o);
}

/* --all-nodes: the fleet's records, as the cluster's vpsd reads them from etcd. */
static int list_all_nodes(struct vpsctl *v, struct list_opts *o)
{
        static char *const fields[] = {"id", "node", "status", "ip", NULL};
        _cleanup_json_ json_t *all = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &all, &err, "/v1/vps?all_nodes=1") < 0)
                return vpsctl_fail_err(&err);
        if (!json_is_array(all))
                return vpsctl_fail("unexpected reply from vpsd: GET /v1/vps is not an array");
        const char *unknown = o->fields ? format_fields_unknown(o->fields, fields, all) : NULL;
        if (unknown)
                return vpsctl_usage_error(v, "unknown field '%s'", unknown);
        _cleanup_json_ json_t *rows = format_sort(all, "id");
        if (!rows)
                return vpsctl_fail("cannot build the list: out of memory");
        if (o->json && !o->fields)
                return vpsctl_print_json(rows);
        if (o->json)
                return print_rows(rows, o);
        int r = format_table(stdout, rows, o->fields ? o->fields : fields, o->header);
        return r < 0 ? vpsctl_fail("writing the list: %s", strerror(-r)) : 0;
}

int cmd_list(struct vpsctl *v, int argc, char **argv)
{
        _cleanup_(list_opts_done) struct list_opts o = {.header = true};
        _cleanup_json_ json_t *all = NULL;
        _cleanup_json_ json_t *rows = NULL;
        vps_error err = {0};

        int r = parse(v, argc, argv, &o);
        if (r != CMD_CONTINUE)
                return r;
        /* Usage fields cost vpsd a few cgroup reads per VPS: asked for only when shown. */
        bool stats = false;
        for (char **f = o.fields; f && *f; f++)
                for (const char *const *s = vps_stats_fields; *s; s++)
                        stats |= strcmp(*f, *s) == 0;
        /* vpsd filters (up=1) and sorts by ID itself. Plain -j prints its answer as it comes
         * (pretty=1: indented as vpsctl_print_json would): no parse of a list that is about
         * 700 bytes per VPS. */
        if (o.all_nodes)
                return list_all_nodes(v, &o);
        if (o.json && !o.fields)
                return print_raw(v, o.all);
        if (!o.json && !o.fields)
                return list_table(v, &o);
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &all, &err, "/v1/vps?up=%d%s",
                           o.all ? 0 : 1, stats ? "&stats=1" : "") < 0)
                return vpsctl_fail_err(&err);
        if (!json_is_array(all))
                return vpsctl_fail("unexpected reply from vpsd: GET /v1/vps is not an array");

        /* Fields are checked against the reply too: a key a newer vpsd sends is a field. */
        const char *unknown =
                o.fields ? format_fields_unknown(o.fields, format_vps_fields, all) : NULL;
        if (unknown)
                return vpsctl_usage_error(v, "unknown field '%s'", unknown);

        rows = select_rows(all, o.all);
        if (!rows)
                return vpsctl_fail("cannot build the list: out of memory");
        return print_rows(rows, &o);
}
