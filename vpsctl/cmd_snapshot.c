/* vpsctl snapshot, snapshot-list, snapshot-delete, snapshot-switch: named copies of a VPS's
 * own files (its upper layer) and the way back to them (/v1/vps/ID/snapshots...). */
#include "vpsctl.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vps/cleanup.h"

static const char snapshot_usage[] =
        "Usage: vpsctl snapshot ID [--name NAME] [--description TEXT] [-j]\n"
        "\n"
        "Take a snapshot of the VPS ID: a copy of what it changed from its template (its\n"
        "upper layer), reflinked where the storage can (XFS with reflink, btrfs), copied\n"
        "otherwise. A running VPS is frozen (cgroup.freeze) while its files are captured,\n"
        "so the snapshot is consistent; the frozen time is printed. Snapshots do not count\n"
        "toward --diskspace; snapshot-list and stats show their size. On a terminal, the\n"
        "copy's progress (a percentage of the bytes to copy) is shown on standard error.\n"
        "\n"
        "Options:\n"
        "  --name NAME         letters, digits, '.', '_', '-' (at most 64, first a letter\n"
        "                      or digit; default: the time, YYYYmmdd-HHMMSS UTC)\n"
        "  --description TEXT  a note kept with it (at most 256 bytes)\n"
        "  -j, --json          no progress; print the snapshot as JSON\n"
        "  -h, --help          print this help and exit\n";

static const char list_usage[] =
        "Usage: vpsctl snapshot-list ID [-j]\n"
        "\n"
        "List the snapshots of the VPS ID, oldest first: name, when taken, size (bytes\n"
        "allocated by its files), how long the VPS was frozen, and the description.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print the list as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char delete_usage[] = "Usage: vpsctl snapshot-delete ID NAME [-j]\n"
                                   "\n"
                                   "Delete the snapshot NAME of the VPS ID.\n"
                                   "\n"
                                   "Options:\n"
                                   "  -j, --json  print the answer as JSON\n"
                                   "  -h, --help  print this help and exit\n";

static const char switch_usage[] =
        "Usage: vpsctl snapshot-switch ID NAME [-j]\n"
        "\n"
        "Roll the VPS ID back to its snapshot NAME: its files become the snapshot's (the\n"
        "snapshot stays). A running VPS is stopped first and started again after, and the\n"
        "command says so. On a terminal, the copy's progress (a percentage of the bytes to\n"
        "copy) is shown on standard error.\n"
        "\n"
        "Options:\n"
        "  -j, --json  no progress; print the answer as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char mount_usage[] =
        "Usage: vpsctl snapshot-mount ID NAME DIR [-j]\n"
        "\n"
        "Show the snapshot NAME of the VPS ID on the host directory DIR (absolute, empty, no\n"
        "symlink on its path): its whole tree (the template with the snapshot's changes over\n"
        "it), read-only, nosuid, nodev, noexec, to fetch single files back; the mount's root\n"
        "is root's and 0700 (other host users read nothing). Owners show as host ids (the\n"
        "VPS's range). Its symlinks are the guest's: an absolute one names a host path (cp -P).\n"
        "\n"
        "Options:\n"
        "  -j, --json  print the answer as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char umount_usage[] =
        "Usage: vpsctl snapshot-umount ID NAME [-j]\n"
        "\n"
        "Unmount the snapshot NAME of the VPS ID from where snapshot-mount put it.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print the answer as JSON\n"
        "  -h, --help  print this help and exit\n";

enum { OPT_NAME = 256, OPT_DESC };

struct snap_opts {
        const char *id, *name, *desc, *dir;
        bool json;
};

/* Options, then ID and (nargs 2) NAME. */
static int parse(struct vpsctl *v, int argc, char **argv, const char *usage, bool with_name_opts,
                 int nargs, struct snap_opts *o)
{
        static const struct option all[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {"name", required_argument, NULL, OPT_NAME},
                {"description", required_argument, NULL, OPT_DESC},
                {0},
        };
        static const struct option few[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        *o = (struct snap_opts){0};
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", with_name_opts ? all : few, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return vpsctl_help(usage);
                case 'j':
                        o->json = true;
                        break;
                case OPT_NAME:
                        o->name = optarg;
                        break;
                case OPT_DESC:
                        o->desc = optarg;
                        break;
                default:
                        return vpsctl_opt_error(v, c, argv);
                }
        }
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing VPS ID");
        int r = vpsctl_check_id(argv[optind]);
        if (r != CMD_CONTINUE)
                return r;
        o->id = argv[optind++];
        if (nargs >= 2) {
                if (optind >= argc)
                        return vpsctl_usage_error(v, "missing snapshot NAME");
                o->name = argv[optind++];
        }
        if (nargs == 3) {
                if (optind >= argc)
                        return vpsctl_usage_error(v, "missing DIR");
                o->dir = argv[optind++];
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        return CMD_CONTINUE;
}

static int post(struct vpsctl *v, const char *id, const char *action, json_t *body, long timeout,
                json_t **answer)
{
        vps_error err = {0};
        if (vpsctl_request(v, "POST", body, timeout, answer, &err, "/v1/vps/%s/%s", id, action) < 0)
                return vpsctl_fail_err(&err);
        return 0;
}

/* A command of ID NAME alone: POST {"name"} to ACTION; CMD_CONTINUE with the answer. */
static int post_name(struct vpsctl *v, int argc, char **argv, const char *usage, const char *action,
                     struct snap_opts *o, json_t **answer)
{
        int r = parse(v, argc, argv, usage, false, 2, o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:s}", "name", o->name);
        if (!body)
                return vpsctl_fail("cannot encode the request");
        r = post(v, o->id, action, body, TIMEOUT_NONE, answer);
        return r ? r : CMD_CONTINUE;
}

int cmd_snapshot(struct vpsctl *v, int argc, char **argv)
{
        struct snap_opts o;
        int r = parse(v, argc, argv, snapshot_usage, true, 1, &o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = json_object();
        if (!body || (o.name && json_object_set_new(body, "name", json_string(o.name)) < 0) ||
            (o.desc && json_object_set_new(body, "description", json_string(o.desc)) < 0))
                return vpsctl_fail("cannot encode the request (is the text UTF-8?)");
        _cleanup_json_ json_t *answer = NULL;
        vps_error err = {0};
        if (vpsctl_copy_request(v, o.json ? NULL : "snapshot", body, &answer, &err,
                                "/v1/vps/%s/snapshots", o.id) < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s: snapshot %s taken (%lld bytes; frozen %.2f ms)\n", o.id,
               json_string_value(json_object_get(answer, "name")),
               (long long)json_integer_value(json_object_get(answer, "size")),
               json_number_value(json_object_get(answer, "frozen_ms")));
        return 0;
}

int cmd_snapshot_list(struct vpsctl *v, int argc, char **argv)
{
        struct snap_opts o;
        int r = parse(v, argc, argv, list_usage, false, 1, &o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *answer = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &answer, &err, "/v1/vps/%s/snapshots",
                           o.id) < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        printf("%-24s %-20s %14s %10s %s\n", "NAME", "CREATED", "SIZE", "FROZEN_MS", "DESCRIPTION");
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(answer, "snapshots"), i, s)
        {
                time_t t = (time_t)json_integer_value(json_object_get(s, "created_at"));
                struct tm tm;
                char when[32] = "-";
                if (gmtime_r(&t, &tm))
                        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("%-24s %-20s %14lld %10.2f %s\n",
                       json_string_value(json_object_get(s, "name")), when,
                       (long long)json_integer_value(json_object_get(s, "size")),
                       json_number_value(json_object_get(s, "frozen_ms")),
                       json_string_value(json_object_get(s, "description")) ?: "");
        }
        return 0;
}

int cmd_snapshot_delete(struct vpsctl *v, int argc, char **argv)
{
        struct snap_opts o;
        _cleanup_json_ json_t *answer = NULL;
        int r = post_name(v, argc, argv, delete_usage, "snapshot-delete", &o, &answer);
        if (r != CMD_CONTINUE)
                return r;
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s: snapshot %s deleted\n", o.id, o.name);
        return 0;
}

int vpsctl_run_stopped(struct vpsctl *v, const char *id, const char *action, json_t *body,
                       const char *what, const char *progress, json_t **answer, bool *ret_restarted)
{
        _cleanup_json_ json_t *vps = NULL, *stopped = NULL, *started = NULL;
        vps_error err = {0};
        if (vpsctl_get_vps(v, id, &vps, &err) < 0)
                return vpsctl_fail_err(&err);
        const char *st = json_string_value(json_object_get(vps, "status"));
        bool running = st && strcmp(st, "stopped") != 0;
        *ret_restarted = running;
        int r;
        if (running) {
                /* Whatever would refuse it, said before the VPS is stopped. */
                _cleanup_json_ json_t *dry = json_deep_copy(body), *ok = NULL;
                if (!dry || json_object_set_new(dry, "dry_run", json_true()) < 0)
                        return vpsctl_fail("cannot encode the request");
                if ((r = post(v, id, action, dry, TIMEOUT_SHORT, &ok)) != 0)
                        return r;
                fprintf(stderr, "VPS %s is running: stopping it to %s\n", id, what);
                _cleanup_json_ json_t *sb = json_object();
                if ((r = post(v, id, "stop", sb, TIMEOUT_NONE, &stopped)) != 0)
                        return r;
        }
        if ((r = vpsctl_copy_request(v, progress, body, answer, &err, "/v1/vps/%s/%s", id,
                                     action)) < 0)
                r = vpsctl_fail_err(&err);
        if (running) {
                /* Started again even when it failed: it runs as it was. */
                fprintf(stderr, "VPS %s: starting it again%s\n", id, r ? " (unchanged)" : "");
                int s = post(v, id, "start", NULL, TIMEOUT_LONG, &started);
                if (r == 0)
                        r = s;
        }
        if (r == 0)
                json_object_set_new(*answer, "restarted", json_boolean(running));
        return r;
}

int cmd_snapshot_switch(struct vpsctl *v, int argc, char **argv)
{
        struct snap_opts o;
        int r = parse(v, argc, argv, switch_usage, false, 2, &o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:s}", "name", o.name);
        _cleanup_json_ json_t *answer = NULL;
        if (!body)
                return vpsctl_fail("cannot encode the request");
        char what[128];
        (void)snprintf(what, sizeof(what), "switch to snapshot %s", o.name);
        bool restarted = false;
        if ((r = vpsctl_run_stopped(v, o.id, "snapshot-switch", body, what,
                                    o.json ? NULL : "snapshot-switch", &answer, &restarted)) != 0)
                return r;
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s switched to snapshot %s%s\n", o.id, o.name,
               restarted ? " (stopped and started again)" : "");
        return 0;
}

int cmd_snapshot_mount(struct vpsctl *v, int argc, char **argv)
{
        struct snap_opts o;
        int r = parse(v, argc, argv, mount_usage, false, 3, &o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", o.name, "dir", o.dir);
        _cleanup_json_ json_t *answer = NULL;
        if (!body)
                return vpsctl_fail("cannot encode the request (is DIR UTF-8?)");
        if ((r = post(v, o.id, "snapshot-mount", body, TIMEOUT_SHORT, &answer)) != 0)
                return r;
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s: snapshot %s mounted read-only on %s\n", o.id, o.name, o.dir);
        return 0;
}

int cmd_snapshot_umount(struct vpsctl *v, int argc, char **argv)
{
        struct snap_opts o;
        _cleanup_json_ json_t *answer = NULL;
        int r = post_name(v, argc, argv, umount_usage, "snapshot-umount", &o, &answer);
        if (r != CMD_CONTINUE)
                return r;
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s: snapshot %s unmounted from %s\n", o.id, o.name,
               json_string_value(json_object_get(answer, "dir")));
        return 0;
}
