/* vpsctl nodes: the nodes of the fleet this vpsd belongs to (vpsd --cluster), as etcd's
 * records show them: up while a node's lease lives, down after. */
#include "vpsctl.h"
#include "format.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"

static const char nodes_usage[] =
        "Usage: vpsctl nodes [-H] [-j]\n"
        "\n"
        "List the nodes of the fleet (vpsd --cluster), read from etcd through this host's\n"
        "vpsd: name, state (up while its lease lives, down after), whether create --node auto\n"
        "may pick it (sched: yes, or drained by 'vpsctl node drain'), the VPSes it owns, its\n"
        "free RAM and disk, its load and where its API is reached.\n"
        "\n"
        "Options:\n"
        "  -H, --no-header  do not print the header line\n"
        "  -j, --json       print a JSON array (every field of each node's record)\n"
        "  -h, --help       print this help and exit\n";

int cmd_nodes(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"no-header", no_argument, NULL, 'H'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool json = false, header = true;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":Hjh", options, NULL)) != -1) {
                if (c == 'H')
                        header = false;
                else if (c == 'j')
                        json = true;
                else if (c == 'h')
                        return vpsctl_help(nodes_usage);
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        vpsctl_json_errors(json);
        _cleanup_json_ json_t *all = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &all, &err, "/v1/nodes") < 0)
                return vpsctl_fail_err(&err);
        if (!json_is_array(all))
                return vpsctl_fail("unexpected reply from vpsd: GET /v1/nodes is not an array");
        _cleanup_json_ json_t *rows = format_sort(all, "name");
        if (!rows)
                return vpsctl_fail("cannot build the list: out of memory");
        if (json)
                return vpsctl_print_json(rows);
        size_t i;
        json_t *n;
        json_array_foreach(rows, i, n)
        {
                static const char *const sizes[] = {"ram_free", "disk_free"};
                for (size_t k = 0; k < 2; k++) {
                        json_t *b = json_object_get(n, sizes[k]);
                        char buf[32] = "-";
                        if (json_is_integer(b))
                                format_size((uint64_t)json_integer_value(b), buf, sizeof(buf));
                        json_object_set_new(n, sizes[k], json_string(buf));
                }
                json_object_set_new(n, "vps", json_copy(json_object_get(n, "vps_owned")));
                /* node drain makes a node unschedulable */
                json_object_set_new(n, "sched",
                                    json_string(json_is_false(json_object_get(n, "schedulable"))
                                                        ? "drained"
                                                        : "yes"));
        }
        static char *const fields[] = {"name",      "state", "sched",     "vps", "ram_free",
                                       "disk_free", "load1", "advertise", NULL};
        int r = format_table(stdout, rows, fields, header);
        return r < 0 ? vpsctl_fail("writing the list: %s", strerror(-r)) : 0;
}
