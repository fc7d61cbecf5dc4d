/* vpsctl clone: a copy of a VPS with a new identity (POST /v1/vps/ID/clone). */
#include "vpsctl.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "vps/cleanup.h"

static const char clone_usage[] =
        "Usage: vpsctl clone ID NEWID [--hostname H] [--ipadd ADDR]... [-j]\n"
        "\n"
        "Make the VPS NEWID a copy of ID: the same template, files (reflinked where the\n"
        "storage can; a running ID is frozen while they are copied), limits and settings, with\n"
        "a new identity: its own uid range (files moved into it), disk project, MAC, no\n"
        "machine-id or ssh host keys (made anew at its first boot), its own hostname\n"
        "(default vpsNEWID), and no addresses or port forwards unless given. NEWID is stopped.\n"
        "On a terminal, the copy's progress (a percentage of the bytes to copy) is shown on\n"
        "standard error.\n"
        "\n"
        "Options:\n"
        "  --hostname H    the clone's hostname\n"
        "  --ipadd ADDR    an address of the clone (repeatable)\n"
        "  -j, --json      no progress; print the new VPS as JSON\n"
        "  -h, --help      print this help and exit\n";

enum { OPT_HOST = 256, OPT_IPADD };

int cmd_clone(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"hostname", required_argument, NULL, OPT_HOST},
                {"ipadd", required_argument, NULL, OPT_IPADD},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        _cleanup_json_ json_t *body = json_object(), *ips = json_array();
        bool json = false;
        int c;
        if (!body || !ips)
                return vpsctl_fail("out of memory");
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(clone_usage);
                else if (c == 'j')
                        json = true;
                else if (c == OPT_HOST)
                        json_object_set_new(body, "hostname", json_string(optarg));
                else if (c == OPT_IPADD)
                        json_array_append_new(ips, json_string(optarg));
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        if (optind + 2 > argc)
                return vpsctl_usage_error(v, "missing %s", optind >= argc ? "VPS ID" : "NEWID");
        if (optind + 2 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 2]);
        const char *id = argv[optind], *new_id = argv[optind + 1];
        int r = vpsctl_check_id(id);
        if (r == CMD_CONTINUE)
                r = vpsctl_check_id(new_id);
        if (r != CMD_CONTINUE)
                return r;
        json_object_set_new(body, "id", json_string(new_id));
        json_object_set(body, "ip", ips);
        _cleanup_json_ json_t *answer = NULL;
        vps_error err = {0};
        if (vpsctl_copy_request(v, json ? NULL : "clone", body, &answer, &err, "/v1/vps/%s/clone",
                                id) < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(answer);
        printf("VPS %s cloned to %s (frozen %.2f ms)\n", id, new_id,
               json_number_value(json_object_get(answer, "frozen_ms")));
        return 0;
}
