/* ws_console.c: a VPS's console over a WebSocket (GET /v1/vps/ID/console, RFC 6455) for a
 * browser's terminal: the handshake's checks (Origin, subprotocol, key), the token a browser
 * offers as a subprotocol, and the relay of frames to and from the console (console.c). */
#pragma once

#include "vps/error.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct vpsd;
struct vps_inst;

/* A WebSocket handshake's token ("vps.token.T" in Sec-WebSocket-Protocol) as an
 * Authorization header's value in buf ("Bearer T"); NULL when the request offers none. */
const char *vpsd_ws_bearer(struct MHD_Connection *c, char *buf, size_t size);
/* Whether a request asks for a WebSocket (Upgrade: websocket). */
bool vpsd_ws_requested(struct MHD_Connection *c);
/* The handshake of GET /v1/vps/ID/console (RFC 6455 4.2.1) checked, with a browser's: the
 * server's own origin, our subprotocol when any is offered. 0 and what the 101 must say, or
 * a negative errno with err (EINVAL: 400, EACCES: a foreign Origin, 403). */
struct vpsd_ws_handshake {
        char accept[29];
        bool protocol; /* answer with Sec-WebSocket-Protocol: vps.console */
};
int vpsd_ws_handshake_check(struct MHD_Connection *c, bool tls, struct vpsd_ws_handshake *ret,
                            vps_error *err);
void vpsd_ws_handshake_headers(struct MHD_Response *r, const struct vpsd_ws_handshake *h);
/* After the 101: the client on the VPS's console (console.c), the frames that came with the
 * handshake (extra) read first. Negative: the caller closes the connection. */
int vpsd_ws_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                           struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len);
