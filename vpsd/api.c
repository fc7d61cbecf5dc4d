/* vpsd: the HTTP side of the API (libmicrohttpd driven by our epoll loop): request bodies,
 * JSON responses, suspended requests, the console upgrade and the progress streams (a copy's
 * POST upgraded to vps-progress: its progress frames, then its answer as a frame, stream.h).
 * Two daemons share it: the
 * local socket's (host root, checked by SO_PEERCRED) and, with `listen`, the remote API's on
 * TLS, whose clients authenticate by a trusted certificate or a token (auth.c) and are held
 * to their verbs (authz.c). Every mutating request is audited (audit.c). */
#include "api.h"
#include "api_reply.h"
#include "redact.h"
#include "fleet_api.h"

#include "audit.h"
#include "auth.h"
#include "console.h"
#include "console_page.h"
#include "events.h"
#include "reqcheck.h"
#include "stream.h"
#include "throttle.h"
#include "tls.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"
#include "vps/util.h"
#include "ws_console.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define BODY_MAX (1024 * 1024)

struct request {
        struct MHD_Connection *conn;
        char *body;
        size_t len, cap;
        bool too_big, ready;
        bool tls;        /* on the remote API's daemon */
        bool authed;     /* req->client and req->z are known */
        bool ws;         /* the console asked for as a WebSocket (GET, ws_console.c) */
        bool peer_asked; /* the fleet's nodes read again for its certificate (fleet_peers.c) */
        unsigned int status;
        json_t *resp;
        struct request *next;
        char id[VPS_ID_MAX + 1];
        struct vpsd_client client;
        struct vpsd_authz z;
        /* A progress stream: the upgraded connection (conn is NULL then) and the path. */
        struct MHD_UpgradeResponseHandle *urh;
        int sock;
        char *url;
        /* An answer its route wrote as JSON text itself (GET /v1/vps), sent as it is. */
        char *raw;
        size_t raw_len;
};

struct request *vpsd_request_next(struct request *req)
{
        return req->next;
}

void vpsd_request_set_next(struct request *req, struct request *next)
{
        req->next = next;
}

const struct vpsd_client *vpsd_request_client(struct request *req)
{
        return req && req->authed ? &req->client : NULL;
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

void vpsd_request_set_raw(struct request *req, char *text, size_t len)
{
        free(req->raw);
        req->raw = text;
        req->raw_len = len;
}

static void request_free(struct request *req)
{
        free(req->raw);
        json_decref(req->resp);
        free(req->body);
        free(req->url);
        free(req);
}

static json_t *error_body(const vps_error *err)
{
        return json_pack("{s:s, s:i}", "error", err->msg, "errno", err->code);
}

static bool mutating(const char *method)
{
        return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* The audit line of a request that asked for a change, with what it was answered. */
static void audit(struct vpsd *d, struct request *req, const char *method, const char *url,
                  unsigned int status)
{
        /* A console's opening (a WebSocket's GET too) is audited as a change is. */
        size_t n = strlen(url);
        if (!mutating(method) && (n < 8 || strcmp(url + n - 8, "/console") != 0))
                return;
        char who[VPSD_TOKEN_NAME_MAX + 16] = "unauthenticated";
        if (req->authed && req->client.kind == VPSD_CLIENT_LOCAL)
                strcpy(who, "local");
        else if (req->authed)
                (void)snprintf(who, sizeof(who), "%s:%s",
                               req->client.kind == VPSD_CLIENT_CERT ? "cert" : "token",
                               req->client.name);
        vpsd_audit_write(d, who, vpsd_verb_name(req->z.verb), method, url, req->z.vps, status);
}

/* Answers a request: narrowed to what its client may see, audited. */
static enum MHD_Result answer(struct vpsd *d, struct request *req, const char *method,
                              const char *url, unsigned int status, json_t *body)
{
        if (status == 200 && req->raw) {
                audit(d, req, method, url, status);
                json_decref(body);
                return vpsd_queue_raw(req->conn, &req->raw, req->raw_len);
        }
        if (req->authed && status == 200)
                body = d->api_ops->filter(&req->client, &req->z, body);
        else if (req->authed && req->client.kind == VPSD_CLIENT_TOKEN)
                body = vpsd_redact_error(d, body);
        audit(d, req, method, url, status);
        if (status == 200 && json_is_string(body) && !strcmp(url, "/v1/metrics"))
                return vpsd_queue_text(req->conn, body);
        return vpsd_queue_json(req->conn, status, body);
}

/* A progress stream's last frame: 'K' and the answer (narrowed, as answer does), or 'E' and
 * the error; audited. Sent without waiting: a client that does not read loses it. */
static void stream_end(struct vpsd *d, struct request *req, unsigned int status, json_t *body)
{
        if (req->authed && status == 200)
                body = d->api_ops->filter(&req->client, &req->z, body);
        else if (req->authed && req->client.kind == VPSD_CLIENT_TOKEN)
                body = vpsd_redact_error(d, body);
        audit(d, req, "POST", req->url ? req->url : "?", status);
        vpsd_frame_send_nowait(req->sock, status < 300 ? 'K' : 'E', body);
        json_decref(body);
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

void vpsd_request_resume(struct vpsd *d, struct request *req)
{
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
        if (!vi || (req->ws ? vpsd_ws_console_attach(d, vi, sock, urh, extra, extra_len)
                            : vpsd_console_attach(d, vi, sock, urh, extra, extra_len)) < 0)
                (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* POST with 'Upgrade: vps-console' (vpsctl), or GET as a WebSocket (a browser, ws_console.c). */
static enum MHD_Result console_upgrade(struct vpsd *d, struct request *req, const char *method,
                                       const char *url)
{
        vps_error err;
        struct vps_inst *vi = NULL;
        struct vpsd_ws_handshake ws;
        const char *up = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
        req->ws = !strcmp(method, "GET");
        if (req->ws && vpsd_ws_handshake_check(req->conn, req->tls, &ws, &err) < 0)
                return answer(d, req, method, url, (unsigned int)vps_err_http_status(err.code),
                              error_body(&err));
        if (!req->ws && (!up || strcmp(up, "vps-console") != 0)) {
                vps_err(&err, EINVAL, "the console needs 'Upgrade: vps-console'");
                return vpsd_queue_json(req->conn, 400, error_body(&err));
        }
        if (d->api_ops->console_check(d, url, &vi, &err) < 0)
                return answer(d, req, method, url, (unsigned int)vps_err_http_status(err.code),
                              error_body(&err));
        audit(d, req, method, url, 101);
        (void)snprintf(req->id, sizeof(req->id), "%s", vi->cfg.id);
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, d);
        if (!r)
                return MHD_NO;
        if (req->ws)
                vpsd_ws_handshake_headers(r, &ws);
        else
                (void)MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "vps-console");
        enum MHD_Result ret = MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
}

/* The upgrade of a progress stream is done: the request, moved out of MHD's hands (the
 * connection is the stream's now), goes to its handler; a copy then sends its progress on
 * sock and the loop the answer (stream_end). */
static void on_progress_upgrade(void *cls, struct MHD_Connection *c, void *con_cls,
                                const char *extra, size_t extra_len, MHD_socket sock,
                                struct MHD_UpgradeResponseHandle *urh)
{
        (void)c;
        (void)extra;
        struct vpsd *d = cls;
        struct request *old = con_cls, *req = calloc(1, sizeof(*req));
        if (!req) {
                (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                return;
        }
        *req = (struct request){.urh = urh,
                                .sock = sock,
                                .url = TAKE_PTR(old->url),
                                .body = TAKE_PTR(old->body),
                                .len = old->len,
                                .tls = old->tls,
                                .authed = old->authed,
                                .client = old->client,
                                .z = old->z};
        /* The child writes its frames as they come; the loop's last one never waits. */
        (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
        unsigned int status = 400;
        json_t *body = NULL;
        if (extra_len > 0 || !req->url)
                body = error_body(&(vps_error){EPROTO, "data before the upgrade"});
        else if (d->api_ops->handle(d, req, "POST", req->url, req->body ? req->body : "", req->len,
                                    &status, &body) == 1)
                return;
        stream_end(d, req, status, body);
}

static enum MHD_Result progress_upgrade(struct vpsd *d, struct request *req, const char *url)
{
        vps_error err;
        if (!d->api_ops->progress_route(url)) {
                vps_err(&err, EINVAL, "%s has no progress stream (vps-progress)", url);
                return answer(d, req, "POST", url, 400, error_body(&err));
        }
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_progress_upgrade, d);
        if (!r || !(req->url = strdup(url))) {
                if (r)
                        MHD_destroy_response(r);
                return MHD_NO;
        }
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

static int append_body(struct request *req, const char *data, size_t n)
{
        if (req->too_big)
                return 0;
        int r = vps_buf_append(&req->body, &req->len, &req->cap, data, n, BODY_MAX, 0);
        if (r == -EMSGSIZE)
                req->too_big = true;
        return r == -EMSGSIZE ? 0 : r;
}

/* Who sent a request: host root on the local socket; on the remote API a trusted
 * certificate, else a token; an untrusted certificate without a token is refused (403),
 * nothing at all asks for authentication (401). */
static int authenticate(struct vpsd *d, struct request *req, unsigned int *status, vps_error *err)
{
        if (!req->tls) {
                memset(&req->client, 0, sizeof(req->client));
                req->client.kind = VPSD_CLIENT_LOCAL;
                req->client.all_vps = true;
                return 0;
        }
        char fp[VPSD_FP_LEN];
        bool has_cert = vpsd_tls_peer_fingerprint(req->conn, fp) == 1;
        if (has_cert && vpsd_auth_trusted(&d->auth, fp, &req->client))
                return 0;
        /* Another node of the fleet: its certificate as its live record in etcd shows it. */
        if (has_cert && vpsd_fleet_peer(d, fp)) {
                req->client = (struct vpsd_client){
                        .kind = VPSD_CLIENT_CERT, .all_vps = true, .allow = ~0u};
                memcpy(req->client.name, fp, VPSD_FP_LEN);
                return 0;
        }
        if (has_cert && d->fleet && !req->peer_asked) {
                req->peer_asked = true;
                if (vpsd_fleet_peer_lookup(d, req, fp) == 0)
                        return 1;
        }
        const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
        char ws[320];
        if (!h) /* a browser's WebSocket offers its token as a subprotocol (ws_console.c) */
                h = vpsd_ws_bearer(req->conn, ws, sizeof(ws));
        *status = 401;
        if (h || !has_cert)
                return vpsd_auth_token(&d->auth, h, (int64_t)time(NULL), &req->client, err);
        *status = 403;
        return vps_err(err, EACCES, "client certificate %s is not trusted", fp);
}

/* A failed authentication is answered late, the later the more a client fails (throttle.c),
 * so guessing tokens is slow; the loop goes on meanwhile (the request is suspended). */
static enum MHD_Result refuse_late(struct vpsd *d, struct request *req, const char *method,
                                   const char *url, unsigned int status, const vps_error *err)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        unsigned int ms =
                vpsd_throttle_fail(&d->throttle, ci ? ci->client_addr : NULL, vpsd_mono_ms());
        d->held.ev = &d->ev;
        d->held.kick = &d->mhd_kick;
        if (vpsd_throttle_hold(&d->held, req->conn, ms) < 0)
                return answer(d, req, method, url, status, error_body(err));
        req->status = status;
        req->resp = error_body(err);
        req->ready = true; /* answered (and audited) when resumed */
        return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
        struct vpsd *d = cls;
        struct request *req = *con_cls;
        if (!req) {
                /* The socket file is root's, 0600; and a peer that is not host root gets no
                 * answer at all. The remote API's clients authenticate once the request is
                 * complete (authenticate). */
                const union MHD_ConnectionInfo *di =
                        MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
                bool tls = di && d->tls_mhd && di->daemon == d->tls_mhd;
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (!tls && (!ci || !vps_sock_peer_is_root(ci->connect_fd)))
                        return MHD_NO;
                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                req->conn = c;
                req->tls = tls;
                *con_cls = req;
                return MHD_YES;
        }
        if (req->ready) {
                req->ready = false;
                return answer(d, req, method, !strcmp(url, "/metrics") ? "/v1/metrics" : url,
                              req->status, TAKE_PTR(req->resp));
        }
        if (*upload_size) {
                if (append_body(req, upload, *upload_size) < 0)
                        return MHD_NO;
                *upload_size = 0;
                return MHD_YES;
        }
        vps_error err;
        /* Prometheus's usual path, a route of the table like the others. */
        if (!strcmp(url, "/metrics"))
                url = "/v1/metrics";
        if (req->too_big) {
                vps_err(&err, E2BIG, "request body larger than %d bytes", BODY_MAX);
                return vpsd_queue_json(c, 413, error_body(&err));
        }
        if (vpsd_request_has_control(c, url)) {
                vps_err(&err, EINVAL,
                        "control character in the request's path or arguments: refused");
                return vpsd_queue_json(c, 400, error_body(&err));
        }
        /* The browser console's page and its scripts: static, before authentication (the page
         * asks for the token, console_page.c). */
        if (!strcmp(method, "GET") && vpsd_console_page_route(url))
                return vpsd_console_page(c, url);
        unsigned int status = 500;
        int ar = authenticate(d, req, &status, &err);
        if (ar == 1) {
                MHD_suspend_connection(c);
                return MHD_YES;
        }
        if (ar < 0)
                return refuse_late(d, req, method, url, status, &err);
        req->authed = true;
        /* A token over its rate is told when to come back (ratelimit.c). */
        unsigned int wait_s = 0;
        if (req->client.kind == VPSD_CLIENT_TOKEN &&
            !vpsd_rate_take(&d->rate, req->client.name, vpsd_mono_ms(), &wait_s)) {
                char after[16];
                (void)snprintf(after, sizeof(after), "%u", wait_s);
                vps_err(&err, EBUSY, "token %s: too many requests; try again in %u s",
                        req->client.name, wait_s);
                audit(d, req, method, url, 429);
                return vpsd_queue_json_hdr(c, 429, error_body(&err), MHD_HTTP_HEADER_RETRY_AFTER,
                                           after);
        }
        if (d->api_ops->authorize(&req->client, method, url, req->body ? req->body : "", req->len,
                                  &req->z, &status, &err) < 0)
                return answer(d, req, method, url, status, error_body(&err));
        if (!strcmp(method, "GET") && !strcmp(url, "/v1/events")) {
                struct MHD_Response *ev = vpsd_events_response(d, c, &req->client, &status, &err);
                if (!ev)
                        return answer(d, req, method, url, status, error_body(&err));
                enum MHD_Result ret = MHD_queue_response(c, 200, ev);
                MHD_destroy_response(ev);
                return ret;
        }
        if ((!strcmp(method, "POST") || !strcmp(method, "GET")) && ends_with(url, "/console"))
                return console_upgrade(d, req, method, url);
        const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
        if (strcmp(method, "POST") == 0 && proto && !strcmp(proto, "vps-progress"))
                return progress_upgrade(d, req, url);
        bool exec = d->api_ops->exec_route && d->api_ops->exec_route(url);
        /* A stream naming a move's peer announces a migration (events a panel acts on): the
         * fleet's and the admin's, never a token's (its verb is `backup`). */
        if (req->client.kind == VPSD_CLIENT_TOKEN && !exec &&
            (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "migrate_to") ||
             MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "migrate_from") ||
             MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "checkpoint"))) {
                vps_err(&err, EACCES, "token %s may not name a migration", req->client.name);
                return answer(d, req, method, url, 403, error_body(&err));
        }
        if (strcmp(method, "POST") == 0 && (exec || d->api_ops->stream_route(url))) {
                struct MHD_Response *up =
                        exec ? d->api_ops->exec_response(d, c, &req->client, url,
                                                         req->body ? req->body : "", req->len, &err)
                             : d->api_ops->stream_response(
                                       d, c, url, req->client.kind == VPSD_CLIENT_TOKEN, &err);
                if (!up)
                        return answer(d, req, method, url,
                                      (unsigned int)vps_err_http_status(err.code),
                                      error_body(&err));
                audit(d, req, method, url, 101);
                enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, up);
                MHD_destroy_response(up);
                return ret;
        }
        json_t *body = NULL;
        int r = d->api_ops->handle(d, req, method, url, req->body ? req->body : "", req->len,
                                   &status, &body);
        if (r == 1) {
                MHD_suspend_connection(c);
                return MHD_YES;
        }
        return answer(d, req, method, url, status, body);
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
        MHD_UNSIGNED_LONG_LONG mt, tt;
        if (d->mhd_kick)
                return 0;
        bool has = MHD_get_timeout(d->mhd, &mt) == MHD_YES;
        if (d->tls_mhd && MHD_get_timeout(d->tls_mhd, &tt) == MHD_YES && (!has || tt < mt)) {
                mt = tt;
                has = true;
        }
        if (has)
                return mt > 60000 ? 60000 : (int)mt;
        return -1;
}

static void mhd_run(void *userdata)
{
        struct vpsd *d = userdata;
        d->mhd_kick = false;
        (void)MHD_run(d->mhd);
        if (d->tls_mhd)
                (void)MHD_run(d->tls_mhd);
}

int vpsd_api_init(struct vpsd *d, const struct vpsd_api_ops *ops, vps_error *err)
{
        d->api_ops = ops;
        d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE, 0,
                                  NULL, NULL, on_access, d, MHD_OPTION_LISTEN_SOCKET, d->listen_fd,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                  MHD_OPTION_UNESCAPE_CALLBACK, vpsd_unescape, NULL,
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

int vpsd_api_init_tls(struct vpsd *d, int fd, unsigned int per_client, vps_error *err)
{
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
            MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES)
                return vps_err(err, EOPNOTSUPP, "this libmicrohttpd has no TLS");
        /* TLS 1.2 and newer only, the certificate and session tickets from tls.c (which also
         * asks the client for a certificate); plain HTTP fails the handshake and is closed. */
        d->tls_mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE, 0, NULL,
                NULL, on_access, d, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_CERT_CALLBACK,
                vpsd_tls_cert_callback(), MHD_OPTION_HTTPS_PRIORITIES, VPSD_TLS_PRIORITIES,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, d, MHD_OPTION_NOTIFY_CONNECTION,
                vpsd_tls_connection_callback(), NULL, MHD_OPTION_UNESCAPE_CALLBACK, vpsd_unescape,
                NULL, MHD_OPTION_CONNECTION_LIMIT, 4096, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                per_client, MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_END);
        if (!d->tls_mhd)
                return vps_err(err, EIO, "starting the TLS API failed");
        const union MHD_DaemonInfo *info =
                MHD_get_daemon_info(d->tls_mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return vps_err(err, EIO, "the TLS API has no epoll fd");
        return vpsd_event_add(&d->ev, &d->w_tls, info->epoll_fd, EPOLLIN, on_mhd, d, err);
}
