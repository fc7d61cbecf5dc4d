/* vpsctl: helpers every command uses, so that errors, usage hints and JSON output look the
 * same whichever command prints them. */
#include "vpsctl.h"
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vps/cleanup.h"
#include "vps/util.h"

static bool json_errors;

void vpsctl_json_errors(bool on)
{
        json_errors = on;
}

bool vpsctl_json_mode(void)
{
        return json_errors;
}

/* Prints one error line, "vpsctl: MESSAGE" or its JSON form; returns status. */
static int report(int errnum, int status, const char *fmt, va_list ap)
{
        char msg[VPS_ERROR_MSG_MAX + 64];
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        (void)fflush(stdout); /* keep the order of what a terminal shows */
        if (!json_errors) {
                (void)fprintf(stderr, "vpsctl: %s\n", msg);
                return status;
        }
        _cleanup_json_ json_t *j = json_pack("{s:s, s:i, s:i}", "error", msg, "errno",
                                             errnum ? errnum : EIO, "exit", status);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        (void)fprintf(stderr, "%s\n", text ? text : "{\"error\": \"out of memory\"}");
        return status;
}

int vpsctl_fail(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = report(EIO, EXIT_FAIL, fmt, ap);
        va_end(ap);
        return r;
}

static int fail_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_errno(int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = report(errnum, vpsctl_exit_for(errnum), fmt, ap);
        va_end(ap);
        return r;
}

int vpsctl_fail_err(const vps_error *err)
{
        int code = err->code ? err->code : EIO;
        return fail_errno(code, "%s", err->msg[0] ? err->msg : strerror(code));
}

void vpsctl_print_warning(const json_t *answer)
{
        const char *w = json_string_value(json_object_get(answer, "warning"));
        char text[1024];
        if (!w || json_errors) /* with -j it stays in the printed object */
                return;
        (void)snprintf(text, sizeof(text), "%s", w);
        client_option_names(text, sizeof(text));
        fprintf(stderr, "vpsctl: warning: %s\n", text);
}

int vpsctl_usage_error(const struct vpsctl *v, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = report(EINVAL, EXIT_USAGE, fmt, ap);
        va_end(ap);
        if (json_errors)
                return r;
        if (v && v->cmd)
                (void)fprintf(stderr, "Try 'vpsctl %s --help'.\n", v->cmd);
        else
                (void)fputs("Try 'vpsctl --help'.\n", stderr);
        return r;
}

int vpsctl_opt_error(const struct vpsctl *v, int c, char **argv)
{
        /* getopt has already moved optind past a long option, so argv[optind - 1] is the
         * word the user typed; a short option is best named by optopt (it may sit inside a
         * cluster such as -jx). */
        const char *word = optind > 0 ? argv[optind - 1] : "";
        bool is_long = word && strncmp(word, "--", 2) == 0;

        if (c == ':') {
                if (is_long)
                        return vpsctl_usage_error(v, "option '%s' requires an argument", word);
                return vpsctl_usage_error(v, "option requires an argument -- '%c'", optopt);
        }
        if (is_long) {
                const char *eq = strchr(word, '=');
                if (eq && optopt != 0)
                        return vpsctl_usage_error(v, "option '%.*s' doesn't allow an argument",
                                                  (int)(eq - word), word);
                return vpsctl_usage_error(v, "unrecognized option '%s'", word);
        }
        /* "vpsctl status -1": a negative number is a wrong ID, not an unknown option. */
        if (word && word[0] == '-' && word[1] && strspn(word + 1, "0123456789") == strlen(word + 1))
                return vpsctl_check_id(word);
        return vpsctl_usage_error(v, "invalid option -- '%c'", optopt);
}

int vpsctl_help(const char *text)
{
        (void)fputs(text, stdout);
        return 0;
}

int vpsctl_parse_id_opts(struct vpsctl *v, int argc, char **argv, const char *usage,
                         const struct option *options,
                         int (*on_option)(struct vpsctl *v, int c, const char *arg, void *ctx),
                         void *ctx, const char **ret_id)
{
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(usage);
                int r = c == '?' || c == ':' || !on_option ? vpsctl_opt_error(v, c, argv)
                                                           : on_option(v, c, optarg, ctx);
                if (r != CMD_CONTINUE)
                        return r;
        }
        return vpsctl_take_id(v, argc, argv, ret_id);
}

int vpsctl_parse_json_opt(struct vpsctl *v, int argc, char **argv, const char *usage, bool *json)
{
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(usage);
                if (c != 'j')
                        return vpsctl_opt_error(v, c, argv);
                *json = true;
        }
        return CMD_CONTINUE;
}

int vpsctl_parse_id_only(struct vpsctl *v, int argc, char **argv, const char *usage,
                         const char **ret_id)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        return vpsctl_parse_id_opts(v, argc, argv, usage, options, NULL, NULL, ret_id);
}

int vpsctl_take_id(const struct vpsctl *v, int argc, char **argv, const char **ret_id)
{
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing VPS ID");
        if (optind + 1 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 1]);
        int r = vpsctl_check_id(argv[optind]);
        if (r != CMD_CONTINUE)
                return r;
        *ret_id = argv[optind];
        return CMD_CONTINUE;
}

int vpsctl_check_id(const char *id)
{
        vps_error err = {0};
        if (vps_id_check(id, &err) < 0)
                return vpsctl_fail_err(&err);
        return CMD_CONTINUE;
}

bool vpsctl_parse_seconds(const char *s, long *ret)
{
        char *end = NULL;
        /* strtol would accept " 30", "+30" and "-0": only plain digits are seconds */
        if (!isdigit((unsigned char)s[0]))
                return false;
        errno = 0;
        long n = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || n > INT_MAX)
                return false;
        *ret = n;
        return true;
}

int vpsctl_print_json(const json_t *j)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (!text)
                return vpsctl_fail("cannot format JSON: %s", strerror(ENOMEM));
        if (puts(text) == EOF || fflush(stdout) != 0)
                return vpsctl_fail("writing to standard output: %s", strerror(errno));
        return 0;
}

int vpsctl_vpath(char **ret, vps_error *err, const char *path_fmt, va_list ap)
{
        if (vasprintf(ret, path_fmt, ap) < 0) {
                *ret = NULL; /* vasprintf leaves it undefined on failure */
                return vps_err(err, ENOMEM, "building the request path: %s", strerror(ENOMEM));
        }
        return 0;
}

int vpsctl_request(const struct vpsctl *v, const char *method, json_t *body, long timeout_s,
                   json_t **ret, vps_error *err, const char *path_fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        va_list ap;
        va_start(ap, path_fmt);
        int r = vpsctl_vpath(&path, err, path_fmt, ap);
        va_end(ap);
        return r < 0 ? r : client_request(&v->target, method, path, body, timeout_s, ret, err);
}

int vpsctl_get_vps(const struct vpsctl *v, const char *id, json_t **ret, vps_error *err)
{
        return vpsctl_request(v, "GET", NULL, TIMEOUT_SHORT, ret, err, "/v1/vps/%s", id);
}
