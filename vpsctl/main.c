/* vpsctl: command-line client of vpsd. Global options and the command table; each command
 * lives in its own cmd_*.c file and talks to the daemon through client.c. */
#include "vpsctl.h"
#include "remote.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SOCKET "/run/vps/vpsd.sock"

struct command {
        const char *name;
        vpsctl_cmd_fn run;
        const char *args;    /* synopsis after the name */
        const char *summary; /* one line for `vpsctl --help` */
};

static const struct command commands[] = {
        {"list", cmd_list, "[-a | --all-nodes] [-o FIELDS] [-H] [-j]",
         "list VPSes (only running ones without -a)"},
        {"create", cmd_create, "ID --ostemplate NAME [--node N|auto] [OPTIONS] [-j]",
         "create a VPS from a template (options as for set)"},
        {"start", cmd_start, "ID [-j]", "start a VPS"},
        {"stop", cmd_stop, "ID [--fast | --timeout S] [-j]", "stop a VPS"},
        {"restart", cmd_restart, "ID [--fast | --timeout S] [-j]", "stop and start a VPS"},
        {"pause", cmd_pause, "ID [-j]", "freeze every process of a running VPS"},
        {"unpause", cmd_unpause, "ID [-j]", "let a paused VPS run again"},
        {"suspend", cmd_suspend, "ID [-t S] [-j]", "dump a running VPS to disk and stop it (CRIU)"},
        {"resume", cmd_resume, "ID [-t S] [-f] [-j]", "restore a suspended VPS as it was (CRIU)"},
        {"status", cmd_status, "ID [-j]", "print whether a VPS is running"},
        {"stats", cmd_stats, "ID [-j]", "usage and limit hits of a running VPS"},
        {"set", cmd_set, "ID OPTIONS... [-j]",
         "change addresses, limits, logins, features (set --help)"},
        {"destroy", cmd_destroy, "ID [--force] [-j]", "delete a VPS and its files"},
        {"exec", cmd_exec, "ID [-t] [--] CMD [ARGS...]", "run a command in a running VPS"},
        {"enter", cmd_enter, "ID", "open a login shell in a running VPS"},
        {"console", cmd_console, "ID [--timeout S]", "attach to the console of a VPS"},
        {"backup", cmd_backup, "ID [--to FILE|-] [--full] [--incremental-from FILE] [-j]",
         "write a backup archive of a VPS"},
        {"restore", cmd_restore, "FILE [ID] [--ipadd IP]... [--force] [-j]",
         "make a VPS from a backup"},
        {"migrate", cmd_migrate,
         "ID DEST|--to-node NAME [--keep-src] [--full] [--fast] [--ssh-option OPT]... [-j]",
         "move a VPS to another host over ssh (offline)"},
        {"template", cmd_template, "build|import|list|remove ... [-j]", "manage OS templates"},
        {"snapshot", cmd_snapshot, "ID [--name N] [--description T] [-j]",
         "take a snapshot of a VPS's files (frozen if running)"},
        {"snapshot-list", cmd_snapshot_list, "ID [-j]", "list a VPS's snapshots"},
        {"snapshot-switch", cmd_snapshot_switch, "ID NAME [-j]",
         "roll a VPS back to a snapshot (restarts it if running)"},
        {"snapshot-delete", cmd_snapshot_delete, "ID NAME [-j]", "delete a snapshot"},
        {"snapshot-mount", cmd_snapshot_mount, "ID NAME DIR [-j]",
         "show a snapshot read-only on a host directory"},
        {"snapshot-umount", cmd_snapshot_umount, "ID NAME [-j]", "unmount a snapshot"},
        {"clone", cmd_clone, "ID NEWID [--hostname H] [--ipadd A] [-j]",
         "a copy of a VPS with a new identity"},
        {"reinstall", cmd_reinstall, "ID [--ostemplate T] [--no-keep] [-j]",
         "a fresh root from a template, the old one kept as a snapshot"},
        {"trust", cmd_trust, "add FILE [--name N]|list|remove FINGERPRINT [-j]",
         "client certificates the remote API trusts (admins)"},
        {"token", cmd_token,
         "create [--name N] [--vps IDS] [--allow VERBS] [--expires D]|list|revoke NAME [-j]",
         "customers' tokens for the remote API"},
        {"audit", cmd_audit, "[--since T] [-j]", "the log of changes asked of vpsd"},
        {"events", cmd_events, "[--vps ID] [-j]", "print vpsd's events as they happen"},
        {"nodes", cmd_nodes, "[-H] [-j]", "list the nodes of the fleet (vpsd --cluster)"},
        {"node", cmd_node, "drain|undrain NAME [--fast] [-j]",
         "make a node of the fleet unschedulable, or again schedulable"},
        {"version", cmd_version, "[-j]", "print the versions of vpsctl and vpsd"},
        {"remote", cmd_remote, "add|list|remove ... [-j]", "remote vpsds over HTTPS (pinned)"},
        {"help", NULL, "[COMMAND]", "this help, or a command's ('COMMAND --help')"},
};

static int print_help(void)
{
        printf("Usage: vpsctl [--socket PATH | --remote NAME] COMMAND [ARGS]\n"
               "\n"
               "Manage the VPSes of vpsd.\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                printf("  %-15s %-37s %s\n", commands[i].name, commands[i].args,
                       commands[i].summary);
        printf("\n"
               "Options:\n"
               "  --socket PATH  vpsd's socket (default $VPSD_SOCKET, else " DEFAULT_SOCKET ")\n"
               "  --remote NAME  a remote vpsd ('vpsctl remote add'; default $VPSCTL_REMOTE;\n"
               "                 'local' is the socket)\n"
               "  -h, --help     print this help and exit\n"
               "  --version      print the version of vpsctl and exit\n"
               "\n"
               "An ID is a number from 1 to 2147483647 without leading zeros, or a name of\n"
               "letters, digits, '_' and '-' (at most 63, not digits alone).\n"
               "\n");
        vpsctl_print_exits(stdout);
        printf("With -j, errors are JSON on stderr.\n"
               "\n"
               "'vpsctl COMMAND --help' describes a command. See vpsctl(8).\n");
        return 0;
}

static const struct command *find_command(const char *name)
{
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

/* Parses the options before COMMAND; "+" stops at the command so that its options are its
 * own. Returns CMD_CONTINUE or an exit status. */
static int parse_global(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"socket", required_argument, NULL, 's'},
                {"remote", required_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        bool socket_given = false, remote_given = false;
        int c;

        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
                switch (c) {
                case 's':
                        if (optarg[0] == '\0')
                                return vpsctl_usage_error(v, "the socket path is empty");
                        v->socket = optarg;
                        socket_given = true;
                        break;
                case 'r':
                        v->remote = optarg;
                        remote_given = true;
                        break;
                case 'h':
                        return print_help();
                case 'V':
                        printf("vpsctl %s\n", VPS_VERSION);
                        return 0;
                default:
                        return vpsctl_opt_error(v, c, argv);
                }
        }
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing command");
        if (v->remote && (!v->remote[0] || !strcmp(v->remote, REMOTE_LOCAL)))
                v->remote = NULL;
        if (socket_given && remote_given && v->remote)
                return vpsctl_usage_error(v, "--socket or --remote, not both");
        if (socket_given)
                v->remote = NULL; /* over VPSCTL_REMOTE */
        return CMD_CONTINUE;
}

/* Where the command's requests go: the socket, or the remote read from remotes.json. A
 * remote that cannot be used is the error of the first request (so that --help works). */
static void resolve_target(struct vpsctl *v)
{
        v->target = (struct client_target){.socket_path = v->socket};
        if (!v->remote)
                return;
        if (remote_name_check(v->remote, &v->target_err) < 0 ||
            remotes_load(&v->remotes, &v->target_err) < 0 ||
            remote_target(v->remotes, v->remote, &v->target, &v->target_err) < 0) {
                v->target = (struct client_target){.name = v->remote, .broken = &v->target_err};
                return;
        }
        v->target.socket_path = v->socket;
}

/* Errors as JSON as soon as -j is on the command line, so that a bad option or ID before it
 * is reported so too. exec, enter and console have no -j: what follows their ID is the
 * guest's. */
static bool wants_json(const char *cmd, int argc, char **argv)
{
        if (!strcmp(cmd, "exec") || !strcmp(cmd, "enter") || !strcmp(cmd, "console"))
                return false;
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (!strcmp(argv[i], "--json") ||
                    (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i], 'j')))
                        return true;
        return false;
}

/* vpsctl help [COMMAND]: the same as --help, of vpsctl or of the command. */
static int run_help(struct vpsctl *v, int argc, char **argv)
{
        if (argc < 2)
                return print_help();
        const struct command *cmd = find_command(argv[1]);
        if (!cmd)
                return vpsctl_usage_error(v, "unknown command '%s'", argv[1]);
        if (!cmd->run)
                return print_help();
        v->cmd = cmd->name;
        char *args[] = {argv[1], "--help", NULL};
        return cmd->run(v, 2, args);
}

int main(int argc, char **argv)
{
        const char *env = getenv("VPSD_SOCKET");
        struct vpsctl v = {.socket = env && env[0] ? env : DEFAULT_SOCKET,
                           .remote = getenv("VPSCTL_REMOTE")};

        opterr = 0; /* vpsctl_opt_error() prints the messages, "vpsctl:" first */
        int r = parse_global(&v, argc, argv);
        if (r != CMD_CONTINUE)
                return r;

        const struct command *cmd = find_command(argv[optind]);
        if (!cmd)
                return vpsctl_usage_error(&v, "unknown command '%s'", argv[optind]);
        v.cmd = cmd->name;
        vpsctl_json_errors(wants_json(cmd->name, argc - optind, argv + optind));
        resolve_target(&v);

        r = cmd->run ? cmd->run(&v, argc - optind, argv + optind)
                     : run_help(&v, argc - optind, argv + optind);

        /* a full disk or a closed pipe must not look like success */
        if (fflush(stdout) != 0 && r == 0)
                r = vpsctl_fail("writing to standard output: %s", strerror(errno));
        json_decref(v.remotes); /* what target pointed into */
        return r;
}
