/* vpsd: the HTTP side of the API (libmicrohttpd driven by our epoll loop): request bodies,
 * JSON responses, suspended requests, the console upgrade, and the progress streams (a long
 * copy's POST upgraded to vps-progress: its progress frames, then its answer as a frame). */
#include "api.h"

#include "console.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"
#include "vps/util.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define BODY_MAX (1024 * 1024)

struct request {
        struct MHD_Connection *conn;
        char *body;
        size_t len, cap;
        bool too_big, ready;
        unsigned int status;
        json_t *resp;
        struct request *next;
        char id[VPS_ID_MAX + 1];
        /* A progress stream: the upgraded connection (conn is NULL then) and the path. */
        struct MHD_UpgradeResponseHandle *urh;
        int sock;
        char *url;
};

struct request *vpsd_request_next(struct request *req)
{
        return req->next;
}

void vpsd_request_set_next(struct request *req, struct request *next)
{
        req->next = next;
}

const char *vpsd_request_arg(struct request *req, const char *key)
{
        return req->conn ? MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key)
                         : NULL;
}

int vpsd_request_progress_fd(struct request *req)
{
        return req->urh ? req->sock : -1;
}

static enum MHD_Result queue_json(struct MHD_Connection *c, unsigned int status, json_t *body)
{
        /* ?pretty=1: indented by two spaces, as `vpsctl ... -j` prints (it then prints the
         * answer as it is, see cmd_list.c). */
        const char *pretty = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pretty");
        size_t flags = pretty && strcmp(pretty, "0") != 0 ? JSON_INDENT(2) : JSON_COMPACT;
        char *text = body ? json_dumps(body, flags) : NULL;
        json_decref(body);
        if (!text)
                text = strdup("{\"error\": \"out of memory\", \"errno\": 12}");
        if (!text)
                return MHD_NO;
        size_t len = strlen(text);
        char *t = realloc(text, len + 2);
        if (t) {
                text = t;
                text[len++] = '\n';
                text[len] = '\0';
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(text);
                return MHD_NO;
        }
        (void)MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static json_t *error_body(const vps_error *err)
{
        return json_pack("{s:s, s:i}", "error", err->msg, "errno", err->code);
}

static void request_free(struct request *req)
{
        json_decref(req->resp);
        free(req->body);
        free(req->url);
        free(req);
}

/* A progress stream's last frame: 'K' and the answer, or 'E' and the error. Sent without
 * waiting (the loop never waits for a client): a client that does not read loses it. */
static void stream_end(struct vpsd *d, struct request *req, unsigned int status, json_t *body)
{
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        size_t len = text ? strlen(text) : 0;
        _cleanup_free_ char *frame = malloc(len + 5);
        if (frame) {
                frame[0] = status < 300 ? 'K' : 'E';
                for (int i = 0; i < 4; i++)
                        frame[1 + i] = (char)((len >> (24 - 8 * i)) & 0xff);
                memcpy(frame + 5, text ? text : "", len);
                (void)send(req->sock, frame, len + 5, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        (void)MHD_upgrade_action(req->urh, MHD_UPGRADE_ACTION_CLOSE);
        d->mhd_kick = true;
        request_free(req);
}

void vpsd_request_finish(struct vpsd *d, struct request *req, unsigned int status, json_t *body)
{
        if (req->urh) {
                stream_end(d, req, status, body);
                return;
        }
        req->status = status;
        req->resp = body;
        req->ready = true;
        MHD_resume_connection(req->conn);
        d->mhd_kick = true;
}

void vpsd_request_fail(struct vpsd *d, struct request *req, const vps_error *err)
{
        vpsd_request_finish(d, req, (unsigned int)vps_err_http_status(err->code), error_body(err));
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct vpsd *d = cls;
        struct request *req = con_cls;
        vps_error err;
        struct vps_inst *vi = vps_manager_find(&d->m, req->id, &err);
        if (!vi || vpsd_console_attach(d, vi, sock, urh, extra, extra_len) < 0)
                (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result console_upgrade(struct vpsd *d, struct request *req, const char *url)
{
        vps_error err;
        struct vps_inst *vi = NULL;
        const char *up = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
        if (!up || strcmp(up, "vps-console") != 0) {
                vps_err(&err, EINVAL, "the console needs 'Upgrade: vps-console'");
                return queue_json(req->conn, 400, error_body(&err));
        }
        if (d->api_ops->console_check(d, url, &vi, &err) < 0)
                return queue_json(req->conn, (unsigned int)vps_err_http_status(err.code),
                                  error_body(&err));
        (void)snprintf(req->id, sizeof(req->id), "%s", vi->cfg.id);
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, d);
        if (!r)
                return MHD_NO;
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "vps-console");
        enum MHD_Result ret = MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
}

/* The upgrade of a progress stream is done: the request, moved out of MHD's hands (which
 * forget it), goes to its handler; a copy then sends its progress on sock and the loop the
 * answer (stream_end). */
static void on_progress_upgrade(void *cls, struct MHD_Connection *c, void *con_cls,
                                const char *extra, size_t extra_len, MHD_socket sock,
                                struct MHD_UpgradeResponseHandle *urh)
{
        (void)c;
        struct vpsd *d = cls;
        struct request *old = con_cls, *req = calloc(1, sizeof(*req));
        if (!req) {
                (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                return;
        }
        req->urh = urh;
        req->sock = sock;
        req->url = TAKE_PTR(old->url);
        req->body = TAKE_PTR(old->body);
        req->len = old->len;
        /* The child writes its frames as they come; the loop's last one never waits. */
        (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
        unsigned int status = 500;
        json_t *body = NULL;
        vps_error err;
        if (extra_len > 0 || !req->url) {
                (void)extra;
                vps_err(&err, EPROTO, "data before the upgrade");
                status = 400;
                body = error_body(&err);
        } else if (d->api_ops->handle(d, req, "POST", req->url, req->body ? req->body : "",
                                      req->len, &status, &body) == 1) {
                return;
        }
        stream_end(d, req, status, body);
}

static enum MHD_Result progress_upgrade(struct vpsd *d, struct request *req, const char *url)
{
        vps_error err;
        if (!d->api_ops->progress_route(url)) {
                vps_err(&err, EINVAL, "%s has no progress stream (vps-progress)", url);
                return queue_json(req->conn, 400, error_body(&err));
        }
        if (!(req->url = strdup(url)))
                return MHD_NO;
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_progress_upgrade, d);
        if (!r)
                return MHD_NO;
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "vps-progress");
        enum MHD_Result ret = MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* %HH escapes decoded, but a control character (%00 first: the path would end there, and
 * "/v1/vps/300%00x" act on VPS 300) becomes DEL, which on_access refuses wherever it is. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
        (void)cls;
        (void)c;
        size_t n = MHD_http_unescape(s);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20)
                        s[i] = 0x7f;
        return n;
}

static bool has_control(const char *s)
{
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static enum MHD_Result arg_has_control(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
        (void)kind;
        bool *found = cls;
        *found = *found || has_control(key) || has_control(value);
        return *found ? MHD_NO : MHD_YES;
}

/* No ID, name or argument with a control character reaches a handler. */
static bool request_has_control(struct MHD_Connection *c, const char *url)
{
        bool found = has_control(url);
        if (!found)
                (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_has_control, &found);
        return found;
}

static int append_body(struct request *req, const char *data, size_t n)
{
        if (req->too_big)
                return 0;
        int r = vps_buf_append(&req->body, &req->len, &req->cap, data, n, BODY_MAX, 0);
        if (r == -EMSGSIZE)
                req->too_big = true;
        return r == -EMSGSIZE ? 0 : r;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
        struct vpsd *d = cls;
        struct request *req = *con_cls;
        if (!req) {
                /* The socket file is root's, 0600; and a peer that is not host root gets no
                 * answer at all. */
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (!ci || !vps_sock_peer_is_root(ci->connect_fd))
                        return MHD_NO;
                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                req->conn = c;
                *con_cls = req;
                return MHD_YES;
        }
        if (req->ready) {
                req->ready = false;
                return queue_json(c, req->status, TAKE_PTR(req->resp));
        }
        if (*upload_size) {
                if (append_body(req, upload, *upload_size) < 0)
                        return MHD_NO;
                *upload_size = 0;
                return MHD_YES;
        }
        vps_error err;
        if (req->too_big) {
                vps_err(&err, E2BIG, "request body larger than %d bytes", BODY_MAX);
                return queue_json(c, 413, error_body(&err));
        }
        if (request_has_control(c, url)) {
                vps_err(&err, EINVAL,
                        "control character in the request's path or arguments: refused");
                return queue_json(c, 400, error_body(&err));
        }
        if (strcmp(method, "POST") == 0 && ends_with(url, "/console"))
                return console_upgrade(d, req, url);
        const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
        if (strcmp(method, "POST") == 0 && proto && !strcmp(proto, "vps-progress"))
                return progress_upgrade(d, req, url);
        if (strcmp(method, "POST") == 0 && d->api_ops->stream_route(url)) {
                struct MHD_Response *up = d->api_ops->stream_response(d, c, url, &err);
                if (!up)
                        return queue_json(c, (unsigned int)vps_err_http_status(err.code),
                                          error_body(&err));
                enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, up);
                MHD_destroy_response(up);
                return ret;
        }
        unsigned int status = 500;
        json_t *body = NULL;
        int r = d->api_ops->handle(d, req, method, url, req->body ? req->body : "", req->len,
                                   &status, &body);
        if (r == 1) {
                MHD_suspend_connection(c);
                return MHD_YES;
        }
        return queue_json(c, status, body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct request *req = *con_cls;
        if (!req)
                return;
        request_free(req);
        *con_cls = NULL;
}

/* MHD's epoll fd is readable: it runs after this round of callbacks (mhd_run). */
static void on_mhd(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        d->mhd_kick = true;
}

/* The loop waits no longer than MHD's timeout (a minute at most), not at all when a
 * connection was resumed. */
static int mhd_timeout(void *userdata)
{
        struct vpsd *d = userdata;
        MHD_UNSIGNED_LONG_LONG mt;
        if (d->mhd_kick)
                return 0;
        if (MHD_get_timeout(d->mhd, &mt) == MHD_YES)
                return mt > 60000 ? 60000 : (int)mt;
        return -1;
}

static void mhd_run(void *userdata)
{
        struct vpsd *d = userdata;
        d->mhd_kick = false;
        (void)MHD_run(d->mhd);
}

int vpsd_api_init(struct vpsd *d, const struct vpsd_api_ops *ops, vps_error *err)
{
        d->api_ops = ops;
        d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE, 0,
                                  NULL, NULL, on_access, d, MHD_OPTION_LISTEN_SOCKET, d->listen_fd,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                  MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                                  MHD_OPTION_CONNECTION_LIMIT, 4096, MHD_OPTION_CONNECTION_TIMEOUT,
                                  120, MHD_OPTION_END);
        if (!d->mhd)
                return vps_err(err, EIO, "starting the HTTP server failed");
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return vps_err(err, EIO, "the HTTP server has no epoll fd");
        int r = vpsd_event_add(&d->ev, &d->w_mhd, info->epoll_fd, EPOLLIN, on_mhd, d, err);
        if (r < 0)
                return r;
        (void)vpsd_event_add_prepare(&d->ev, mhd_timeout, d);
        (void)vpsd_event_add_post(&d->ev, mhd_run, d);
        return 0;
}
