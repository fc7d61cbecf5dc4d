/* vpsctl migrate: the steps that must outlive a crash of either vpsd (kill -9, a restart),
 * and the guard that outlives vpsctl. A request that finds no vpsd, or loses it mid-way, is
 * tried again for up to MIGRATE_WAIT_S while that vpsd restarts: its outcome decides what
 * may run where, and guessing could leave the VPS running on both hosts or on neither. */
#include "vpsctl.h"
#include "client.h"
#include "migrate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vps/cleanup.h"

/* This vpsd's socket refused or dropped the request (it died, or is restarting). */
static bool lost_here(int code)
{
        return code == ECONNREFUSED || code == ECONNRESET || code == EPIPE;
}

static bool before(double deadline)
{
        if (migrate_now() >= deadline)
                return false;
        (void)usleep(250 * 1000);
        return true;
}

int migrate_here(struct vpsctl *v, const char *id, const char *verb, bool force, vps_error *err)
{
        double deadline = migrate_now() + MIGRATE_WAIT_S;
        for (;;) {
                _cleanup_json_ json_t *ans = NULL;
                _cleanup_json_ json_t *body = force ? json_pack("{s:b}", "force", 1) : NULL;
                int r = vpsctl_request(v, "POST", body, TIMEOUT_LONG, &ans, err, "/v1/vps/%s/%s",
                                       id, verb);
                /* A start (or stop) that vpsd did before it died. */
                if (r < 0 && err->code == EALREADY &&
                    (!strcmp(verb, "start") || !strcmp(verb, "stop")))
                        return 0;
                /* vpsd may still be ending the stream of it (busy), or restarting. */
                if (r >= 0 ||
                    (err->code != EBUSY && err->code != EAGAIN && !lost_here(err->code)) ||
                    !before(deadline))
                        return r;
        }
}

int migrate_request_here(struct vpsctl *v, const char *method, json_t *body, const char *path,
                         vps_error *err)
{
        double deadline = migrate_now() + MIGRATE_WAIT_S;
        for (;;) {
                _cleanup_json_ json_t *ans = NULL;
                int r = vpsctl_request(v, method, body, TIMEOUT_NONE, &ans, err, "%s", path);
                if (r < 0 && err->code == ENOENT && !strcmp(method, "DELETE"))
                        return 0;
                if (r >= 0 || !lost_here(err->code) || !before(deadline))
                        return r;
        }
}

int migrate_fence_here(struct vpsctl *v, struct migrate *m, vps_error *err)
{
        char path[128];
        (void)snprintf(path, sizeof(path), "/v1/vps/%s?fence=1", m->id);
        _cleanup_json_ json_t *body =
                json_pack("{s:s}", "migrated_to", m->to_node ? m->nd.name : m->dest.name);
        int r = migrate_request_here(v, "PATCH", body, path, err);
        if (r < 0)
                return vps_err_wrap(err, "marking VPS %s here as migrating", m->id);
        m->fenced = true;
        return 0;
}

int migrate_remove_here(struct vpsctl *v, struct migrate *m, vps_error *err)
{
        char path[256], to_arg[80];
        migrate_peer_arg(to_arg, sizeof(to_arg), "migrated_to",
                         m->to_node ? m->nd.name : m->dest.name);
        /* "?" for the first argument: the helper writes "&". */
        if (to_arg[0])
                to_arg[0] = '?';
        (void)snprintf(path, sizeof(path), "/v1/vps/%s%s", m->id, to_arg);
        return migrate_request_here(v, "DELETE", NULL, path, err);
}

/* --- the destination ---------------------------------------------------------------------- */

int migrate_remote(struct migrate *m, const char *verb, const char *opt, vps_error *err)
{
        if (m->to_node)
                return node_simple(&m->nd, m->id, verb, err);
        const char *args[] = {verb, m->id, opt, NULL};
        int st;
        char why[512];
        int r = ssh_run(&m->dest, args, &st, NULL, why, sizeof(why), err);
        if (r < 0)
                return r;
        if (st == 0)
                return 0;
        /* ssh's own failure (255): the wire; vpsctl's "no vpsd answers" there: its vpsd
         * died or restarts. Either way the outcome is unknown. */
        int code = st == 255                ? ECONNRESET
                   : st == EXIT_UNREACHABLE ? ENOTCONN
                   : st == EXIT_NOENT       ? ENOENT
                   : st == EXIT_STATE       ? EALREADY
                                            : EPROTO;
        return vps_err(err, code, "%s %s on %s: %s", verb, m->id, m->dest.name,
                       why[0] ? why : "failed");
}

int migrate_destroy_there(struct migrate *m, vps_error *err)
{
        double deadline = migrate_now() + MIGRATE_WAIT_S;
        for (;;) {
                int r = migrate_remote(m, "destroy", "--force", err);
                if (r == 0 || err->code == ENOENT)
                        return 0;
                if (err->code != ENOTCONN || !before(deadline))
                        return r;
        }
}

/* The VPS's status there ("running", "stopped"...), or "" when no answer says. */
static void status_there(struct migrate *m, char *buf, size_t size)
{
        const char *args[] = {"status", m->id, "-j", NULL};
        int st;
        char why[512];
        _cleanup_free_ char *out = NULL;
        vps_error e = {0};
        buf[0] = '\0';
        if (ssh_run(&m->dest, args, &st, &out, why, sizeof(why), &e) < 0 || st != 0 || !out)
                return;
        _cleanup_json_ json_t *j = json_loads(out, 0, NULL);
        const char *s = json_string_value(json_object_get(j, "status"));
        (void)snprintf(buf, size, "%s", s ? s : "");
}

int migrate_start_there(struct migrate *m, const char *verb, vps_error *err)
{
        double deadline = migrate_now() + MIGRATE_WAIT_S;
        for (;;) {
                int r = migrate_remote(m, verb, "-j", err);
                if (r == 0 || m->to_node)
                        return r;
                /* Its vpsd died during the start or resume (which may have begun) and came
                 * back: the VPS's status there says whether it runs. */
                if (err->code != ENOTCONN && err->code != EALREADY)
                        return r;
                char st[32];
                status_there(m, st, sizeof(st));
                if (!strcmp(st, "running"))
                        return 0;
                if (!before(deadline))
                        return vps_err(err, ECONNRESET, "%s (for %d s)", err->msg, MIGRATE_WAIT_S);
        }
}

/* --- the guard: starts the source again if vpsctl dies before the destination took over -- */

/* Returns the write end of its pipe: 'k' written there lets it go quietly; the pipe closed
 * without it (vpsctl killed) makes it start the VPS here. */
int migrate_guard_start(struct vpsctl *v, const char *id, const char *verb)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid < 0) {
                (void)close(p[0]);
                (void)close(p[1]);
                return -1;
        }
        if (pid == 0) {
                (void)signal(SIGINT, SIG_IGN);
                (void)signal(SIGHUP, SIG_IGN);
                (void)signal(SIGTERM, SIG_IGN);
                (void)close(p[1]);
                char c = 0;
                ssize_t n;
                while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
                        ;
                if (n == 1 && c == 'k')
                        _exit(0);
                vps_error err = {0};
                int r = migrate_here(v, id, verb, false, &err);
                if (r < 0)
                        (void)fprintf(stderr, "vpsctl: migrate guard: %s of VPS %s here: %s\n",
                                      verb, id, err.msg);
                _exit(r < 0);
        }
        (void)close(p[0]);
        return p[1];
}

void migrate_guard_release(int *fd)
{
        if (*fd >= 0) {
                (void)!write(*fd, "k", 1);
                (void)close(*fd);
                *fd = -1;
        }
}

bool migrate_undo_there(struct migrate *m, bool remote, const char *state, const char *verb,
                        char *tail, size_t size)
{
        vps_error e = {0};
        bool gone = !remote || migrate_destroy_there(m, &e) == 0;
        if (!gone && m->fenced) {
                (void)snprintf(tail, size,
                               "; removing VPS %s from %s failed (%s), so it stays %s here, marked "
                               "migrated (check there; %s --force %ss it here)",
                               m->id, m->dest.name, e.msg, state, verb, verb);
                return false;
        }
        /* Never run there: a copy left there is stopped or suspended, and said. */
        if (!gone)
                (void)fprintf(stderr, "vpsctl: could not remove VPS %s from %s (%s): check there\n",
                              m->id, m->dest.name, e.msg);
        return true;
}
