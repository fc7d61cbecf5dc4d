/* vpsctl remote add|list|remove: the remote vpsds this user talks to over HTTPS. `add` is the
 * first contact: it reads the server's certificate, checks it against the fingerprint given
 * (or has it confirmed: asked on a terminal as ssh does, --accept-certificate in a script),
 * pins it, then asks for vpsd's version with the credentials before keeping it. */
#include "vpsctl.h"
#include "client.h"
#include "remote.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vps/cleanup.h"

#define TOKEN_MAX 4096

static const char remote_usage[] =
        "Usage: vpsctl remote COMMAND [ARGS]\n"
        "\n"
        "Remote vpsds, reached over HTTPS (vpsd --listen). 'vpsctl --remote NAME COMMAND',\n"
        "or VPSCTL_REMOTE=NAME, sends COMMAND there ('--remote local': the socket). They\n"
        "are kept in $XDG_CONFIG_HOME/vpsctl/remotes.json (default ~/.config), mode 0600.\n"
        "\n"
        "Commands:\n"
        "  add NAME https://HOST:PORT [--token T | --cert C --key K]\n"
        "                add a remote, its certificate pinned at this first contact\n"
        "  list [-j]     list the remotes\n"
        "  remove NAME   forget a remote\n"
        "\n"
        "'vpsctl remote COMMAND --help' describes a command.\n";

static const char add_usage[] =
        "Usage: vpsctl remote add NAME https://HOST:PORT [--token T | --cert C --key K]\n"
        "                         [--fingerprint FP | --accept-certificate] [-j]\n"
        "\n"
        "Add the remote vpsd NAME at https://HOST:PORT. This first contact reads the\n"
        "server's certificate and pins it: its SHA-256 fingerprint (compare it with what\n"
        "'vpsd --fingerprint' prints there) and its public key. A later connection to a\n"
        "server with another certificate is refused before anything is sent. Without\n"
        "--fingerprint, the fingerprint is shown and confirmed on a terminal; with no\n"
        "terminal, --accept-certificate is needed. The credentials are tried with a\n"
        "request before NAME is kept.\n"
        "\n"
        "Options:\n"
        "  --token T         a token ('vpsctl token create'); '-' reads it from stdin\n"
        "  --cert FILE       a client certificate (PEM) the server trusts ('vpsctl trust\n"
        "                    add')\n"
        "  --key FILE        its private key (PEM)\n"
        "  --fingerprint FP  refuse the server unless its certificate has this one\n"
        "  --accept-certificate\n"
        "                    pin whatever certificate the server shows, unasked\n"
        "  -j, --json        print the remote as JSON (never its token)\n"
        "  -h, --help        print this help and exit\n";

static const char list_usage[] =
        "Usage: vpsctl remote list [-j]\n"
        "\n"
        "List the remotes: NAME URL AUTH (token, certificate or none) and the start of\n"
        "the pinned FINGERPRINT. Tokens are never shown.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print them as JSON\n"
        "  -h, --help  print this help and exit\n";

static const char remove_usage[] =
        "Usage: vpsctl remote remove NAME [-j]\n"
        "\n"
        "Forget the remote NAME, its credentials and its pinned certificate.\n"
        "\n"
        "Options:\n"
        "  -j, --json  print {\"name\", \"removed\"} as JSON\n"
        "  -h, --help  print this help and exit\n";

/* A remote as list shows it: no token, only whether there is one. */
static json_t *shown(const char *name, json_t *e)
{
        json_t *t = json_object_get(e, "token");
        const char *auth = t ? "token" : json_object_get(e, "cert") ? "certificate" : "none";
        return json_pack("{s:s, s:O, s:s, s:O, s:O*, s:O*, s:O*}", "name", name, "url",
                         json_object_get(e, "url"), "auth", auth, "fingerprint",
                         json_object_get(e, "fingerprint"), "cert", json_object_get(e, "cert"),
                         "key", json_object_get(e, "key"), "added", json_object_get(e, "added"));
}

/* --token -: one line from stdin, so that the token is in no process list. */
static int read_token(const char *arg, char **ret, vps_error *err)
{
        if (strcmp(arg, "-") != 0) {
                *ret = strdup(arg);
        } else {
                char *line = NULL;
                size_t cap = 0;
                ssize_t n = getline(&line, &cap, stdin);
                if (n < 0) {
                        free(line);
                        return vps_err(err, EINVAL, "--token -: no token on standard input");
                }
                line[strcspn(line, "\r\n")] = '\0';
                *ret = line;
        }
        if (!*ret)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        size_t len = strlen(*ret);
        for (const char *p = *ret; *p; p++)
                if (*p <= ' ' || *p >= 0x7f)
                        return vps_err(err, EINVAL,
                                       "invalid token: a space, control or non-ASCII "
                                       "character in it");
        if (len == 0 || len > TOKEN_MAX)
                return vps_err(err, EINVAL, "invalid token: empty or over %d characters",
                               TOKEN_MAX);
        return 0;
}

/* A client certificate or key by its absolute path, checked to be readable now. */
static int file_arg(const char *what, const char *arg, char **ret, vps_error *err)
{
        *ret = realpath(arg, NULL);
        if (!*ret || access(*ret, R_OK) < 0)
                return vps_err_sys(err, errno, "%s %s", what, arg);
        return 0;
}

struct add_args {
        const char *name, *url_arg, *fp_arg, *cert_arg, *key_arg, *token_arg;
        bool json, accept;
};

static int parse_add(struct vpsctl *v, int argc, char **argv, struct add_args *a)
{
        static const struct option options[] = {
                {"token", required_argument, NULL, 't'},
                {"cert", required_argument, NULL, 'c'},
                {"key", required_argument, NULL, 'k'},
                {"fingerprint", required_argument, NULL, 'f'},
                {"accept-certificate", no_argument, NULL, 'a'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(add_usage);
                else if (c == 't')
                        a->token_arg = optarg;
                else if (c == 'c')
                        a->cert_arg = optarg;
                else if (c == 'k')
                        a->key_arg = optarg;
                else if (c == 'f')
                        a->fp_arg = optarg;
                else if (c == 'j')
                        a->json = true;
                else if (c == 'a')
                        a->accept = true;
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        vpsctl_json_errors(a->json);
        if (argc - optind < 2)
                return vpsctl_usage_error(v, "remote add needs a NAME and a https://HOST:PORT");
        if (argc - optind > 2)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 2]);
        a->name = argv[optind];
        a->url_arg = argv[optind + 1];
        if (!a->cert_arg != !a->key_arg)
                return vpsctl_usage_error(v, "--cert and --key go together");
        if (a->token_arg && a->cert_arg)
                return vpsctl_usage_error(v, "--token or --cert and --key, not both");
        if (a->fp_arg && a->accept)
                return vpsctl_usage_error(v, "--fingerprint or --accept-certificate, not both");
        return CMD_CONTINUE;
}

/* A certificate seen for the first time, with no fingerprint to check it against: asked on a
 * terminal (as ssh asks of a new host key); refused with no terminal unless
 * --accept-certificate says to take it, so that no script pins a stranger's by accident. */
static int confirm(const struct add_args *a, const struct client_target *t, const char *fp,
                   vps_error *err)
{
        if (a->accept)
                return 0;
        if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
                return vps_err(err, EPERM,
                               "the certificate of %s (fingerprint %s) is not confirmed: give "
                               "--fingerprint FP (what 'vpsd --fingerprint' prints there) or "
                               "--accept-certificate; remote %s not added",
                               t->url, fp, t->name);
        (void)fprintf(stderr,
                      "The certificate of %s has the SHA-256 fingerprint\n  %s\n"
                      "Compare it with what 'vpsd --fingerprint' prints on that host.\n"
                      "Trust it and add remote %s (yes/no)? ",
                      t->url, fp, t->name);
        char line[16] = "";
        if (!fgets(line, sizeof(line), stdin))
                line[0] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "yes") == 0 || strcmp(line, "y") == 0)
                return 0;
        return vps_err(err, EPERM, "the certificate of %s was not accepted: remote %s not added",
                       t->url, t->name);
}

/* Pins the server's certificate and asks for its version: the remote as it will be kept. */
static int first_contact(const struct add_args *a, struct client_target *t, char fp[],
                         char pubkey[], json_t **ret_version, vps_error *err)
{
        char want[CLIENT_FP_LEN];
        if (a->fp_arg && remote_fingerprint_normalize(a->fp_arg, want, err) < 0)
                return -err->code;
        int r = client_fetch_pins(t, fp, pubkey, err);
        if (r < 0)
                return r;
        if (a->fp_arg && strcmp(fp, want) != 0)
                return vps_err(err, EPERM,
                               "the certificate of %s has fingerprint %s, not %s: refused, "
                               "remote %s not added",
                               t->url, fp, want, t->name);
        if (!a->fp_arg && (r = confirm(a, t, fp, err)) < 0)
                return r;
        t->fingerprint = fp;
        t->pubkey = pubkey;
        r = client_request(t, "GET", "/v1/version", NULL, TIMEOUT_SHORT, ret_version, err);
        return r < 0 ? vps_err_wrap(err, "remote %s not added", t->name) : 0;
}

static int remote_add(struct vpsctl *v, int argc, char **argv)
{
        struct add_args a = {0};
        _cleanup_free_ char *url = NULL, *token = NULL, *cert = NULL, *key = NULL;
        _cleanup_json_ json_t *all = NULL, *version = NULL;
        char fp[CLIENT_FP_LEN], pubkey[CLIENT_PIN_LEN], added[32];
        vps_error err = {0};

        int r = parse_add(v, argc, argv, &a);
        if (r != CMD_CONTINUE)
                return r;
        if (remote_name_check(a.name, &err) < 0 ||
            remote_url_normalize(a.url_arg, &url, &err) < 0 ||
            (a.token_arg && read_token(a.token_arg, &token, &err) < 0) ||
            (a.cert_arg && (file_arg("--cert", a.cert_arg, &cert, &err) < 0 ||
                            file_arg("--key", a.key_arg, &key, &err) < 0)) ||
            remotes_load(&all, &err) < 0)
                return vpsctl_fail_err(&err);
        json_t *remotes = json_object_get(all, "remotes");
        if (json_object_get(remotes, a.name)) {
                vps_err(&err, EEXIST, "remote '%s' already exists ('vpsctl remote remove %s')",
                        a.name, a.name);
                return vpsctl_fail_err(&err);
        }
        struct client_target t = {
                .name = a.name, .url = url, .token = token, .cert = cert, .key = key};
        if (first_contact(&a, &t, fp, pubkey, &version, &err) < 0)
                return vpsctl_fail_err(&err);

        time_t now = time(NULL);
        struct tm tm;
        (void)strftime(added, sizeof(added), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s*, s:s*}", "url", url, "fingerprint",
                              fp, "pubkey", pubkey, "added", added, "token", token, "cert", cert,
                              "key", key);
        if (!e || json_object_set_new(remotes, a.name, e) < 0)
                return vpsctl_fail("%s", strerror(ENOMEM));
        if (remotes_save(all, &err) < 0)
                return vpsctl_fail_err(&err);
        if (a.json) {
                _cleanup_json_ json_t *j = shown(a.name, e);
                return j ? vpsctl_print_json(j) : vpsctl_fail("%s", strerror(ENOMEM));
        }
        const char *ver = json_string_value(json_object_get(version, "version"));
        printf("Certificate fingerprint of %s: %s\n", url, fp);
        printf("Remote %s added (vpsd %s); its certificate is pinned\n", a.name, ver ? ver : "?");
        return 0;
}

static int parse_simple(struct vpsctl *v, int argc, char **argv, const char *usage, int nargs,
                        bool *json)
{
        int r = vpsctl_parse_json_opt(v, argc, argv, usage, json);
        if (r != CMD_CONTINUE)
                return r;
        vpsctl_json_errors(*json);
        if (argc - optind < nargs)
                return vpsctl_usage_error(v, "missing the remote's NAME");
        if (argc - optind > nargs)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + nargs]);
        return CMD_CONTINUE;
}

static int remote_list(struct vpsctl *v, int argc, char **argv)
{
        _cleanup_json_ json_t *all = NULL, *out = json_array();
        bool json = false;
        vps_error err = {0};

        int r = parse_simple(v, argc, argv, list_usage, 0, &json);
        if (r != CMD_CONTINUE)
                return r;
        if (remotes_load(&all, &err) < 0)
                return vpsctl_fail_err(&err);
        const char *name;
        json_t *e;
        json_object_foreach(json_object_get(all, "remotes"), name, e)
        {
                if (!out || json_array_append_new(out, shown(name, e)) < 0)
                        return vpsctl_fail("%s", strerror(ENOMEM));
        }
        if (json)
                return vpsctl_print_json(out);
        if (json_array_size(out) == 0)
                return 0;
        printf("%-16s %-32s %-11s %s\n", "NAME", "URL", "AUTH", "FINGERPRINT");
        size_t i;
        json_array_foreach(out, i, e)
        {
                printf("%-16s %-32s %-11s %.16s...\n",
                       json_string_value(json_object_get(e, "name")),
                       json_string_value(json_object_get(e, "url")),
                       json_string_value(json_object_get(e, "auth")),
                       json_string_value(json_object_get(e, "fingerprint")));
        }
        return 0;
}

static int remote_remove(struct vpsctl *v, int argc, char **argv)
{
        _cleanup_json_ json_t *all = NULL;
        bool json = false;
        vps_error err = {0};

        int r = parse_simple(v, argc, argv, remove_usage, 1, &json);
        if (r != CMD_CONTINUE)
                return r;
        const char *name = argv[optind];
        struct client_target t;
        if (remote_name_check(name, &err) < 0 || remotes_load(&all, &err) < 0 ||
            remote_target(all, name, &t, &err) < 0)
                return vpsctl_fail_err(&err);
        if (json_object_del(json_object_get(all, "remotes"), name) < 0 ||
            remotes_save(all, &err) < 0)
                return vpsctl_fail_err(&err);
        if (json) {
                _cleanup_json_ json_t *j = json_pack("{s:s, s:b}", "name", name, "removed", 1);
                return j ? vpsctl_print_json(j) : vpsctl_fail("%s", strerror(ENOMEM));
        }
        printf("Remote %s removed\n", name);
        return 0;
}

int cmd_remote(struct vpsctl *v, int argc, char **argv)
{
        static const struct {
                const char *name, *full_name;
                vpsctl_cmd_fn run;
        } subs[] = {
                {"add", "remote add", remote_add},
                {"list", "remote list", remote_list},
                {"remove", "remote remove", remote_remove},
        };

        if (argc < 2)
                return vpsctl_usage_error(v, "missing subcommand: add, list or remove");
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
                return vpsctl_help(remote_usage);
        for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
                if (strcmp(argv[1], subs[i].name) == 0) {
                        v->cmd = subs[i].full_name;
                        return subs[i].run(v, argc - 1, argv + 1);
                }
        return vpsctl_usage_error(v, "unknown subcommand '%s': add, list or remove", argv[1]);
}
