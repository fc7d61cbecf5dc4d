/* vpsctl create, start, stop, restart, status, set and destroy: one request each, on
 * /v1/vps/ID, and a one-line report. */
#include "config/config.h"
#include "vpsctl.h"
#include "format.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vps/cleanup.h"
#include "vps/util.h"

/* Long-only options get values outside the char range so that getopt cannot confuse them
 * with a short option. */
enum {
        OPT_OSTEMPLATE = 256,
        OPT_HOSTNAME,
        OPT_FAST,
        OPT_TIMEOUT,
        OPT_FORCE,
        OPT_IPADD,
        OPT_IPDEL,
        OPT_USERPASSWD,
        OPT_SSHKEY,
        OPT_RESET_COUNTERS,
        OPT_NODE,
};

struct lifecycle_opts {
        const char *id;
        const char *ostemplate;
        const char *hostname;
        bool fast;
        bool force;
        bool json;
        long timeout;  /* seconds; -1 when not given, so that vpsd picks its default */
        json_t *ipadd; /* arrays of address strings, NULL until an option adds one */
        json_t *ipdel;
        json_t *extra; /* the settings ({"onboot": true, "limits": {"ram": "1G"}, ...} as typed:
                        * vpsd parses and checks them), merged into the body */
        const char *userpasswd;
        char *ssh_key; /* the key file's contents */
};

static void opts_free(struct lifecycle_opts *o)
{
        json_decref(o->ipadd);
        json_decref(o->ipdel);
        json_decref(o->extra);
        free(o->ssh_key);
}

static void add_ip(json_t **list, const char *ip)
{
        if (!*list)
                *list = json_array();
        json_array_append_new(*list, json_string(ip));
}

/* One parser for the family: each command passes only its own options and short option
 * letters, so getopt never returns an option the command does not have. */
static int parse(struct vpsctl *v, int argc, char **argv, const char *optstring,
                 const struct option *options, const char *usage, struct lifecycle_opts *o)
{
        int c;

        *o = (struct lifecycle_opts){.timeout = -1};
        optind = 0;
        while ((c = getopt_long(argc, argv, optstring, options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return vpsctl_help(usage);
                case OPT_OSTEMPLATE:
                        o->ostemplate = optarg;
                        break;
                case OPT_HOSTNAME:
                        o->hostname = optarg;
                        break;
                case OPT_FAST:
                        o->fast = true;
                        break;
                case OPT_FORCE:
                        o->force = true;
                        break;
                case OPT_IPADD:
                        add_ip(&o->ipadd, optarg);
                        break;
                case OPT_IPDEL:
                        add_ip(&o->ipdel, optarg);
                        break;
                case OPT_USERPASSWD:
                        o->userpasswd = optarg;
                        break;
                case OPT_SSHKEY: {
                        vps_error e = {0};
                        free(o->ssh_key);
                        o->ssh_key = NULL;
                        if (vps_read_file_at(AT_FDCWD, optarg, &o->ssh_key, NULL, &e) < 0)
                                return vpsctl_fail("--ssh-key: %s", e.msg);
                        break;
                }
                case OPT_NODE:
                        if (!o->extra)
                                o->extra = json_object();
                        json_object_set_new(o->extra, "node", json_string(optarg));
                        break;
                case OPT_RESET_COUNTERS:
                        if (!o->extra)
                                o->extra = json_object();
                        json_object_set_new(o->extra, "reset_counters", json_true());
                        break;
                case OPT_TIMEOUT:
                        if (!vpsctl_parse_seconds(optarg, &o->timeout))
                                return vpsctl_usage_error(
                                        v, "invalid timeout '%s': expected a number of seconds",
                                        optarg);
                        break;
                case 'j':
                        o->json = true;
                        break;
                default: {
                        int r = vpsctl_setting_arg(v, c, optarg, &o->extra);
                        if (r == CMD_CONTINUE)
                                break;
                        return r ? r : vpsctl_opt_error(v, c, argv);
                }
                }
        }
        return vpsctl_take_id(v, argc, argv, &o->id);
}

/* The options of status. */
static const struct option json_options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
};

static const char start_usage[] =
        "Usage: vpsctl start ID [--force] [-j]\n"
        "\n"
        "Start the VPS ID.\n"
        "\n"
        "Options:\n"
        "  --force     start a VPS that 'migrate --keep-src' kept here (refused without it: its\n"
        "              copy on the destination may run) and forget that it was migrated\n"
        "  -j, --json  print the VPS object (status running) as JSON\n"
        "  -h, --help  print this help and exit\n";

int cmd_start(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {"force", no_argument, NULL, OPT_FORCE},
                {0},
        };
        struct lifecycle_opts o;
        vps_error err = {0};

        int r = parse(v, argc, argv, ":hj", options, start_usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *answer = NULL,
                              *body = o.force ? json_pack("{s:b}", "force", 1) : NULL;
        if (vpsctl_request(v, "POST", body, TIMEOUT_LONG, &answer, &err, "/v1/vps/%s/start", o.id) <
            0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        vpsctl_print_warning(answer);
        printf("VPS %s started\n", o.id);
        return 0;
}

static const char stop_usage[] =
        "Usage: vpsctl stop ID [--fast | --timeout S] [-j]\n"
        "\n"
        "Stop the VPS ID: signal its init to halt and wait until it has stopped; after the\n"
        "timeout, kill everything left in the VPS.\n"
        "\n"
        "Options:\n"
        "  --fast         kill the processes at once, without a clean shutdown\n"
        "  --timeout S    seconds to wait for a clean shutdown (default 30)\n"
        "  -j, --json     print the VPS object (status stopped) as JSON\n"
        "  -h, --help     print this help and exit\n";

static const char restart_usage[] =
        "Usage: vpsctl restart ID [--fast | --timeout S] [-j]\n"
        "\n"
        "Stop the VPS ID as 'vpsctl stop' does, then start it again.\n"
        "\n"
        "Options:\n"
        "  --fast         kill the processes at once, without a clean shutdown\n"
        "  --timeout S    seconds to wait for a clean shutdown (default 30)\n"
        "  -j, --json     print the VPS object (status running) as JSON\n"
        "  -h, --help     print this help and exit\n";

/* stop and restart take the same body; both return once the VPS has stopped (or is up
 * again), which can take as long as the guest's shutdown: no client timeout. */
static int stop_or_restart(struct vpsctl *v, int argc, char **argv, const char *verb,
                           const char *usage, const char *done)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"fast", no_argument, NULL, OPT_FAST},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"json", no_argument, NULL, 'j'},
                {0},
        };
        struct lifecycle_opts o;
        vps_error err = {0};

        int r = parse(v, argc, argv, ":hj", options, usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        if (o.fast && o.timeout >= 0)
                return vpsctl_usage_error(v, "--fast and --timeout exclude each other");

        _cleanup_json_ json_t *body = json_pack("{s:b}", "fast", o.fast);
        if (!body ||
            (o.timeout >= 0 && json_object_set_new(body, "timeout", json_integer(o.timeout)) < 0))
                return vpsctl_fail("cannot encode the request");
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, "POST", body, TIMEOUT_NONE, &answer, &err, "/v1/vps/%s/%s", o.id,
                           verb) < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s %s\n", o.id, done);
        return 0;
}

int cmd_stop(struct vpsctl *v, int argc, char **argv)
{
        return stop_or_restart(v, argc, argv, "stop", stop_usage, "stopped");
}

int cmd_restart(struct vpsctl *v, int argc, char **argv)
{
        return stop_or_restart(v, argc, argv, "restart", restart_usage, "restarted");
}

static const char status_usage[] = "Usage: vpsctl status ID [-j]\n"
                                   "\n"
                                   "Print \"VPS ID exists running\" or \"VPS ID exists stopped\"\n"
                                   "(also stopping, and backoff: a reboot loop held back, with\n"
                                   "when vpsd starts it again; `start` starts it at once).\n"
                                   "\n"
                                   "Options:\n"
                                   "  -j, --json  print the VPS object as JSON\n"
                                   "  -h, --help  print this help and exit\n";

int cmd_status(struct vpsctl *v, int argc, char **argv)
{
        struct lifecycle_opts o;
        vps_error err = {0};
        _cleanup_json_ json_t *vps = NULL;

        int r = parse(v, argc, argv, ":hj", json_options, status_usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        if (vpsctl_get_vps(v, o.id, &vps, &err) < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(vps);
        return format_status_line(stdout, vps) < 0 ? EXIT_FAIL : 0;
}

/* create and set: the same setting options (from libvps's field table, settings.c), a few of
 * their own, one request each and the same report. */
struct settings_cmd {
        const char *synopsis_head, *synopsis_tail;
        const char *about; /* what it does, and the help of its own options */
        const char *json_help;
        struct option own[8]; /* its options beyond those both have, ending in {0} */
};

static const struct settings_cmd create_cmd = {
        "Usage: vpsctl create ID --ostemplate NAME [--node NAME|auto] [--hostname H]",
        "[--ipadd ADDR]... [--force] [-j]",
        "Create the VPS ID from the template NAME (see 'vpsctl template list').\n"
        "\n"
        "Options:\n"
        "  --ostemplate NAME  template of the root file system (required)\n"
        "  --hostname H       host name of the VPS, up to 253 characters in labels of up to\n"
        "                     63 (default: vpsID); the kernel's gets its first label when\n"
        "                     the whole name is longer than 64\n"
        "  --ipadd ADDR       give the VPS this address on its eth0 (repeatable); without\n"
        "                     one the VPS has loopback only. A prefix only where it holds:\n"
        "                     bridged: the bridge subnet's; routed: /32 or /128\n"
        "  --node NAME|auto   create it on that node of the fleet (vpsd --cluster), through\n"
        "                     its remote API; auto: among the nodes up, schedulable (not\n"
        "                     drained), with the template and the RAM and disk asked free,\n"
        "                     the one with the most free RAM (then by name)\n",
        "print the new VPS object as JSON",
        {{"ostemplate", required_argument, NULL, OPT_OSTEMPLATE},
         {"node", required_argument, NULL, OPT_NODE},
         {0}},
};

static const struct settings_cmd set_cmd = {
        "Usage: vpsctl set ID [--hostname H] [--ipadd ADDR]... [--ipdel ADDR|all]...",
        "[--userpasswd USER:PASSWORD] [--ssh-key FILE] [--reset-counters] [--force] [-j]",
        "Change the settings of the VPS ID. A running VPS takes them at once; they are saved\n"
        "either way. Nothing changes when any of them is refused.\n"
        "\n"
        "Options:\n"
        "  --hostname H       new host name\n"
        "  --ipadd ADDR       add an address (repeatable)\n"
        "  --ipdel ADDR|all   remove an address, or all of them (repeatable)\n"
        "  --userpasswd USER:PASSWORD\n"
        "                     set USER's password in the guest's /etc/shadow (hashed by vpsd)\n"
        "  --ssh-key FILE     add the public keys in FILE to /root/.ssh/authorized_keys\n"
        "  --reset-counters   zero the VPS's traffic totals (rx/tx bytes and packets)\n",
        "print the VPS object as saved, as JSON",
        {{"ipdel", required_argument, NULL, OPT_IPDEL},
         {"userpasswd", required_argument, NULL, OPT_USERPASSWD},
         {"ssh-key", required_argument, NULL, OPT_SSHKEY},
         {"reset-counters", no_argument, NULL, OPT_RESET_COUNTERS},
         {0}},
};

/* Its --help text, made on each call (NULL when out of memory). */
static char *settings_usage(const struct settings_cmd *sc)
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        vpsctl_setting_synopsis(f, sc->synopsis_head, sc->synopsis_tail);
        (void)fprintf(f, "\n%s", sc->about);
        vpsctl_setting_help(f);
        (void)fprintf(f,
                      "  --force            let --forward take a host port below 1024\n"
                      "  -j, --json         %s\n"
                      "  -h, --help         print this help and exit\n",
                      sc->json_help);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

/* Parses the options of create or set into o. */
static int parse_settings(struct vpsctl *v, int argc, char **argv, const struct settings_cmd *sc,
                          struct lifecycle_opts *o)
{
        static const struct option both[] = {
                {"help", no_argument, NULL, 'h'},
                {"hostname", required_argument, NULL, OPT_HOSTNAME},
                {"ipadd", required_argument, NULL, OPT_IPADD},
                {"json", no_argument, NULL, 'j'},
                {"force", no_argument, NULL, OPT_FORCE},
        };
        enum { MAX_OPTIONS = 64 };
        struct option all[MAX_OPTIONS];
        size_t n = 0;
        for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++)
                all[n++] = both[i];
        for (size_t i = 0; sc->own[i].name; i++)
                all[n++] = sc->own[i];
        n += vpsctl_setting_options(all + n, MAX_OPTIONS - 1 - n);
        all[n] = (struct option){0};
        _cleanup_free_ char *usage = settings_usage(sc);
        if (!usage)
                return vpsctl_fail("cannot format the help: out of memory");
        return parse(v, argc, argv, ":hj", all, usage, o);
}

/* Sends body with o's settings merged in, and reports the answer: "VPS ID done". */
static int send_settings(struct vpsctl *v, const struct lifecycle_opts *o, json_t *body,
                         const char *method, long timeout, const char *path, const char *done)
{
        vps_error err = {0};
        if (!body || (o->extra && json_object_update(body, o->extra) < 0) ||
            (o->force && json_object_set_new(body, "force", json_true()) < 0))
                return vpsctl_fail("cannot encode the request");
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, method, body, timeout, &answer, &err, "%s", path) < 0)
                return vpsctl_fail_err(&err);
        if (o->json)
                return vpsctl_print_json(answer);
        vpsctl_print_warning(answer);
        const char *node = json_string_value(json_object_get(answer, "node"));
        printf("VPS %s %s%s%s\n", o->id, done, node ? " on node " : "", node ? node : "");
        return 0;
}

int cmd_create(struct vpsctl *v, int argc, char **argv)
{
        _cleanup_(opts_free) struct lifecycle_opts o = {0};
        int r = parse_settings(v, argc, argv, &create_cmd, &o);
        if (r != CMD_CONTINUE)
                return r;
        if (!o.ostemplate)
                return vpsctl_usage_error(v, "missing --ostemplate NAME");

        /* "s*" leaves the key out when hostname is NULL: vpsd then picks one */
        _cleanup_json_ json_t *body =
                json_pack("{s:s, s:s, s:s*, s:O*}", "id", o.id, "ostemplate", o.ostemplate,
                          "hostname", o.hostname, "ip", o.ipadd);
        _cleanup_free_ char *done = NULL;
        if (asprintf(&done, "created from %s", o.ostemplate) < 0) {
                done = NULL;
                return vpsctl_fail("cannot encode the request");
        }
        return send_settings(v, &o, body, "POST", TIMEOUT_LONG, "/v1/vps", done);
}

int cmd_set(struct vpsctl *v, int argc, char **argv)
{
        _cleanup_(opts_free) struct lifecycle_opts o = {0};
        int r = parse_settings(v, argc, argv, &set_cmd, &o);
        if (r != CMD_CONTINUE)
                return r;
        if (!o.hostname && !o.ipadd && !o.ipdel && !o.extra && !o.userpasswd && !o.ssh_key)
                return vpsctl_usage_error(
                        v, "nothing to change: give a setting to change (see --help)");

        _cleanup_json_ json_t *body = json_pack("{s:s*, s:O*, s:O*, s:s*, s:s*}", "hostname",
                                                o.hostname, "ipadd", o.ipadd, "ipdel", o.ipdel,
                                                "userpasswd", o.userpasswd, "ssh_key", o.ssh_key);
        char path[sizeof("/v1/vps/") + VPS_ID_MAX];
        (void)snprintf(path, sizeof(path), "/v1/vps/%s", o.id);
        return send_settings(v, &o, body, "PATCH", TIMEOUT_SHORT, path, "saved");
}

static const char destroy_usage[] =
        "Usage: vpsctl destroy ID [--force] [-j]\n"
        "\n"
        "Delete the VPS ID and its files. A running VPS is refused unless --force is given.\n"
        "\n"
        "Options:\n"
        "  --force     stop the VPS first if it is running\n"
        "  -j, --json  print {\"id\": ID, \"destroyed\": true} as JSON\n"
        "  -h, --help  print this help and exit\n";

int cmd_destroy(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"force", no_argument, NULL, OPT_FORCE},
                {"json", no_argument, NULL, 'j'},
                {0},
        };
        struct lifecycle_opts o;
        vps_error err = {0};

        int r = parse(v, argc, argv, ":hj", options, destroy_usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        /* --force may have to stop the VPS first: as long as stop, no client timeout */
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, "DELETE", NULL, TIMEOUT_NONE, &answer, &err, "/v1/vps/%s%s", o.id,
                           o.force ? "?force=1" : "") < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        printf("VPS %s destroyed\n", o.id);
        return 0;
}
