/* vpsctl token create|list|revoke: customers' tokens for vpsd's remote API (/v1/tokens),
 * each limited to its VPSes and verbs; and vpsctl audit, the log of changes asked for. */
#include "vpsctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vps/cleanup.h"

static const char token_usage[] =
        "Usage: vpsctl token create [--name N] [--vps ID[,ID...]] [--allow VERB[,VERB...]]\n"
        "                           [--expires DURATION] [-j]\n"
        "       vpsctl token list [-j]\n"
        "       vpsctl token revoke NAME [-j]\n"
        "\n"
        "Manage the tokens of vpsd's remote API (vpsd --listen), sent as\n"
        "'Authorization: Bearer TOKEN'. create prints the token once: vpsd keeps only its\n"
        "hash. A token sees only its VPSes (another answers 404, as if it did not exist;\n"
        "without --vps, all of them) and does only its verbs (403 otherwise): start, stop,\n"
        "restart, status, console, exec, password, reinstall, snapshot, backup, metrics\n"
        "(without --allow, all of these). Creating, destroying or changing the settings of\n"
        "VPSes, templates, tokens and trust is never a token's.\n"
        "\n"
        "Options:\n"
        "  -n, --name N           the token's name (default: its ID)\n"
        "  -v, --vps IDS          the VPSes it may see, comma-separated\n"
        "  -a, --allow VERBS      what it may do, comma-separated\n"
        "  -e, --expires D        valid for D: 30d, 12h, 90m, 2w, seconds, or never\n"
        "  -j, --json             print JSON\n"
        "  -h, --help             print this help and exit\n";

struct token_opts {
        const char *name, *vps, *allow, *expires;
        bool json;
};

static int parse(struct vpsctl *v, int argc, char **argv, struct token_opts *o, bool create)
{
        static const struct option options[] = {
                {"name", required_argument, NULL, 'n'},
                {"vps", required_argument, NULL, 'v'},
                {"allow", required_argument, NULL, 'a'},
                {"expires", required_argument, NULL, 'e'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":n:v:a:e:jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(token_usage);
                if (c == 'j')
                        o->json = true;
                else if (!create || !strchr("nvae", c))
                        return vpsctl_opt_error(v, c, argv);
                else
                        *(c == 'n'   ? &o->name
                          : c == 'v' ? &o->vps
                          : c == 'a' ? &o->allow
                                     : &o->expires) = optarg;
        }
        return CMD_CONTINUE;
}

/* "a,b,c" as a JSON list; NULL when an item is empty. */
static json_t *split_list(const char *s)
{
        _cleanup_free_ char *copy = strdup(s);
        json_t *l = json_array();
        if (!copy || !l)
                return json_decref(l), NULL;
        char *save = NULL;
        for (char *p = copy;; p = NULL) {
                char *item = strtok_r(p, ",", &save);
                if (!item)
                        break;
                json_array_append_new(l, json_string(item));
        }
        if (!json_array_size(l) || strstr(s, ",,") || *s == ',' || s[strlen(s) - 1] == ',')
                return json_decref(l), NULL;
        return l;
}

static int token_create(struct vpsctl *v, int argc, char **argv)
{
        struct token_opts o = {0};
        int r = parse(v, argc, argv, &o, true);
        if (r != CMD_CONTINUE)
                return r;
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        _cleanup_json_ json_t *body = json_object(), *ret = NULL;
        if (o.name)
                json_object_set_new(body, "name", json_string(o.name));
        if (o.expires)
                json_object_set_new(body, "expires", json_string(o.expires));
        const char *lists[2][2] = {{"vps", o.vps}, {"allow", o.allow}};
        for (size_t i = 0; i < 2; i++) {
                if (!lists[i][1])
                        continue;
                json_t *l = split_list(lists[i][1]);
                if (!l)
                        return vpsctl_usage_error(v, "--%s takes a comma-separated list",
                                                  lists[i][0]);
                json_object_set_new(body, lists[i][0], l);
        }
        vps_error err = {0};
        if (vpsctl_request(v, "POST", body, TIMEOUT_SHORT, &ret, &err, "/v1/tokens") < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(ret);
        /* The secret alone on stdout, for scripts; what it is on stderr. */
        fprintf(stderr, "token %s (shown once; vpsd keeps only its hash):\n",
                json_string_value(json_object_get(ret, "name")));
        printf("%s\n", json_string_value(json_object_get(ret, "token")));
        return 0;
}

static void join(json_t *l, char *out, size_t size, const char *none)
{
        size_t i, n = 0;
        json_t *x;
        out[0] = '\0';
        if (!json_is_array(l)) {
                (void)snprintf(out, size, "%s", none);
                return;
        }
        json_array_foreach(l, i, x)
        {
                int w = snprintf(out + n, size - n, "%s%s", i ? "," : "",
                                 json_string_value(x) ?: "?");
                if (w < 0 || (size_t)w >= size - n)
                        break;
                n += (size_t)w;
        }
}

static void print_time(json_int_t t, const char *none)
{
        char when[32];
        time_t tt = (time_t)t;
        struct tm tm;
        if (!t || !gmtime_r(&tt, &tm))
                (void)snprintf(when, sizeof(when), "%s", none);
        else
                (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("  %-20s", when);
}

static int token_list(struct vpsctl *v, int argc, char **argv)
{
        struct token_opts o = {0};
        int r = parse(v, argc, argv, &o, false);
        if (r != CMD_CONTINUE)
                return r;
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        _cleanup_json_ json_t *ret = NULL;
        vps_error err = {0};
        if (vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, &ret, &err, "/v1/tokens") < 0)
                return vpsctl_fail_err(&err);
        if (o.json)
                return vpsctl_print_json(ret);
        printf("%-20s  %-20s  %-20s  %-20s  %s\n", "NAME", "VPS", "CREATED", "EXPIRES", "ALLOW");
        size_t i;
        json_t *t;
        json_array_foreach(ret, i, t)
        {
                char vps[256], allow[512];
                join(json_object_get(t, "vps"), vps, sizeof(vps), "all");
                join(json_object_get(t, "allow"), allow, sizeof(allow), "-");
                printf("%-20s  %-20s", json_string_value(json_object_get(t, "name")) ?: "?", vps);
                print_time(json_integer_value(json_object_get(t, "created")), "-");
                print_time(json_integer_value(json_object_get(t, "expires")), "never");
                printf("  %s\n", allow);
        }
        return 0;
}

static int token_revoke(struct vpsctl *v, int argc, char **argv)
{
        struct token_opts o = {0};
        int r = parse(v, argc, argv, &o, false);
        if (r != CMD_CONTINUE)
                return r;
        if (optind + 1 != argc)
                return vpsctl_usage_error(v, "token revoke takes one NAME");
        return vpsctl_delete_named(v, "tokens", argv[optind], o.json);
}

int cmd_token(struct vpsctl *v, int argc, char **argv)
{
        if (argc < 2)
                return vpsctl_usage_error(v, "missing command: create, list or revoke");
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
                return vpsctl_help(token_usage);
        if (!strcmp(argv[1], "create"))
                return token_create(v, argc - 1, argv + 1);
        if (!strcmp(argv[1], "list"))
                return token_list(v, argc - 1, argv + 1);
        if (!strcmp(argv[1], "revoke"))
                return token_revoke(v, argc - 1, argv + 1);
        return vpsctl_usage_error(v, "unknown command '%s' (create, list, revoke)", argv[1]);
}
