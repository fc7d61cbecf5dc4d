/* vpsctl node drain|undrain NAME: a node of the fleet made unschedulable (create --node auto
 * skips it, create --node NAME refuses it) or schedulable again, in etcd through this host's
 * vpsd. A drain then moves every VPS the node owns to the node the placement rule picks
 * (migrate --to-node auto, on the drained node: through its remote API, with this node's
 * certificate, when it is another), reports each move and names those that could not. */
#include "vpsctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"

static const char node_usage[] =
        "Usage: vpsctl node drain NAME [--fast] [-j]\n"
        "       vpsctl node undrain NAME [-j]\n"
        "\n"
        "drain NAME    mark node NAME unschedulable (create --node auto skips it and\n"
        "              create --node NAME refuses it), then move each VPS it owns to the\n"
        "              node the placement rule picks (as 'vpsctl migrate ID --to-node\n"
        "              auto' run on NAME), reporting each move; exits 5 naming the\n"
        "              VPSes that could not move (they stay on NAME, as they were)\n"
        "undrain NAME  make node NAME schedulable again\n"
        "\n"
        "Options:\n"
        "  --fast      drain: each running VPS stopped without a clean halt (migrate --fast)\n"
        "  -j, --json  print the result as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char *str(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key)) ?: "";
}

/* Requests go to the drained node's vpsd (another node: its remote API, pinned from etcd,
 * with this node's certificate). */
static int target_node(struct vpsctl *v, json_t *ans, struct client_target *t, vps_error *err)
{
        if (!strcmp(str(ans, "self"), str(ans, "node")))
                return 0;
        if (!json_is_true(json_object_get(ans, "up")))
                return vps_err(err, EHOSTDOWN, "node %s is down: its VPSes cannot be moved now",
                               str(ans, "node"));
        if (!str(ans, "advertise")[0] || !str(ans, "pubkey")[0] || !str(ans, "fingerprint")[0])
                return vps_err(err, EOPNOTSUPP,
                               "node %s has no remote API: run the drain there to move its VPSes",
                               str(ans, "node"));
        *t = (struct client_target){.name = str(ans, "node"),
                                    .url = str(ans, "advertise"),
                                    .cert = str(ans, "cert"),
                                    .key = str(ans, "key"),
                                    .fingerprint = str(ans, "fingerprint"),
                                    .pubkey = str(ans, "pubkey")};
        v->target = *t;
        return 0;
}

static int drain_moves(struct vpsctl *v, json_t *ans, bool json, bool fast)
{
        const char *name = str(ans, "node");
        json_t *ids = json_object_get(ans, "vps");
        _cleanup_json_ json_t *moved = json_array(), *failed = json_array();
        struct client_target t;
        vps_error err = {0};
        if (json_array_size(ids) && target_node(v, ans, &t, &err) < 0) {
                size_t i;
                json_t *id;
                json_array_foreach(ids, i, id) json_array_append_new(
                        failed, json_pack("{s:O, s:s}", "id", id, "error", err.msg));
        } else {
                size_t i;
                json_t *id;
                json_array_foreach(ids, i, id)
                {
                        json_t *res = NULL;
                        vps_error e = {0};
                        int r = vpsctl_migrate_node(v, json_string_value(id), "auto", fast, &res,
                                                    &e);
                        if (r == 0 && res) {
                                json_array_append_new(moved, res);
                                if (!json)
                                        printf("VPS %s moved to node %s in %.2f s\n",
                                               json_string_value(id), str(res, "node"),
                                               json_real_value(json_object_get(res, "seconds")));
                        } else {
                                json_decref(res);
                                json_array_append_new(failed,
                                                      json_pack("{s:O, s:s}", "id", id, "error",
                                                                e.msg[0] ? e.msg : "it failed"));
                        }
                }
        }
        size_t n = json_array_size(failed);
        if (json) {
                json_object_set(ans, "moved", moved);
                json_object_set(ans, "failed", failed);
                json_object_del(ans, "cert");
                json_object_del(ans, "key");
                (void)vpsctl_print_json(ans);
        }
        if (!n)
                return 0;
        char list[1024] = "";
        size_t used = 0, i;
        json_t *f;
        json_array_foreach(failed, i, f) if (used < sizeof(list)) used += (size_t)snprintf(
                list + used, sizeof(list) - used, "%s%s", i ? ", " : "", str(f, "id"));
        fprintf(stderr, "vpsctl: %zu VPS%s could not move off node %s: %s%s%s\n", n,
                n == 1 ? "" : "es", name, list, err.msg[0] ? ": " : "", err.msg);
        return EXIT_STATE;
}

int cmd_node(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {"fast", no_argument, NULL, 'F'},
                {0},
        };
        bool json = false, fast = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(node_usage);
                else if (c == 'j')
                        json = true;
                else if (c == 'F')
                        fast = true;
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing drain or undrain");
        const char *sub = argv[optind];
        if (strcmp(sub, "drain") && strcmp(sub, "undrain"))
                return vpsctl_usage_error(v, "unknown node command '%s' (drain, undrain)", sub);
        if (optind + 1 >= argc)
                return vpsctl_usage_error(v, "missing the node's NAME");
        if (optind + 2 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 2]);
        if (fast && strcmp(sub, "drain"))
                return vpsctl_usage_error(v, "--fast is for node drain");
        const char *name = argv[optind + 1];
        vpsctl_json_errors(json);
        _cleanup_json_ json_t *ret = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "POST", NULL, TIMEOUT_SHORT, &ret, &err, "/v1/nodes/%s/%s", name,
                           sub) < 0)
                return vpsctl_fail_err(&err);
        if (!strcmp(sub, "undrain")) {
                if (json)
                        return vpsctl_print_json(ret);
                printf("node %s is schedulable\n", name);
                return 0;
        }
        if (!json)
                printf("node %s is unschedulable (drained); %zu VPS%s to move\n", name,
                       json_array_size(json_object_get(ret, "vps")),
                       json_array_size(json_object_get(ret, "vps")) == 1 ? "" : "es");
        return drain_moves(v, ret, json, fast);
}
