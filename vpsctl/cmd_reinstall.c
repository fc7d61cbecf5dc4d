/* vpsctl reinstall: a fresh root from a template, the VPS's ID, limits, addresses and
 * hostname kept, the old root kept as a snapshot (POST /v1/vps/ID/reinstall). */
#include "vpsctl.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vps/cleanup.h"
#include "vps/util.h"

static const char reinstall_usage[] =
        "Usage: vpsctl reinstall ID [--ostemplate T] [--userpasswd USER:PASS] [--ssh-key FILE]\n"
        "                         [--no-keep] [-j]\n"
        "\n"
        "Give the VPS ID a fresh root from its template (or T): what it changed is gone,\n"
        "its ID, limits, addresses and hostname stay. The old root is kept as the snapshot\n"
        "reinstall-YYYYmmdd-HHMMSS (snapshot-switch brings it back) unless --no-keep.\n"
        "A running VPS is stopped first and started again after, and the command says so.\n"
        "On a terminal, the progress of the walk of the old root (files and MiB, kept as\n"
        "the snapshot) is shown on standard error.\n"
        "\n"
        "Options:\n"
        "  --ostemplate T           the template of the new root (default: the VPS's)\n"
        "  --userpasswd USER:PASS   set a user's password in the new root\n"
        "  --ssh-key FILE           add the public keys in FILE to root's authorized_keys\n"
        "  --no-keep                do not keep the old root\n"
        "  -j, --json               no progress; print the answer as JSON\n"
        "  -h, --help               print this help and exit\n";

enum { OPT_TPL = 256, OPT_PW, OPT_KEY, OPT_NOKEEP };

int cmd_reinstall(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"ostemplate", required_argument, NULL, OPT_TPL},
                {"userpasswd", required_argument, NULL, OPT_PW},
                {"ssh-key", required_argument, NULL, OPT_KEY},
                {"no-keep", no_argument, NULL, OPT_NOKEEP},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *tpl = NULL, *pw = NULL;
        _cleanup_free_ char *keys = NULL;
        bool json = false, keep = true;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                vps_error e = {0};
                switch (c) {
                case 'h':
                        return vpsctl_help(reinstall_usage);
                case 'j':
                        json = true;
                        break;
                case OPT_TPL:
                        tpl = optarg;
                        break;
                case OPT_PW:
                        pw = optarg;
                        break;
                case OPT_KEY:
                        free(keys);
                        keys = NULL;
                        if (vps_read_file_at(AT_FDCWD, optarg, &keys, NULL, &e) < 0)
                                return vpsctl_fail("--ssh-key %s: %s", optarg, e.msg);
                        break;
                case OPT_NOKEEP:
                        keep = false;
                        break;
                default:
                        return vpsctl_opt_error(v, c, argv);
                }
        }
        const char *id = NULL;
        int r = vpsctl_take_id(v, argc, argv, &id);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:b}", "keep", keep);
        if (!body || (tpl && json_object_set_new(body, "ostemplate", json_string(tpl)) < 0) ||
            (pw && json_object_set_new(body, "userpasswd", json_string(pw)) < 0) ||
            (keys && json_object_set_new(body, "ssh_key", json_string(keys)) < 0))
                return vpsctl_fail("cannot encode the request (is the text UTF-8?)");
        _cleanup_json_ json_t *answer = NULL;
        bool restarted = false;
        if ((r = vpsctl_run_stopped(v, id, "reinstall", body, "reinstall it",
                                    json ? NULL : "reinstall", &answer, &restarted)) != 0)
                return r;
        if (json)
                return vpsctl_print_json(answer);
        const char *snap = json_string_value(json_object_get(answer, "snapshot"));
        printf("VPS %s reinstalled from template %s%s%s%s\n", id,
               json_string_value(json_object_get(answer, "ostemplate")),
               snap ? "; the old root is snapshot " : "", snap ? snap : "",
               restarted ? " (stopped and started again)" : "");
        return 0;
}
