/* vpsctl exec and enter: read where the VPS runs from vpsd, then join it directly with
 * vps_attach_run() (see docs/api.md, "exec and enter"); the command's status is ours. */
#include "vpsctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sandbox.h"
#include "vps/cleanup.h"

static const char exec_usage[] =
        "Usage: vpsctl exec ID [-t] [--] CMD [ARGS...]\n"
        "\n"
        "Run CMD in the running VPS ID with the caller's standard input and output, and exit\n"
        "with its status (128+N when killed by signal N). '--' is needed only when CMD starts\n"
        "with '-'. No fd of the caller's enters the VPS: CMD runs in its own session, its\n"
        "stdin, stdout and stderr are pipes that vpsctl relays (with -t, a pty of the VPS's).\n"
        "Without -t, SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT to vpsctl go to CMD's\n"
        "process group; a second one while CMD still runs kills it, and vpsctl exits with\n"
        "128 + the first signal (130 after Ctrl-C). When vpsctl's output closes (| head),\n"
        "CMD's does too: it gets SIGPIPE at its next write and vpsctl exits quietly with its\n"
        "status (141 after SIGPIPE).\n"
        "With --remote (or VPSCTL_REMOTE), vpsd runs CMD (POST /v1/vps/ID/exec; a token needs\n"
        "the exec verb); locally vpsctl joins the VPS itself.\n"
        "\n"
        "Options:\n"
        "  -t, --tty   give CMD a terminal (for interactive programs)\n"
        "  -h, --help  print this help and exit\n";

static const char enter_usage[] =
        "Usage: vpsctl enter ID\n"
        "\n"
        "Open a login shell (bash if the VPS has it, else sh) on a new terminal in the\n"
        "running VPS ID. Exit the shell to leave. With --remote, through vpsd (verb exec).\n"
        "\n"
        "Options:\n"
        "  -h, --help  print this help and exit\n";

/* Runs argv in the VPS: refuses a VPS that is not running, since it has no init to join. */
static int run_in_vps(const struct vpsctl *v, const char *id, char *const *argv, bool pty)
{
        _cleanup_json_ json_t *vps = NULL;
        vps_error err = {0};
        int status = 0;

        /* A remote's VPS: vpsd runs the command (exec_remote.c). */
        if (v->target.url)
                return vpsctl_exec_remote(v, id, argv, pty);
        if (vpsctl_get_vps(v, id, &vps, &err) < 0)
                return vpsctl_fail_err(&err);
        const char *state = json_string_value(json_object_get(vps, "status"));
        /* Its processes frozen: the command would be born frozen too, and wait. */
        if (state && strcmp(state, "paused") == 0) {
                vps_err(&err, EBUSY,
                        "VPS %s is paused: unpause it (vpsctl unpause %s) to run a command in it",
                        id, id);
                return vpsctl_fail_err(&err);
        }
        if (!state || strcmp(state, "running") != 0) {
                vps_err(&err, EALREADY, "VPS %s is not running", id);
                return vpsctl_fail_err(&err);
        }

        /* the start time is what tells our init from a later process that reused its PID */
        json_int_t pid = json_integer_value(json_object_get(vps, "pid"));
        const json_t *starttime = json_object_get(vps, "pid_starttime");
        if (pid <= 0 || !json_is_integer(starttime) || json_integer_value(starttime) < 0)
                return vpsctl_fail("vpsd reported no init process for VPS %s", id);

        /* An older vpsd gives no pid_ino: then the start time decides. */
        json_int_t ino = json_integer_value(json_object_get(vps, "pid_ino"));
        const struct vps_attach_target target = {
                .pid = (pid_t)pid,
                .starttime = (unsigned long long)json_integer_value(starttime),
                .pidfd_ino = ino > 0 ? (uint64_t)ino : 0,
                .cgroup = json_string_value(json_object_get(vps, "cgroup")),
        };
        /* vpsd answers the command's sysinfo(2) as it does for the VPS's own processes; an
         * older vpsd without the socket: the command sees the host's figures. */
        vps_error ignored;
        const char *si = json_string_value(json_object_get(vps, "sysinfo_socket"));
        _cleanup_close_ int si_sock = si ? vps_attach_sysinfo_connect(si, &ignored) : -1;
        const struct vps_attach_opts opts = {.argv = argv, .pty = pty, .sysinfo_sock = si_sock};

        (void)fflush(NULL); /* nothing buffered may be written twice by a child */
        if (vps_attach_run(&target, &opts, &status, &err) < 0)
                return vpsctl_fail_err(&err);
        return status;
}

/* Options may come before the ID and between the ID and CMD ("exec -t 101 ls" and
 * "exec 101 -t ls"); "+" stops at the first word that is not an option, so that the
 * options of CMD ("exec 101 ls -l") stay CMD's. Returns CMD_CONTINUE or an exit status. */
static int parse_exec_options(struct vpsctl *v, int argc, char **argv, bool *pty)
{
        static const struct option options[] = {
                {"tty", no_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "+:th", options, NULL)) != -1) {
                if (c == 't')
                        *pty = true;
                else if (c == 'h')
                        return vpsctl_help(exec_usage);
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        return CMD_CONTINUE;
}

int cmd_exec(struct vpsctl *v, int argc, char **argv)
{
        bool pty = false;

        optind = 0;
        int r = parse_exec_options(v, argc, argv, &pty);
        if (r != CMD_CONTINUE)
                return r;
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing VPS ID");

        /* Parse again from the ID on: it plays the part of argv[0], which getopt skips. */
        char **rest = argv + optind;
        int nrest = argc - optind;
        optind = 0;
        r = parse_exec_options(v, nrest, rest, &pty);
        if (r != CMD_CONTINUE)
                return r;
        if (optind >= nrest)
                return vpsctl_usage_error(v, "missing command to run in VPS %s", rest[0]);
        r = vpsctl_check_id(rest[0]);
        if (r != CMD_CONTINUE)
                return r;
        return run_in_vps(v, rest[0], rest + optind, pty);
}

int cmd_enter(struct vpsctl *v, int argc, char **argv)
{
        /* A login shell, preferring bash: decided inside the VPS, whose files we do not
         * read from here. */
        static char *const shell[] = {
                "/bin/sh",
                "-c",
                "if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi",
                NULL,
        };
        const char *id = NULL;

        int r = vpsctl_parse_id_only(v, argc, argv, enter_usage, &id);
        if (r != CMD_CONTINUE)
                return r;
        return run_in_vps(v, id, shell, true);
}
