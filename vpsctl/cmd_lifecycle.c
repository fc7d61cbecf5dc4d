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
};

/* The setting options create and set share come from libvps's field table
 * (vpsctl_setting_options); their help is SETTING_HELP (tests/unit/test_manpage.c checks that
 * it and the man page name each). */
#define MAX_OPTIONS 64

/* fixed (ending in {0}) and the setting options, into out. */
static const struct option *with_settings(const struct option *fixed, struct option *out)
{
        size_t n = 0;
        for (; fixed[n].name; n++)
                out[n] = fixed[n];
        n += vpsctl_setting_options(out + n, MAX_OPTIONS - 1 - n);
        out[n] = (struct option){0};
        return out;
}

#define SETTING_HELP                                                                               \
        "  --plan NAME        apply plan NAME (/etc/vps/plans/NAME.conf: its limits and\n"         \
        "                     settings; the options given here override it); none for no\n"        \
        "                     plan (create takes vpsd.conf's default_plan without it)\n"           \
        "  --nameserver ADDR  DNS server for the guest's /etc/resolv.conf (repeatable, up\n"       \
        "                     to 4); inherit (the default): the host's, those of a local\n"        \
        "                     stub (127.0.0.53) from its upstream file, read at each start\n"      \
        "                     and set; none: no name server\n"                                     \
        "  --searchdomain D   search domains, space separated (inherit also takes the\n"           \
        "                     host's, when the VPS has none of its own)\n"                         \
        "  --forward P:HP:VP  forward host port HP to port VP of the VPS; P is tcp or udp\n"       \
        "                     (repeatable; on set the list replaces the old one, none clears);\n"  \
        "                     refused: a host port a host socket holds or another VPS forwards,\n" \
        "                     and one below 1024 without --force\n"                                \
        "  --force            let --forward take a host port below 1024\n"                         \
        "  --onboot yes|no    start the VPS when the host boots\n"                                 \
        "  --bootorder N      at boot, higher numbers start first\n"                               \
        "  --netmode MODE     bridged (private subnet behind NAT, the default of vpsd.conf)\n"     \
        "                     or routed (public IPv4/IPv6 addresses routed to the VPS)\n"          \
        "  --devnodes LIST    devices beyond the default set: tun (/dev/net/tun, for VPNs),\n"     \
        "                     fuse (/dev/fuse), comma separated, or none; VPS stopped\n"           \
        "  --features LIST    NAME:on|off,... (a bare NAME is on; none turns all off; on set\n"    \
        "                     the others stay): tun (/dev/net/tun), fuse (/dev/fuse and FUSE\n"    \
        "                     mounts), nesting (containers inside: keyring syscalls, an\n"         \
        "                     uncovered proc and sysfs under /dev/.vps; weakens isolation),\n"     \
        "                     io_uring (the io_uring syscalls, denied by default); VPS stopped\n"  \
        "  --rate RATE        bandwidth both ways, as tc writes it: 100mbit, 1gbit, 500kbit,\n"    \
        "                     10mbps (bytes/s); unlimited removes it\n"                            \
        "  --ram SIZE         memory limit (memory.max), K/M/G/T suffixes or unlimited\n"          \
        "  --swap SIZE        swap limit (memory.swap.max)\n"                                      \
        "  --cpus N           at most N CPUs (cpu.max; 0.5 is half a CPU)\n"                       \
        "  --cpumask LIST     only these CPUs, as 0-3,6 (cpuset.cpus)\n"                           \
        "  --cpulimit PCT     at most PCT percent of one CPU (cpu.max; 200 = two CPUs)\n"          \
        "  --cpuunits N       CPU weight from 1 to 10000 (cpu.weight, default 100)\n"              \
        "  --numproc N        at most N processes and threads (pids.max)\n"                        \
        "  --iolimit SIZE     disk bytes per second, each of read and write (io.max on the\n"      \
        "                     disk holding the VPS storage), K/M/G suffixes\n"                     \
        "  --iopslimit N      disk operations per second, each of read and write (io.max)\n"       \
        "  --ioprio N         disk priority 0 (lowest) to 7, default 4 (io.weight)\n"              \
        "  --oompolicy P      on running out of --ram: process (the kernel kills one process,\n"   \
        "                     the default) or restart (the whole VPS is killed and restarted;\n"   \
        "                     memory.oom.group)\n"                                                 \
        "  --diskspace S[:H]  disk space of the VPS's own files, soft S and hard H (default S);\n" \
        "                     a project quota on the storage root, shown by df inside\n"           \
        "  --diskinodes N[:H] files and directories the VPS may own, soft N and hard H\n"

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

static const char create_usage[] =
        "Usage: vpsctl create ID --ostemplate NAME [--hostname H] [--ipadd ADDR]...\n"
        "                     [--ram SIZE] [--swap SIZE] [--cpus N] [--cpulimit PCT]\n"
        "                     [--cpuunits N] [--cpumask LIST] [--numproc N] [--iolimit SIZE]\n"
        "                     [--iopslimit N] [--ioprio N] [--oompolicy process|restart]\n"
        "                     [--diskspace SIZE[:HARD]] [--diskinodes N[:HARD]]\n"
        "                     [--nameserver ADDR|inherit|none]...\n"
        "                     [--searchdomain DOMAINS]\n"
        "                     [--forward PROTO:HOSTPORT:VPSPORT]... [--force] [--onboot yes|no]\n"
        "                     [--bootorder N] [--netmode bridged|routed]\n"
        "                     [--rate RATE] [--devnodes LIST] [--features LIST]\n"
        "                     [--plan NAME|none] [-j]\n"
        "\n"
        "Create the VPS ID from the template NAME (see 'vpsctl template list').\n"
        "\n"
        "Options:\n"
        "  --ostemplate NAME  template of the root file system (required)\n"
        "  --hostname H       host name of the VPS, up to 253 characters in labels of up to\n"
        "                     63 (default: vpsID); the kernel's gets its first label when\n"
        "                     the whole name is longer than 64\n"
        "  --ipadd ADDR       give the VPS this address on its eth0 (repeatable); without\n"
        "                     one the VPS has loopback only. A prefix only where it holds:\n"
        "                     bridged: the bridge subnet's; routed: /32 or /128\n" SETTING_HELP
        "  -j, --json         print the new VPS object as JSON\n"
        "  -h, --help         print this help and exit\n";

int cmd_create(struct vpsctl *v, int argc, char **argv)
{
        static const struct option fixed[] = {
                {"help", no_argument, NULL, 'h'},
                {"ostemplate", required_argument, NULL, OPT_OSTEMPLATE},
                {"hostname", required_argument, NULL, OPT_HOSTNAME},
                {"ipadd", required_argument, NULL, OPT_IPADD},
                {"json", no_argument, NULL, 'j'},
                {"force", no_argument, NULL, OPT_FORCE},
                {0},
        };
        struct option all[MAX_OPTIONS];
        const struct option *options = with_settings(fixed, all);
        _cleanup_(opts_free) struct lifecycle_opts o = {0};
        vps_error err = {0};

        int r = parse(v, argc, argv, ":hj", options, create_usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        if (!o.ostemplate)
                return vpsctl_usage_error(v, "missing --ostemplate NAME");

        /* "s*" leaves the key out when hostname is NULL: vpsd then picks one */
        _cleanup_json_ json_t *body =
                json_pack("{s:s, s:s, s:s*, s:O*}", "id", o.id, "ostemplate", o.ostemplate,
                          "hostname", o.hostname, "ip", o.ipadd);
        if (!body || (o.extra && json_object_update(body, o.extra) < 0) ||
            (o.force && json_object_set_new(body, "force", json_true()) < 0))
                return vpsctl_fail("cannot encode the request");
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, "POST", body, TIMEOUT_LONG, &answer, &err, "/v1/vps") < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        vpsctl_print_warning(answer);
        printf("VPS %s created from %s\n", o.id, o.ostemplate);
        return 0;
}

static const char start_usage[] = "Usage: vpsctl start ID [-j]\n"
                                  "\n"
                                  "Start the VPS ID.\n"
                                  "\n"
                                  "Options:\n"
                                  "  -j, --json  print the VPS object (status running) as JSON\n"
                                  "  -h, --help  print this help and exit\n";

int cmd_start(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        struct lifecycle_opts o;
        vps_error err = {0};

        int r = parse(v, argc, argv, ":hj", options, start_usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, "POST", NULL, TIMEOUT_LONG, &answer, &err, "/v1/vps/%s/start", o.id) <
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
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        struct lifecycle_opts o;
        vps_error err = {0};
        _cleanup_json_ json_t *vps = NULL;

        int r = parse(v, argc, argv, ":hj", options, status_usage, &o);
        if (r != CMD_CONTINUE)
                return r;
        if (vpsctl_get_vps(v, o.id, &vps, &err) < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(vps);
        return format_status_line(stdout, vps) < 0 ? EXIT_FAIL : 0;
}

static const char set_usage[] =
        "Usage: vpsctl set ID [--hostname H] [--ipadd ADDR]... [--ipdel ADDR|all]...\n"
        "                     [--ram SIZE] [--swap SIZE] [--cpus N] [--cpulimit PCT]\n"
        "                     [--cpuunits N] [--cpumask LIST] [--numproc N] [--iolimit SIZE]\n"
        "                     [--iopslimit N] [--ioprio N] [--oompolicy process|restart]\n"
        "                     [--diskspace SIZE[:HARD]] [--diskinodes N[:HARD]]\n"
        "                     [--nameserver ADDR|inherit|none]...\n"
        "                     [--searchdomain DOMAINS]\n"
        "                     [--forward PROTO:HOSTPORT:VPSPORT]... [--force] [--onboot yes|no]\n"
        "                     [--bootorder N] [--userpasswd USER:PASSWORD]\n"
        "                     [--ssh-key FILE] [--netmode bridged|routed] [--rate RATE]\n"
        "                     [--devnodes LIST] [--features LIST] [--plan NAME|none]\n"
        "                     [--reset-counters] [-j]\n"
        "\n"
        "Change the settings of the VPS ID. A running VPS takes them at once; they are saved\n"
        "either way. Nothing changes when any of them is refused.\n"
        "\n"
        "Options:\n"
        "  --hostname H       new host name\n"
        "  --ipadd ADDR       add an address (repeatable)\n"
        "  --ipdel ADDR|all   remove an address, or all of them (repeatable)\n"
        "  --userpasswd USER:PASSWORD\n"
        "                     set USER's password in the guest's /etc/shadow (hashed by vpsd)\n"
        "  --ssh-key FILE     add the public keys in FILE to "
        "/root/.ssh/authorized_keys\n"
        "  --reset-counters   zero the VPS's traffic totals (rx/tx bytes and "
        "packets)\n" SETTING_HELP "  -j, --json         print the VPS object as saved, as JSON\n"
        "  -h, --help         print this help and exit\n";

int cmd_set(struct vpsctl *v, int argc, char **argv)
{
        static const struct option fixed[] = {
                {"help", no_argument, NULL, 'h'},
                {"hostname", required_argument, NULL, OPT_HOSTNAME},
                {"ipadd", required_argument, NULL, OPT_IPADD},
                {"ipdel", required_argument, NULL, OPT_IPDEL},
                {"userpasswd", required_argument, NULL, OPT_USERPASSWD},
                {"ssh-key", required_argument, NULL, OPT_SSHKEY},
                {"reset-counters", no_argument, NULL, OPT_RESET_COUNTERS},
                {"json", no_argument, NULL, 'j'},
                {"force", no_argument, NULL, OPT_FORCE},
                {0},
        };
        struct option all[MAX_OPTIONS];
        const struct option *options = with_settings(fixed, all);
        _cleanup_(opts_free) struct lifecycle_opts o = {0};
        vps_error err = {0};

        int r = parse(v, argc, argv, ":hj", options, set_usage, &o);
        if (r != CMD_CONTINUE) {
                return r;
        }
        if (!o.hostname && !o.ipadd && !o.ipdel && !o.extra && !o.userpasswd && !o.ssh_key)
                return vpsctl_usage_error(
                        v, "nothing to change: give a setting to change (see --help)");

        _cleanup_json_ json_t *body = json_pack("{s:s*, s:O*, s:O*, s:s*, s:s*}", "hostname",
                                                o.hostname, "ipadd", o.ipadd, "ipdel", o.ipdel,
                                                "userpasswd", o.userpasswd, "ssh_key", o.ssh_key);
        if (!body || (o.extra && json_object_update(body, o.extra) < 0) ||
            (o.force && json_object_set_new(body, "force", json_true()) < 0))
                return vpsctl_fail("cannot encode the request");
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, "PATCH", body, TIMEOUT_SHORT, &answer, &err, "/v1/vps/%s", o.id) < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(answer);
        vpsctl_print_warning(answer);
        printf("VPS %s saved\n", o.id);
        return 0;
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
