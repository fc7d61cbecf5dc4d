/* vpsd: the console over a WebSocket. api.c authenticates and authorizes GET .../console as
 * it does POST .../console (the `console` verb, a token's VPSes alone), then asks here about
 * the handshake; the frames are websocket.c's; console.c holds the client. */
#include "ws_console.h"

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

static int conn_input(void *peer, int fd, int console_fd, const void *buf, size_t n)
{
        struct vpsd_ws_conn *w = peer;
        vps_error err = {0};
        w->fd = fd;
        w->console_fd = console_fd;
        int r = vpsd_ws_rx_feed(&w->rx, buf, n, on_msg, w, &err);
        if (r < 0)
                send_close(w, vpsd_ws_close_code(err.code));
        return r;
}

static int conn_output(void *peer, int fd, const void *buf, size_t n)
{
        (void)peer;
        /* Binary: a console's bytes need not be UTF-8 (xterm.js decodes them itself). */
        return send_frame(fd, VPSD_WS_BINARY, buf, n);
}

static void conn_free(void *peer)
{
        struct vpsd_ws_conn *w = peer;
        if (!w)
                return;
        vpsd_ws_rx_free(&w->rx);
        free(w);
}

static const struct vpsd_console_peer ws_peer = {conn_input, conn_output, conn_free};

int vpsd_ws_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                           struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len)
{
        struct vpsd_ws_conn *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        /* Frames that came with the handshake (a client need not wait for the 101). */
        int r = len > 0 ? conn_input(w, fd, vi->console_fd, extra, len) : 0;
        if (r >= 0)
                r = vpsd_console_attach_peer(d, vi, fd, urh, &ws_peer, w);
        if (r < 0)
                conn_free(w);
        return r;
}

/* The handshake (RFC 6455 4.2.1) and the browser's checks: the same origin as the server's
 * (a page elsewhere must not drive a console with the browser's client certificate), and
 * our subprotocol when any is offered. */
int vpsd_ws_handshake_check(struct MHD_Connection *c, bool tls, struct vpsd_ws_handshake *ret,
                            vps_error *err)
{
        if (!vpsd_ws_requested(c) || !has_word(header(c, "Connection"), "upgrade"))
                return vps_err(err, EINVAL,
                               "the console needs a WebSocket handshake ('Upgrade: websocket')");
        const char *v = header(c, "Sec-WebSocket-Version");
        if (!v || strcmp(v, "13") != 0)
                return vps_err(err, EINVAL, "Sec-WebSocket-Version must be 13");
        bool *ret_proto = &ret->protocol;
        if (vpsd_ws_accept(header(c, "Sec-WebSocket-Key"), ret->accept, err) < 0)
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

void vpsd_ws_handshake_headers(struct MHD_Response *r, const struct vpsd_ws_handshake *h)
{
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
        (void)MHD_add_response_header(r, "Sec-WebSocket-Accept", h->accept);
        /* The console's name alone: never the token offered beside it. */
        if (h->protocol)
                (void)MHD_add_response_header(r, "Sec-WebSocket-Protocol", VPSD_WS_PROTOCOL);
}
