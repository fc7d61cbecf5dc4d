/* vpsctl trust add|list|remove: the client certificates vpsd's remote API trusts with the
 * local socket's full power (/v1/trust). The certificate goes to vpsd, which keeps its
 * SHA-256 fingerprint. */
#include "vpsctl.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vps/cleanup.h"
#include "vps/util.h"

static const char trust_usage[] =
        "Usage: vpsctl trust add FILE [--name N] [-j]\n"
        "       vpsctl trust list [-j]\n"
        "       vpsctl trust remove FINGERPRINT|NAME [-j]\n"
        "\n"
        "Manage the client certificates vpsd's remote API (vpsd --listen) trusts. A\n"
        "trusted certificate has the local socket's full power: give it to an admin's\n"
        "panel alone. add takes a PEM certificate file (its private key stays with the\n"
        "client); list shows FINGERPRINT (SHA-256) NAME ADDED; remove stops trusting it.\n"
        "\n"
        "Options:\n"
        "  -n, --name N  a name to remember the certificate by (add)\n"
        "  -j, --json    print JSON\n"
        "  -h, --help    print this help and exit\n";

/* Options of every subcommand; the arguments left in argv[optind..]. */
static int parse(struct vpsctl *v, int argc, char **argv, const char **name, bool *json)
{
        static const struct option options[] = {
                {"name", required_argument, NULL, 'n'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":n:jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(trust_usage);
                if (c == 'j')
                        *json = true;
                else if (c == 'n' && name)
                        *name = optarg;
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        return CMD_CONTINUE;
}

static int trust_add(struct vpsctl *v, int argc, char **argv)
{
        const char *name = NULL;
        bool json = false;
        int r = parse(v, argc, argv, &name, &json);
        if (r != CMD_CONTINUE)
                return r;
        if (optind + 1 != argc)
                return vpsctl_usage_error(v, "trust add takes one certificate FILE");
        vps_error err = {0};
        _cleanup_free_ char *pem = NULL;
        size_t len = 0;
        if (vps_read_file_at(AT_FDCWD, argv[optind], &pem, &len, &err) < 0)
                return vpsctl_fail_err(&err);
        if (!strstr(pem, "-----BEGIN CERTIFICATE-----") || strstr(pem, "PRIVATE KEY"))
                return vpsctl_fail("%s: not a PEM certificate alone (a private key never "
                                   "leaves the client)",
                                   argv[optind]);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "certificate", pem), *ret = NULL;
        if (name)
                json_object_set_new(body, "name", json_string(name));
        if (vpsctl_request(v, "POST", body, TIMEOUT_SHORT, &ret, &err, "/v1/trust") < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(ret);
        printf("trusted %s\n", json_string_value(json_object_get(ret, "fingerprint")));
        return 0;
}

static int trust_list(struct vpsctl *v, int argc, char **argv)
{
        bool json = false;
        int r = parse(v, argc, argv, NULL, &json);
        if (r != CMD_CONTINUE)
                return r;
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        vps_error err = {0};
        _cleanup_json_ json_t *ret = NULL;
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &ret, &err, "/v1/trust") < 0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(ret);
        printf("%-64s  %-20s  %s\n", "FINGERPRINT", "NAME", "ADDED");
        size_t i;
        json_t *t;
        json_array_foreach(ret, i, t)
        {
                time_t added = (time_t)json_integer_value(json_object_get(t, "added"));
                char when[32] = "-";
                struct tm tm;
                if (added && gmtime_r(&added, &tm))
                        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                const char *n = json_string_value(json_object_get(t, "name"));
                printf("%-64s  %-20s  %s\n",
                       json_string_value(json_object_get(t, "fingerprint")) ?: "?",
                       n && *n ? n : "-", when);
        }
        return 0;
}

/* vpsctl token revoke and trust remove: DELETE /v1/WHAT/NAME. */
int vpsctl_delete_named(struct vpsctl *v, const char *what, const char *name, bool json)
{
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
                        return vpsctl_fail("'%s': not a fingerprint or name", name);
        vps_error err = {0};
        _cleanup_json_ json_t *ret = NULL;
        if (!*name || strlen(name) > 100)
                return vpsctl_fail("'%s': not a fingerprint or name", name);
        if (vpsctl_request(v, "DELETE", NULL, TIMEOUT_SHORT, &ret, &err, "/v1/%s/%s", what, name) <
            0)
                return vpsctl_fail_err(&err);
        if (json)
                return vpsctl_print_json(ret);
        printf("%s %s\n", strcmp(what, "trust") ? "revoked" : "removed", name);
        return 0;
}

static int trust_remove(struct vpsctl *v, int argc, char **argv)
{
        bool json = false;
        int r = parse(v, argc, argv, NULL, &json);
        if (r != CMD_CONTINUE)
                return r;
        if (optind + 1 != argc)
                return vpsctl_usage_error(v, "trust remove takes one FINGERPRINT or NAME");
        return vpsctl_delete_named(v, "trust", argv[optind], json);
}

int cmd_trust(struct vpsctl *v, int argc, char **argv)
{
        if (argc < 2)
                return vpsctl_usage_error(v, "missing command: add, list or remove");
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
                return vpsctl_help(trust_usage);
        if (!strcmp(argv[1], "add"))
                return trust_add(v, argc - 1, argv + 1);
        if (!strcmp(argv[1], "list"))
                return trust_list(v, argc - 1, argv + 1);
        if (!strcmp(argv[1], "remove"))
                return trust_remove(v, argc - 1, argv + 1);
        return vpsctl_usage_error(v, "unknown command '%s' (add, list, remove)", argv[1]);
}
