/* vpsctl pause, unpause, suspend and resume: POST /v1/vps/ID/ACTION and a one-line report. */
#include "vpsctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vps/cleanup.h"

static const char pause_usage[] =
        "Usage: vpsctl pause ID [-j]\n"
        "\n"
        "Pause the running VPS ID: freeze every process in it (cgroup.freeze), where it is,\n"
        "memory, files and connections kept, until 'vpsctl unpause'. Returns once all are\n"
        "frozen (at most 5 s, else it thaws them and fails). Meanwhile exec, enter, console and\n"
        "a set that changes the guest's files, hostname or addresses are refused; stop,\n"
        "restart and destroy --force thaw it first. It stays paused across a vpsd restart.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print the VPS object (status paused) as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char unpause_usage[] = "Usage: vpsctl unpause ID [-j]\n"
                                    "\n"
                                    "Let the processes of the paused VPS ID run again.\n"
                                    "\n"
                                    "Options:\n"
                                    "  -j, --json  print the VPS object (status running) as JSON\n"
                                    "  -h, --help  print this help and exit\n";

static const char suspend_usage[] =
        "Usage: vpsctl suspend ID [-t S] [-j]\n"
        "\n"
        "Suspend the running VPS ID to disk with CRIU: every process is dumped into\n"
        "ROOT/vps/ID/checkpoint (root's only), then the VPS stops; its status is suspended,\n"
        "also after a vpsd restart, and 'vpsctl resume' brings it back as it was. start,\n"
        "set, reinstall and snapshot-switch refuse while it is suspended; destroy removes\n"
        "the images. A dump that fails leaves the VPS running and no images. Refused,\n"
        "naming why, where vpsd cannot checkpoint ('vpsctl version') and for a paused VPS.\n"
        "A dump that has not finished within vpsd.conf's criu_timeout (default 300 s) is\n"
        "killed: the VPS runs on, no images are kept, and vpsctl exits with status 7.\n"
        "\n"
        "Options:\n"
        "  -t, --timeout S  criu's deadline for this dump (seconds, instead of criu_timeout)\n"
        "  -j, --json  print the VPS object as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char resume_usage[] =
        "Usage: vpsctl resume ID [-t S] [-f] [-j]\n"
        "\n"
        "Restore the suspended VPS ID from its images: the same processes, PIDs inside,\n"
        "boot id, sockets and addresses, in the cgroup vpsd makes with the VPS's limits; the\n"
        "images are removed once it runs. A restore that fails leaves it suspended with its\n"
        "images, and says why in one line. A suspended VPS with onboot resumes when vpsd\n"
        "starts instead of booting afresh. A restore that has not finished within\n"
        "vpsd.conf's criu_timeout (default 300 s) is killed with what it restored so far: the\n"
        "VPS stays suspended with its images, and vpsctl exits with status 7.\n"
        "A VPS marked migrated (migrate --online's fence: its copy on the destination may\n"
        "run) is refused, naming the destination, and onboot leaves it suspended.\n"
        "\n"
        "Options:\n"
        "  -t, --timeout S  criu's deadline for this restore (seconds, instead of criu_timeout)\n"
        "  -f, --force  resume it although it is marked migrated, and forget the mark (the\n"
        "               admin's: a token's resume cannot force)\n"
        "  -j, --json  print the VPS object as JSON\n"
        "  -h, --help  print this help and exit\n";

/* POST /v1/vps/ID/ACTION and "VPS ID DONE". criu: suspend and resume, which take -t S
 * ({"timeout": S}) and wait as long as vpsd's deadline of criu says (timeout is ignored);
 * resume also takes -f ({"force": true}). */
static int post_action(struct vpsctl *v, int argc, char **argv, const char *usage,
                       const char *action, const char *done, long timeout, bool criu)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"timeout", required_argument, NULL, 't'},
                {"force", no_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *id = NULL;
        bool json = false, force = false;
        bool forcible = !strcmp(action, "resume");
        long criu_s = 0;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, criu ? (forcible ? ":hjt:f" : ":hjt:") : ":hj", options,
                                NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(usage);
                if (c == 't' && (!vpsctl_parse_seconds(optarg, &criu_s) || criu_s < 1))
                        return vpsctl_usage_error(
                                v, "invalid timeout '%s': expected a number of seconds", optarg);
                if ((c != 'j' && c != 't' && c != 'f') || (c == 'f' && !forcible))
                        return vpsctl_opt_error(v, c, argv);
                json |= c == 'j';
                force |= c == 'f';
        }
        int r = vpsctl_take_id(v, argc, argv, &id);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = criu_s || force ? json_object() : NULL;
        if (criu_s)
                (void)json_object_set_new(body, "timeout", json_integer((json_int_t)criu_s));
        if (force)
                (void)json_object_set_new(body, "force", json_true());
        _cleanup_json_ json_t *answer = NULL;
        vps_error err = {0};
        /* vpsd kills criu at its deadline and answers then: no deadline of vpsctl's own. */
        if (vpsctl_request(v, "POST", body, criu ? TIMEOUT_NONE : timeout, &answer, &err,
                           "/v1/vps/%s/%s", id, action) < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(answer);
        printf("VPS %s %s\n", id, done);
        return 0;
}

int cmd_pause(struct vpsctl *v, int argc, char **argv)
{
        return post_action(v, argc, argv, pause_usage, "pause", "paused", TIMEOUT_SHORT, false);
}

int cmd_unpause(struct vpsctl *v, int argc, char **argv)
{
        return post_action(v, argc, argv, unpause_usage, "unpause", "unpaused", TIMEOUT_SHORT,
                           false);
}

int cmd_suspend(struct vpsctl *v, int argc, char **argv)
{
        return post_action(v, argc, argv, suspend_usage, "suspend", "suspended", TIMEOUT_NONE,
                           true);
}

int cmd_resume(struct vpsctl *v, int argc, char **argv)
{
        return post_action(v, argc, argv, resume_usage, "resume", "resumed", TIMEOUT_NONE, true);
}
