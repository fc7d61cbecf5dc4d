/* vpsctl template build, list and remove: the OS templates VPSes are created from
 * (/v1/templates). */
#include "vpsctl.h"
#include "format.h"

#include <getopt.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vps/cleanup.h"
#include "vps/util.h"

static const char template_usage[] =
        "Usage: vpsctl template COMMAND [ARGS]\n"
        "\n"
        "Manage the OS templates that VPSes are created from.\n"
        "\n"
        "Commands:\n"
        "  build NAME    build the template NAME: busybox (offline), debian-11,\n"
        "                debian-12, debian-13 (debootstrap from vpsd's Debian mirror)\n"
        "  import NAME FILE\n"
        "                make the template NAME from a rootfs tarball\n"
        "  list [-j]     list the templates\n"
        "  remove NAME   delete the template NAME (refused while a VPS uses it)\n"
        "\n"
        "'vpsctl template COMMAND --help' describes a command.\n";

static const char build_usage[] =
        "Usage: vpsctl template build NAME [-j]\n"
        "\n"
        "Build the template NAME: busybox (offline, from the host's busybox-static), or\n"
        "debian-11, debian-12, debian-13 (debootstrap minbase with systemd, dbus, openssh-server,\n"
        "ping, cron, curl, locales, python3 and more: a provider's image; from the mirror in\n"
        "vpsd.conf, a few minutes). A Debian build runs in the background\n"
        "of vpsd; this command shows its phases and package count until it is published or\n"
        "fails. A failed build leaves nothing behind.\n"
        "\n"
        "Options:\n"
        "  -j, --json  no progress; print the template object as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char list_usage[] = "Usage: vpsctl template list [-j]\n"
                                 "\n"
                                 "List the templates: NAME VERSION DISTRO SIZE IN_USE, where\n"
                                 "IN_USE counts the VPSes created from it.\n"
                                 "\n"
                                 "Options:\n"
                                 "  -j, --json  print a JSON array of the template objects\n"
                                 "  -h, --help  print this help and exit\n";

static const char remove_usage[] = "Usage: vpsctl template remove NAME [-j]\n"
                                   "\n"
                                   "Delete the template NAME. vpsd refuses while a VPS uses it.\n"
                                   "\n"
                                   "Options:\n"
                                   "  -j, --json  print {\"name\", \"removed\": true} as JSON\n"
                                   "  -h, --help  print this help and exit\n";

/* Parses -h/--help and -j, and the NAME argument when ret_name is not NULL. The name is
 * checked here because it becomes part of a URL path. */
static int parse(struct vpsctl *v, int argc, char **argv, const char *usage, bool *json,
                 const char **ret_name)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {0},
        };
        vps_error err = {0};
        int c;

        optind = 0;
        *json = false;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(usage);
                if (c == 'j')
                        *json = true;
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        if (!ret_name) {
                if (optind < argc)
                        return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
                return CMD_CONTINUE;
        }
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing template NAME");
        if (optind + 1 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 1]);
        if (vps_template_name_check(argv[optind], &err) < 0)
                return vpsctl_fail_err(&err);
        *ret_name = argv[optind];
        return CMD_CONTINUE;
}

/* Polls a build running in vpsd, printing each new phase and the package count, until it
 * is published (reply then holds the template) or fails. */
static int follow_build(struct vpsctl *v, const char *name, json_t **reply, long long ret_counts[2],
                        bool quiet)
{
        char last_phase[32] = "";
        long long last_n = -1;
        for (;;) {
                const char *status = json_string_value(json_object_get(*reply, "status"));
                const char *phase = json_string_value(json_object_get(*reply, "phase"));
                long long pk = json_integer_value(json_object_get(*reply, "packages"));
                long long done = json_integer_value(json_object_get(*reply, "done"));
                long long total = json_integer_value(json_object_get(*reply, "total"));
                phase = phase ? phase : "?";
                bool downloading = strcmp(phase, "downloading") == 0;
                long long n = downloading ? pk : done;
                /* A line per phase, and one per 25 packages within it. */
                if (!quiet && (strcmp(phase, last_phase) != 0 || n / 25 != last_n / 25)) {
                        if (downloading)
                                printf("%s: %s: %lld packages\n", name, phase, pk);
                        else if (strcmp(phase, "installing") == 0 && total)
                                printf("%s: %s: step %lld of %lld\n", name, phase, done, total);
                        else if (done && pk)
                                printf("%s: %s: %lld of %lld packages\n", name, phase, done, pk);
                        else if (done)
                                printf("%s: %s: %lld files\n", name, phase, done);
                        else
                                printf("%s: %s\n", name, phase);
                        fflush(stdout);
                        (void)snprintf(last_phase, sizeof(last_phase), "%s", phase);
                        last_n = n;
                }
                if (status && strcmp(status, "failed") == 0) {
                        const char *e = json_string_value(json_object_get(*reply, "error"));
                        return vpsctl_fail("building template %s: %s", name, e ? e : "failed");
                }
                if (ret_counts) {
                        ret_counts[0] = json_integer_value(json_object_get(*reply, "files"));
                        ret_counts[1] = json_integer_value(json_object_get(*reply, "refused"));
                }
                if (status && strcmp(status, "ready") == 0)
                        break;
                struct timespec ts = {0, 250 * 1000 * 1000};
                nanosleep(&ts, NULL);
                vps_error err = {0};
                json_decref(*reply);
                *reply = NULL;
                if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, reply, &err,
                                   "/v1/templates/%s/build", name) < 0)
                        return vpsctl_fail_err(&err);
        }
        vps_error err = {0};
        json_decref(*reply);
        *reply = NULL;
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, reply, &err, "/v1/templates/%s", name) <
            0)
                return vpsctl_fail_err(&err);
        return 0;
}

static int template_build(struct vpsctl *v, int argc, char **argv)
{
        _cleanup_json_ json_t *reply = NULL;
        const char *name = NULL;
        vps_error err = {0};
        bool json;

        int r = parse(v, argc, argv, build_usage, &json, &name);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:s}", "name", name);
        if (!body)
                return vpsctl_fail("cannot encode the request");
        if (vpsctl_request(v, "POST", body, TIMEOUT_NONE, &reply, &err, "/v1/templates") < 0)
                return vpsctl_fail_err(&err);
        if (json_object_get(reply, "phase") && (r = follow_build(v, name, &reply, NULL, json)) != 0)
                return r;
        if (json)
                return vpsctl_print_json(reply);
        const char *version = json_string_value(json_object_get(reply, "version"));
        if (version)
                printf("Template %s built (version %s)\n", name, version);
        else
                printf("Template %s built\n", name);
        return 0;
}

static const char import_usage[] =
        "Usage: vpsctl template import NAME FILE [-j]\n"
        "\n"
        "Make the template NAME from the rootfs tarball FILE (.tar, .tar.gz, .tar.xz,\n"
        "tar.zst: an OpenVZ precreated template, an LXC image rootfs). Owners, modes, xattrs,\n"
        "hard links and device nodes are kept; an entry that would land outside the template\n"
        "(a '..' or absolute path, a write through a symlink) is refused and counted. The\n"
        "distro (halt signal, fix-ups) comes from the tree's /etc/os-release.\n"
        "\n"
        "Options:\n"
        "  -j, --json  no progress; print the template object (with files and refused) as JSON\n"
        "  -h, --help  print this help and exit\n";

static int template_import(struct vpsctl *v, int argc, char **argv)
{
        const char *name = NULL;
        vps_error err = {0};
        bool json;
        int r = parse(v, argc > 2 ? argc - 1 : argc, argv, import_usage, &json, &name);
        if (r != CMD_CONTINUE)
                return r;
        if (argc < 3 || optind + 1 >= argc)
                return vpsctl_usage_error(v, "missing the tarball FILE");
        /* vpsd reads the file itself (same host, as root): give it the absolute path. */
        _cleanup_free_ char *path = realpath(argv[optind + 1], NULL);
        if (!path)
                return vpsctl_fail("%s: %s", argv[optind + 1], strerror(errno));
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", name, "import", path);
        _cleanup_json_ json_t *reply = NULL;
        if (!body)
                return vpsctl_fail("cannot encode the request");
        if (vpsctl_request(v, "POST", body, TIMEOUT_SHORT, &reply, &err, "/v1/templates") < 0)
                return vpsctl_fail_err(&err);
        long long counts[2] = {0, 0}; /* files, refused */
        if ((r = follow_build(v, name, &reply, counts, json)) != 0)
                return r;
        if (json) /* the template object, with the import's counts */
                return json_object_set_new(reply, "files", json_integer(counts[0])) < 0 ||
                                       json_object_set_new(reply, "refused",
                                                           json_integer(counts[1])) < 0
                               ? vpsctl_fail("out of memory")
                               : vpsctl_print_json(reply);
        long long refused = counts[1];
        if (refused)
                fprintf(stderr, "vpsctl: warning: %lld entries of %s refused (outside the tree)\n",
                        refused, argv[optind + 1]);
        printf("Template %s imported (%lld files, version %s, distro %s)\n", name, counts[0],
               json_string_value(json_object_get(reply, "version")),
               json_string_value(json_object_get(reply, "distro")));
        return 0;
}

static int template_list(struct vpsctl *v, int argc, char **argv)
{
        static char *const columns[] = {"name", "version", "distro", "size", "in_use", NULL};
        _cleanup_json_ json_t *all = NULL;
        vps_error err = {0};
        bool json = false;

        int r = parse(v, argc, argv, list_usage, &json, NULL);
        if (r != CMD_CONTINUE)
                return r;
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &all, &err, "/v1/templates") < 0)
                return vpsctl_fail_err(&err);
        if (!json_is_array(all))
                return vpsctl_fail("unexpected reply from vpsd: GET /v1/templates is not an array");

        _cleanup_json_ json_t *sorted = format_sort(all, "name");
        /* sizes for people in the table; scripts get bytes from -j */
        _cleanup_json_ json_t *rows = sorted && !json ? format_humanize_size(sorted, "size") : NULL;
        if (!sorted || (!json && !rows))
                return vpsctl_fail("cannot build the list: out of memory");
        if (json)
                return vpsctl_print_json(sorted);
        r = format_table(stdout, rows, columns, true);
        if (r < 0)
                return vpsctl_fail("writing the list: %s", strerror(-r));
        return 0;
}

static int template_remove(struct vpsctl *v, int argc, char **argv)
{
        const char *name = NULL;
        vps_error err = {0};
        bool json;

        int r = parse(v, argc, argv, remove_usage, &json, &name);
        if (r != CMD_CONTINUE)
                return r;
        _cleanup_json_ json_t *answer = NULL;
        if (vpsctl_request(v, "DELETE", NULL, TIMEOUT_LONG, &answer, &err, "/v1/templates/%s",
                           name) < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(answer);
        printf("Template %s removed\n", name);
        return 0;
}

static const struct {
        const char *name;
        const char *full_name; /* for "Try 'vpsctl template build --help'." */
        vpsctl_cmd_fn run;
} subcommands[] = {
        {"build", "template build", template_build},
        {"import", "template import", template_import},
        {"list", "template list", template_list},
        {"remove", "template remove", template_remove},
};

int cmd_template(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;

        /* "+": options after the subcommand are the subcommand's */
        optind = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(template_usage);
                return vpsctl_opt_error(v, c, argv);
        }
        if (optind >= argc)
                return vpsctl_usage_error(
                        v, "missing template command (build, import, list or remove)");
        for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
                if (strcmp(argv[optind], subcommands[i].name) == 0) {
                        v->cmd = subcommands[i].full_name;
                        return subcommands[i].run(v, argc - optind, argv + optind);
                }
        }
        return vpsctl_usage_error(v, "unknown template command '%s'", argv[optind]);
}
