/* vpsd: the console over a WebSocket. The handshake is checked here after api.c has
 * authenticated and authorized the request like POST .../console (the `console` verb, the
 * token's VPSes alone); the frames are websocket.c's; console.c holds the client. */
#include "ws_console.h"

#include "api.h"
#include "console.h"
#include "websocket.h"
#include "vpsd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct vpsd_ws_conn {
        struct vpsd_ws_rx rx;
        int fd, console_fd;
        bool closed; /* a close frame was sent */
};

static const char *header(struct MHD_Connection *c, const char *name)
{
        return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* A comma-separated header value holding word (any case). */
static bool has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; p && *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                size_t k = strcspn(p, ", \t");
                if (k == n && !strncasecmp(p, word, n))
                        return true;
                p += k;
        }
        return false;
}

bool vpsd_ws_requested(struct MHD_Connection *c)
{
        return has_word(header(c, "Upgrade"), "websocket");
}

const char *vpsd_ws_bearer(struct MHD_Connection *c, char *buf, size_t size)
{
        char token[256];
        bool console;
        vps_error err;
        if (!vpsd_ws_requested(c) ||
            vpsd_ws_protocols(header(c, "Sec-WebSocket-Protocol"), &console, token, sizeof(token),
                              &err) < 0 ||
            !token[0])
                return NULL;
        (void)snprintf(buf, size, "Bearer %s", token);
        return buf;
}

static int send_frame(int fd, uint8_t op, const void *buf, size_t n)
{
        uint8_t h[VPSD_WS_HEADER_MAX];
        struct iovec iov[2] = {{h, vpsd_ws_frame_header(h, op, true, n)}, {(void *)buf, n}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
        ssize_t r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        /* Nothing sent: the output is lost as a raw client's is (console.c). Part of a frame:
         * the stream is torn, the client goes. */
        if (r < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        return (size_t)r == iov[0].iov_len + n ? 0 : -EPIPE;
}

static void send_close(struct vpsd_ws_conn *w, uint16_t code)
{
        if (w->closed)
                return;
        w->closed = true;
        uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        (void)send_frame(w->fd, VPSD_WS_CLOSE, b, sizeof(b));
}

static int on_msg(void *ctx, uint8_t op, const uint8_t *data, size_t len)
{
        struct vpsd_ws_conn *w = ctx;
        switch (op) {
        case VPSD_WS_TEXT:
        case VPSD_WS_BINARY:
                while (len > 0 && w->console_fd >= 0) {
                        ssize_t n = write(w->console_fd, data, len);
                        if (n <= 0)
                                break; /* a full console loses input as console.c's does */
                        data += n;
                        len -= (size_t)n;
                }
                return 0;
        case VPSD_WS_PING:
                return send_frame(w->fd, VPSD_WS_PONG, data, len);
        case VPSD_WS_CLOSE:
                send_close(w, len >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : VPSD_WS_CLOSE_NORMAL);
                return -ECONNRESET;
        default:
                return 0;
        }
}

int vpsd_ws_conn_input(struct vpsd_ws_conn *w, int fd, int console_fd, const void *buf, size_t n)
{
        vps_error err = {0};
        w->fd = fd;
        w->console_fd = console_fd;
        int r = vpsd_ws_rx_feed(&w->rx, buf, n, on_msg, w, &err);
        if (r < 0)
                send_close(w, vpsd_ws_close_code(err.code));
        return r;
}

int vpsd_ws_conn_output(int fd, const void *buf, size_t n)
{
        /* Binary: a console's bytes need not be UTF-8 (xterm.js decodes them itself). */
        return send_frame(fd, VPSD_WS_BINARY, buf, n);
}

void vpsd_ws_conn_free(struct vpsd_ws_conn *w)
{
        if (!w)
                return;
        vpsd_ws_rx_free(&w->rx);
        free(w);
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        (void)c;
        struct vpsd *d = cls;
        vps_error err;
        struct vps_inst *vi = vps_manager_find(&d->m, vpsd_request_vps(con_cls), &err);
        struct vpsd_ws_conn *w = vi ? calloc(1, sizeof(*w)) : NULL;
        if (!w || vpsd_console_attach_ws(d, vi, sock, urh, w) < 0) {
                vpsd_ws_conn_free(w);
                (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                return;
        }
        /* Frames that came with the handshake (a client need not wait for the 101). */
        if (extra_len > 0 && vpsd_ws_conn_input(w, sock, vi->console_fd, extra, extra_len) < 0)
                vpsd_console_drop_fd(d, vi, sock);
}

/* The handshake (RFC 6455 4.2.1) and the browser's checks: the same origin as the server's
 * (a page elsewhere must not drive a console with the browser's client certificate), and
 * our subprotocol when any is offered. */
static int check_handshake(struct MHD_Connection *c, bool tls, char accept[], bool *ret_proto,
                           vps_error *err)
{
        if (!vpsd_ws_requested(c) || !has_word(header(c, "Connection"), "upgrade"))
                return vps_err(err, EINVAL,
                               "the console needs a WebSocket handshake ('Upgrade: websocket')");
        const char *v = header(c, "Sec-WebSocket-Version");
        if (!v || strcmp(v, "13") != 0)
                return vps_err(err, EINVAL, "Sec-WebSocket-Version must be 13");
        if (vpsd_ws_accept(header(c, "Sec-WebSocket-Key"), accept, err) < 0)
                return -err->code;
        if (!vpsd_ws_origin_ok(header(c, "Origin"), header(c, "Host"), tls))
                return vps_err(err, EACCES, "WebSocket from another origin refused");
        const char *protos = header(c, "Sec-WebSocket-Protocol");
        char token[256];
        if (vpsd_ws_protocols(protos, ret_proto, token, sizeof(token), err) < 0)
                return -err->code;
        if (protos && !*ret_proto)
                return vps_err(err, EINVAL, "the console's subprotocol is '%s'", VPSD_WS_PROTOCOL);
        return 0;
}

int vpsd_ws_console_upgrade(struct vpsd *d, struct MHD_Connection *c, const char *url, bool tls,
                            enum MHD_Result *ret, vps_error *err)
{
        char accept[VPSD_WS_ACCEPT_LEN + 1];
        bool proto = false;
        int r = check_handshake(c, tls, accept, &proto, err);
        if (r < 0)
                return r;
        struct vps_inst *vi = NULL;
        if (d->api_ops->console_check(d, url, &vi, err) < 0)
                return -err->code;
        struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, d);
        if (!resp)
                return vps_err(err, ENOMEM, "out of memory");
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
        (void)MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
        /* The console's name alone: never the token offered beside it. */
        if (proto)
                (void)MHD_add_response_header(resp, "Sec-WebSocket-Protocol", VPSD_WS_PROTOCOL);
        *ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
        MHD_destroy_response(resp);
        return 0;
}
