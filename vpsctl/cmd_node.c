/* vpsctl node drain|undrain NAME: a node of the fleet made unschedulable (create --node auto
 * skips it, create --node NAME refuses it) or schedulable again, in etcd through this host's
 * vpsd. Moving a drained node's VPSes away is migrate's (vpsctl migrate ID DEST, over ssh),
 * which drain does not run yet: it lists them. */
#include "vpsctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"

static const char node_usage[] =
        "Usage: vpsctl node drain|undrain NAME [-j]\n"
        "\n"
        "drain NAME    mark node NAME unschedulable: create --node auto skips it and\n"
        "              create --node NAME refuses it. The VPSes it still owns are listed;\n"
        "              drain does not move them (yet): 'vpsctl migrate ID DEST' on that\n"
        "              node moves one over ssh; drain exits 5 while any remain\n"
        "undrain NAME  make node NAME schedulable again\n"
        "\n"
        "Options:\n"
        "  -j, --json  print vpsd's answer as JSON\n"
        "  -h, --help  print this help and exit\n";

int cmd_node(struct vpsctl *v, int argc, char **argv)
{
        bool json = false;
        int r = vpsctl_parse_json_opt(v, argc, argv, node_usage, &json);
        if (r != CMD_CONTINUE)
                return r;
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing drain or undrain");
        const char *sub = argv[optind];
        if (strcmp(sub, "drain") && strcmp(sub, "undrain"))
                return vpsctl_usage_error(v, "unknown node command '%s' (drain, undrain)", sub);
        if (optind + 1 >= argc)
                return vpsctl_usage_error(v, "missing the node's NAME");
        if (optind + 2 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 2]);
        const char *name = argv[optind + 1];
        vpsctl_json_errors(json);
        _cleanup_json_ json_t *ret = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "POST", NULL, TIMEOUT_SHORT, &ret, &err, "/v1/nodes/%s/%s", name,
                           sub) < 0)
                return vpsctl_fail_err(&err);
        json_t *ids = json_object_get(ret, "vps");
        size_t n = json_array_size(ids);
        if (json)
                (void)vpsctl_print_json(ret);
        else if (!strcmp(sub, "undrain"))
                printf("node %s is schedulable\n", name);
        else
                printf("node %s is unschedulable (drained)\n", name);
        if (!n)
                return 0;
        if (!json) {
                size_t i;
                json_t *id;
                json_array_foreach(ids, i, id) printf("  VPS %s is still on node %s\n",
                                                      json_string_value(id) ?: "?", name);
        }
        fprintf(stderr,
                "vpsctl: %zu VPS%s still on node %s: moving them needs 'vpsctl migrate', "
                "which drain does not run yet\n",
                n, n == 1 ? "" : "es", name);
        return EXIT_STATE;
}
