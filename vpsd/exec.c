/* vpsd: POST /v1/vps/ID/exec (docs/api.md, "exec"): the request checked, the connection
 * upgraded to vps-exec and handed to a child of vpsd (exec_child.c), which joins the VPS as
 * `vpsctl exec` does locally. The loop only watches the child's pidfd: nothing in it waits on
 * the guest. */
#include "exec.h"

#include "auth.h"
#include "log.h"
#include <sys/epoll.h>
#include "loop.h"
#include "redact.h"
#include "stream.h"
#include "storage/backup.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct exec_session {
        struct vpsd_source w; /* the child's pidfd */
        struct vpsd *d;
        struct vpsd_exec_req r;
        pid_t pid;
        struct MHD_UpgradeResponseHandle *urh;
        struct exec_session *next;
};

static struct exec_session *sessions;

bool vpsd_exec_route(const char *url)
{
        size_t n = strlen(url);
        return !strncmp(url, "/v1/vps/", 8) && n > 13 && !strcmp(url + n - 5, "/exec") &&
               !memchr(url + 8, '/', n - 13);
}

void vpsd_exec_req_free(struct vpsd_exec_req *r)
{
        for (size_t i = 0; r->argv && r->argv[i]; i++)
                free(r->argv[i]);
        for (size_t i = 0; r->env && r->env[i]; i++)
                free(r->env[i]);
        free(r->argv);
        free(r->env);
        r->argv = r->env = NULL;
}

/* A string of the request: no NUL inside (it would cut the argument short), bounded. */
static int str_of(const json_t *v, const char *what, const char **ret, vps_error *err)
{
        if (!json_is_string(v))
                return vps_err(err, EINVAL, "%s must be a string", what);
        size_t len = json_string_length(v);
        *ret = json_string_value(v);
        if (strlen(*ret) != len)
                return vps_err(err, EINVAL, "%s has a NUL character", what);
        if (len > VPSD_EXEC_ARG_LEN_MAX)
                return vps_err(err, E2BIG, "%s is longer than %d bytes", what,
                               VPSD_EXEC_ARG_LEN_MAX);
        return 0;
}

static bool env_name_ok(const char *k)
{
        if (!*k || (*k >= '0' && *k <= '9') || strlen(k) > 255)
                return false;
        for (const char *p = k; *p; p++)
                if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static int parse_env(const json_t *env, struct vpsd_exec_req *r, vps_error *err)
{
        if (!env || json_is_null(env))
                return 0;
        if (!json_is_object(env))
                return vps_err(err, EINVAL, "'env' must be an object of strings");
        if (json_object_size(env) > VPSD_EXEC_ENV_MAX)
                return vps_err(err, E2BIG, "'env' has more than %d entries", VPSD_EXEC_ENV_MAX);
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)env, k, v)
        {
                const char *s;
                int rc = str_of(v, "a value of 'env'", &s, err);
                if (rc < 0)
                        return rc;
                if (!env_name_ok(k))
                        return vps_err(err, EINVAL, "bad name in 'env': '%.64s'", k);
                if (asprintf(&r->env[n], "%s=%s", k, s) < 0) {
                        r->env[n] = NULL;
                        return vps_err(err, ENOMEM, "out of memory");
                }
                n++;
        }
        return 0;
}

static int parse_size(const json_t *o, const char *key, unsigned int *ret, vps_error *err)
{
        const json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
                return vps_err(err, EINVAL, "'%s' must be a number from 1 to 65535", key);
        *ret = (unsigned int)json_integer_value(v);
        return 0;
}

int vpsd_exec_parse(const char *body, size_t len, struct vpsd_exec_req *r, vps_error *err)
{
        _cleanup_json_ json_t *o = len ? json_loadb(body, len, 0, NULL) : NULL;
        if (!json_is_object(o))
                return vps_err(err, EINVAL, "exec needs a JSON object with 'argv'");
        const json_t *argv = json_object_get(o, "argv");
        size_t n = json_array_size(argv);
        if (!json_is_array(argv) || n == 0)
                return vps_err(err, EINVAL, "'argv' must be a non-empty array of strings");
        if (n > VPSD_EXEC_ARGV_MAX)
                return vps_err(err, E2BIG, "'argv' has more than %d entries", VPSD_EXEC_ARGV_MAX);
        const json_t *tty = json_object_get(o, "tty");
        if (tty && !json_is_boolean(tty))
                return vps_err(err, EINVAL, "'tty' must be true or false");
        r->tty = json_is_true(tty);
        r->argv = calloc(n + 1, sizeof(char *));
        r->env = calloc(VPSD_EXEC_ENV_MAX + 1, sizeof(char *));
        if (!r->argv || !r->env)
                return vps_err(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                const char *s;
                int rc = str_of(json_array_get(argv, i), "an entry of 'argv'", &s, err);
                if (rc < 0)
                        return rc;
                if (!(r->argv[i] = strdup(s)))
                        return vps_err(err, ENOMEM, "out of memory");
        }
        int rc = parse_env(json_object_get(o, "env"), r, err);
        if (rc == 0)
                rc = parse_size(o, "cols", &r->cols, err);
        if (rc == 0)
                rc = parse_size(o, "rows", &r->rows, err);
        return rc;
}

/* The VPS can take a command now, and neither it nor the client has too many. */
static struct vps_inst *check(struct vpsd *d, const struct vpsd_exec_req *r, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, r->id, err);
        if (!vi)
                return NULL;
        /* Its processes frozen: the command would be born frozen too, and wait. */
        if (vps_manager_check_unpaused(vi, "run a command in it", err) < 0)
                return NULL;
        if (vi->status != VPS_RUNNING) {
                vps_err(err, EALREADY, "VPS %s is not running", r->id);
                return NULL;
        }
        unsigned int per_vps = 0, per_client = 0;
        for (const struct exec_session *s = sessions; s; s = s->next) {
                per_vps += !strcmp(s->r.id, r->id);
                per_client += r->client[0] && !strcmp(s->r.client, r->client);
        }
        bool vps_full = per_vps >= VPSD_EXEC_PER_VPS;
        if (vps_full || per_client >= VPSD_EXEC_PER_CLIENT) {
                vps_err(err, EBUSY,
                        "%s%s already runs %d commands through the API; try again when one has "
                        "ended",
                        vps_full ? "VPS " : "", vps_full ? r->id : r->client,
                        vps_full ? VPSD_EXEC_PER_VPS : VPSD_EXEC_PER_CLIENT);
                return NULL;
        }
        return vi;
}

static void session_free(struct exec_session *s)
{
        if (s->urh) {
                (void)MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
                s->d->mhd_kick = true;
        }
        vpsd_exec_req_free(&s->r);
        free(s);
}

static void on_exit_child(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct exec_session *s = vpsd_container_of(src, struct exec_session, w);
        int status = 0;
        /* Its pidfd is readable: it has exited, the wait returns at once. */
        if (waitpid(s->pid, &status, WNOHANG) == 0)
                return;
        for (struct exec_session **p = &sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        vpsd_event_del(&d->ev, &s->w);
        vps_closep(&s->w.fd);
        session_free(s);
}

/* Every fd of vpsd's but stdio and the connection: no other client's connection stays open
 * in the child (a long shell would hold it), and nothing of vpsd's reaches the command. */
static int keep_only(int sock)
{
        if (sock > 3 && vps_sys_close_range(3, (unsigned int)sock - 1, 0) < 0)
                return -errno;
        return vps_sys_close_range((unsigned int)sock + 1, ~0U, 0) < 0 ? -errno : 0;
}

void vpsd_exec_refuse(const struct vpsd *d, const struct vpsd_exec_req *r, int sock,
                      const vps_error *err)
{
        (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
        _cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "error", err->msg, "errno", err->code);
        if (j && r && r->token)
                j = vpsd_redact_error(d, j);
        _cleanup_free_ char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
        vps_error e;
        if (t)
                (void)vps_frame_write(sock, 'E', t, strlen(t), &e);
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct exec_session *s = cls;
        struct vpsd *d = s->d;
        (void)c;
        (void)con_cls;
        s->urh = urh;
        vps_error err = {0};
        struct vps_inst *vi = NULL;
        /* vpsctl sends nothing before our 101 arrives. */
        if (extra_len > 0)
                vps_err(&err, EPROTO, "data before the upgrade");
        else
                vi = check(d, &s->r, &err);
        if (!vi) {
                vpsd_exec_refuse(d, &s->r, sock, &err);
                session_free(s);
                return;
        }
        fflush(NULL);
        s->pid = fork();
        if (s->pid == 0) {
                vpsd_stream_child_setup();
                if (keep_only(sock) < 0)
                        _exit(1);
                (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
                vpsd_exec_child(d, vi, &s->r, sock);
        }
        int pidfd = s->pid > 0 ? vps_sys_pidfd_open(s->pid, 0) : -1;
        if (pidfd < 0 ||
            vpsd_event_add(&d->ev, &s->w, pidfd, EPOLLIN, on_exit_child, d, &err) < 0) {
                vpsd_log("exec in VPS %s: %s", s->r.id, strerror(errno));
                if (s->pid > 0) {
                        (void)kill(s->pid, SIGKILL);
                        (void)waitpid(s->pid, NULL, 0);
                }
                vps_closep(&pidfd);
                session_free(s);
                return;
        }
        vpsd_log("VPS %s: exec %s%s%s", s->r.id, s->r.argv[0], s->r.client[0] ? " by " : "",
                 s->r.client);
        s->next = sessions;
        sessions = s;
}

size_t vpsd_exec_inherit_env(char *buf, size_t size)
{
        size_t n = 0;
        for (const struct exec_session *s = sessions; s && n < size; s = s->next) {
                int w = snprintf(buf + n, size - n, "|x=%d,%s", (int)s->pid, s->r.id);
                n += w > 0 ? (size_t)w : 0;
        }
        return n < size ? n : size - 1;
}

size_t vpsd_exec_sessions(void)
{
        size_t n = 0;
        for (const struct exec_session *s = sessions; s; s = s->next)
                n++;
        return n;
}

void vpsd_exec_inherit(struct vpsd *d, const char *env)
{
        for (const char *p = env ? strstr(env, "|x=") : NULL; p; p = strstr(p + 3, "|x=")) {
                int pid = 0;
                char id[VPS_ID_MAX + 1];
                if (sscanf(p + 3, "%d,%63[A-Za-z0-9_-]", &pid, id) != 2 || pid <= 0)
                        continue;
                /* Still this process's child (the exec kept its PID): a zombie at worst. */
                struct exec_session *s = calloc(1, sizeof(*s));
                int pidfd = s ? vps_sys_pidfd_open(pid, 0) : -1;
                vps_error err;
                if (pidfd < 0 ||
                    vpsd_event_add(&d->ev, &s->w, pidfd, EPOLLIN, on_exit_child, d, &err) < 0) {
                        vps_closep(&pidfd);
                        free(s);
                        continue;
                }
                s->d = d;
                s->pid = pid;
                (void)snprintf(s->r.id, sizeof(s->r.id), "%s", id);
                s->next = sessions;
                sessions = s;
        }
}

struct MHD_Response *vpsd_exec_response(struct vpsd *d, struct MHD_Connection *c,
                                        const struct vpsd_client *client, const char *url,
                                        const char *body, size_t len, vps_error *err)
{
        const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
        if (!up || strcmp(up, "vps-exec") != 0) {
                vps_err(err, EINVAL, "this endpoint needs 'Upgrade: vps-exec'");
                return NULL;
        }
        struct exec_session *s = calloc(1, sizeof(*s));
        if (!s) {
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        s->d = d;
        s->w.fd = -1;
        size_t idlen = strlen(url) - 8 - 5;
        (void)snprintf(s->r.id, sizeof(s->r.id), "%.*s", (int)idlen, url + 8);
        if (client)
                (void)snprintf(s->r.client, sizeof(s->r.client), "%s", client->name);
        s->r.token = client && client->kind == VPSD_CLIENT_TOKEN;
        int r = idlen > VPS_ID_MAX ? vps_err(err, EINVAL, "bad VPS ID")
                                   : vps_id_check(s->r.id, err);
        if (r == 0 && !check(d, &s->r, err))
                r = -err->code;
        if (r == 0)
                r = vpsd_exec_parse(body, len, &s->r, err);
        struct MHD_Response *resp = r == 0 ? MHD_create_response_for_upgrade(on_upgrade, s) : NULL;
        if (!resp) {
                if (r == 0)
                        vps_err(err, ENOMEM, "out of memory");
                session_free(s);
                return NULL;
        }
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "vps-exec");
        return resp;
}
