/* vpsctl: what the command table in main.c and the command files share: the context,
 * the command entry points and the helpers that keep error output uniform. */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "vps/error.h"

/* Exit statuses, for scripts (vpsctl(8), EXIT STATUS): 2 for usage errors and bad values (as
 * GNU tools do), then one per kind of refusal a script may want to tell apart; 1 for the
 * rest. vpsctl_exit_for() maps an error's errno onto them. */
#define EXIT_FAIL        1
#define EXIT_USAGE       2
#define EXIT_NOENT       3 /* no such VPS (or template) */
#define EXIT_EXISTS      4 /* it already exists */
#define EXIT_STATE       5 /* wrong state: running, not running, or paused */
#define EXIT_REFUSED     6 /* refused by a limit, a quota or a policy; permission */
#define EXIT_TIMEOUT     7 /* vpsd or the VPS did not finish in time */
#define EXIT_UNREACHABLE 8 /* no vpsd answers at the socket */

/* exits.c: the statuses as --help lists them (a row of status -1 goes on the line above);
 * the map from an errno onto them. */
struct vpsctl_exit {
        int status;
        const char *what;
};
extern const struct vpsctl_exit vpsctl_exits[];
extern const size_t vpsctl_n_exits;
void vpsctl_print_exits(FILE *f);
int vpsctl_exit_for(int errnum);

/* With -j, errors go to stderr as one JSON object a line: {"error", "errno", "exit"}. */
void vpsctl_json_errors(bool on);
bool vpsctl_json_mode(void);

/* Returned by option parsers when the command should go on (any other value is the exit
 * status, e.g. 0 after --help). */
#define CMD_CONTINUE (-1)

/* No client timeout: stop, restart and template builds return when the work is done. */
#define TIMEOUT_NONE 0L
/* Reads and quick changes: long enough for a loaded host, short enough to notice a hang. */
#define TIMEOUT_SHORT 60L
/* start waits for the VPS init to come up. */
#define TIMEOUT_LONG 300L

#include "client.h"

struct vpsctl {
        const char *socket; /* path of vpsd's Unix socket */
        const char *remote; /* --remote NAME or $VPSCTL_REMOTE; NULL for the socket */
        const char *cmd;    /* running command ("stop", "template build"), for usage hints */
        struct client_target target; /* where requests go: the socket or the remote */
        json_t *remotes;             /* remotes.json, which target points into */
        vps_error target_err;        /* why the remote cannot be used (target.broken) */
};

typedef int (*vpsctl_cmd_fn)(struct vpsctl *v, int argc, char **argv);

/* Commands: argv[0] is the command name; the return value is the exit status. */
int cmd_list(struct vpsctl *v, int argc, char **argv);
int cmd_create(struct vpsctl *v, int argc, char **argv);
int cmd_start(struct vpsctl *v, int argc, char **argv);
int cmd_stop(struct vpsctl *v, int argc, char **argv);
int cmd_restart(struct vpsctl *v, int argc, char **argv);
int cmd_status(struct vpsctl *v, int argc, char **argv);
int cmd_stats(struct vpsctl *v, int argc, char **argv);
int cmd_set(struct vpsctl *v, int argc, char **argv);
int cmd_destroy(struct vpsctl *v, int argc, char **argv);
int cmd_exec(struct vpsctl *v, int argc, char **argv);
int cmd_enter(struct vpsctl *v, int argc, char **argv);
int cmd_console(struct vpsctl *v, int argc, char **argv);
int cmd_template(struct vpsctl *v, int argc, char **argv);
int cmd_version(struct vpsctl *v, int argc, char **argv);
int cmd_remote(struct vpsctl *v, int argc, char **argv);
int cmd_nodes(struct vpsctl *v, int argc, char **argv);
int cmd_node(struct vpsctl *v, int argc, char **argv);
/* cmd_snapshot.c */
int cmd_snapshot(struct vpsctl *v, int argc, char **argv);
int cmd_snapshot_list(struct vpsctl *v, int argc, char **argv);
int cmd_snapshot_delete(struct vpsctl *v, int argc, char **argv);
int cmd_snapshot_switch(struct vpsctl *v, int argc, char **argv);
int cmd_snapshot_mount(struct vpsctl *v, int argc, char **argv);
int cmd_snapshot_umount(struct vpsctl *v, int argc, char **argv);
int cmd_reinstall(struct vpsctl *v, int argc, char **argv);
int cmd_clone(struct vpsctl *v, int argc, char **argv);
/* cmd_pause.c */
int cmd_pause(struct vpsctl *v, int argc, char **argv);
int cmd_unpause(struct vpsctl *v, int argc, char **argv);
int cmd_suspend(struct vpsctl *v, int argc, char **argv);
int cmd_resume(struct vpsctl *v, int argc, char **argv);
/* POST /v1/vps/ID/ACTION with body on a stopped VPS (cmd_snapshot.c): a running one is
 * checked first (the body with "dry_run"), stopped, acted on and started again, each step
 * said on stderr; what ("reinstall it") is for those lines; progress: the name of the copy's
 * progress lines on a terminal (vpsctl_copy_request), NULL for none. */
int vpsctl_run_stopped(struct vpsctl *v, const char *id, const char *action, json_t *body,
                       const char *what, const char *progress, json_t **answer,
                       bool *ret_restarted);
/* cmd_trust.c, cmd_token.c, cmd_audit.c: the remote API's credentials and audit log. */
int cmd_trust(struct vpsctl *v, int argc, char **argv);
int cmd_token(struct vpsctl *v, int argc, char **argv);
int cmd_audit(struct vpsctl *v, int argc, char **argv);
/* cmd_events.c: vpsd's event stream. */
int cmd_events(struct vpsctl *v, int argc, char **argv);
/* DELETE /v1/WHAT/NAME, printed as "revoked NAME" or "removed NAME" (or the answer with -j). */
int vpsctl_delete_named(struct vpsctl *v, const char *what, const char *name, bool json);
/* cmd_backup.c */
int cmd_backup(struct vpsctl *v, int argc, char **argv);
int cmd_restore(struct vpsctl *v, int argc, char **argv);
/* cmd_migrate.c */
int cmd_migrate(struct vpsctl *v, int argc, char **argv);
/* cmd_migrate.c: migrate ID --to-node to (NAME or "auto") from v's vpsd, for node drain
 * (fast: as migrate --fast): errors printed as they come (the last into *err); *ret: the
 * result (as migrate -j prints it) when it moved. */
int vpsctl_migrate_node(struct vpsctl *v, const char *id, const char *to, bool fast, json_t **ret,
                        vps_error *err);

/* Prints "vpsctl: MESSAGE" on stderr; returns EXIT_FAIL. */
int vpsctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vpsctl_fail_err(const vps_error *err);

/* Prints "vpsctl: MESSAGE" and the --help hint for the running command; returns EXIT_USAGE. */
int vpsctl_usage_error(const struct vpsctl *v, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Turns getopt_long's '?' or ':' into a usage error (getopt's own messages are off, so that
 * every line starts with "vpsctl:"). */
int vpsctl_opt_error(const struct vpsctl *v, int c, char **argv);

/* Prints a command's usage text on stdout; returns 0 (the exit status of --help). */
int vpsctl_help(const char *text);

/* The setting options of create and set, from libvps's field table (settings.c): getopt
 * codes VPSCTL_OPT_FIELD + the field's index, VPSCTL_OPT_LIMIT + the limit's. */
#define VPSCTL_OPT_FIELD 1024
#define VPSCTL_OPT_LIMIT 1536
struct option;
/* Fills out with them (at most max); returns how many. */
size_t vpsctl_setting_options(struct option *out, size_t max);
/* getopt's c with its argument into the request body *body (made on first use): CMD_CONTINUE
 * when c is a setting option, 0 when it is not, or a usage error's exit status. */
int vpsctl_setting_arg(const struct vpsctl *v, int c, const char *arg, json_t **body);
/* A usage synopsis: head ("Usage: vpsctl set ID [--hostname H]"), "[--KEY METAVAR]" for each
 * setting option, then tail ("[-j]"), wrapped. */
void vpsctl_setting_synopsis(FILE *out, const char *head, const char *tail);
/* The setting options' help lines ("  --ram SIZE         memory limit ..."). */
void vpsctl_setting_help(FILE *out);

/* Parses options (ending in {0}; --help's code is 'h'), each but --help handed to on_option
 * (with ctx; it returns CMD_CONTINUE or an exit status), then takes the one ID argument,
 * validated. Returns CMD_CONTINUE with *ret_id set, or an exit status. */
int vpsctl_parse_id_opts(struct vpsctl *v, int argc, char **argv, const char *usage,
                         const struct option *options,
                         int (*on_option)(struct vpsctl *v, int c, const char *arg, void *ctx),
                         void *ctx, const char **ret_id);
/* The same when the options are only --help/-h. */
int vpsctl_parse_id_only(struct vpsctl *v, int argc, char **argv, const char *usage,
                         const char **ret_id);
/* Options -j/--json (sets *json) and -h/--help alone; the words after them are the caller's
 * (from optind). CMD_CONTINUE, or the command's exit status (help shown, a bad option). */
int vpsctl_parse_json_opt(struct vpsctl *v, int argc, char **argv, const char *usage, bool *json);

/* Takes the ID at argv[optind] and checks nothing follows it. Returns CMD_CONTINUE or an
 * exit status (2 when missing, followed by extra arguments, or invalid). */
int vpsctl_take_id(const struct vpsctl *v, int argc, char **argv, const char **ret_id);

/* The client-side ID check: the same rule as the daemon, so a typo never reaches it. */
int vpsctl_check_id(const char *id);

/* Parses a non-negative number of seconds ("30"); false on anything else. */
bool vpsctl_parse_seconds(const char *s, long *ret);

/* json_dumps with JSON_INDENT(2) on stdout; returns the exit status. */
int vpsctl_print_json(const json_t *j);

/* Prints the "warning" of a daemon's answer, if any, to stderr. */
void vpsctl_print_warning(const json_t *answer);
/* The path of a request from its format: 0, or ENOMEM in err. */
int vpsctl_vpath(char **ret, vps_error *err, const char *path_fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
/* Sends a request and returns the reply: a thin wrapper over client_request() that uses
 * the context's target and builds the path from a format. */
int vpsctl_request(const struct vpsctl *v, const char *method, json_t *body, long timeout_s,
                   json_t **ret, vps_error *err, const char *path_fmt, ...)
        __attribute__((format(printf, 7, 8)));

/* stream.c: the upgraded streams. POST path with body (JSON text or NULL) upgraded to proto;
 * 0 and *ret_fd once vpsd answered 101, else err from its answer; with ret_plain given, a 2xx
 * answer (a vpsd without that upgrade) is 0 with the answer in *ret_plain instead. */
int vpsctl_stream_open(const struct vpsctl *v, const char *path, const char *proto,
                       const char *body, int *ret_fd, json_t **ret_plain, vps_error *err);
/* vpsd's progress frames ('P', docs/api.md) shown on stderr, one line redrawn. */
struct vpsctl_progress {
        bool on; /* stderr is a terminal and no -j */
        const char *what;
        const char *verb; /* of bytes: "copied" (default), "read" */
        bool shown;
};
void vpsctl_progress_show(struct vpsctl_progress *p, const char *json, size_t len);
/* Ends the line shown, if any. */
void vpsctl_progress_done(struct vpsctl_progress *p);
/* POST a copy (snapshot, snapshot-switch, clone): with what (the name the progress lines
 * start with) and stderr a terminal, as a vps-progress stream whose progress is shown;
 * otherwise, and with what NULL (-j), as a plain request. No timeout. */
int vpsctl_copy_request(const struct vpsctl *v, const char *what, json_t *body, json_t **ret,
                        vps_error *err, const char *path_fmt, ...)
        __attribute__((format(printf, 6, 7)));

/* exec_remote.c: exec and enter against a remote: argv run in VPS id by vpsd (POST
 * /v1/vps/ID/exec, vps-exec); returns the command's status, or fails as vpsctl does. */
int vpsctl_exec_remote(const struct vpsctl *v, const char *id, char *const *argv, bool pty);

/* GET /v1/vps/ID. */
int vpsctl_get_vps(const struct vpsctl *v, const char *id, json_t **ret, vps_error *err);
