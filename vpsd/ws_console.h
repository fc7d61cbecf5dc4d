/* ws_console.c: a VPS's console over a WebSocket (GET /v1/vps/ID/console, RFC 6455) for a
 * browser's terminal: the handshake's checks (Origin, subprotocol, key), the token a browser
 * offers as a subprotocol, and the relay of frames to and from the console (console.c). */
#pragma once

#include "vps/error.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct vpsd;
struct vpsd_ws_conn;

/* A WebSocket handshake's token ("vps.token.T" in Sec-WebSocket-Protocol) as an
 * Authorization header's value in buf ("Bearer T"); NULL when the request offers none. */
const char *vpsd_ws_bearer(struct MHD_Connection *c, char *buf, size_t size);
/* Whether a request asks for a WebSocket (Upgrade: websocket). */
bool vpsd_ws_requested(struct MHD_Connection *c);
/* The 101 of an authorized GET /v1/vps/ID/console queued: 0 (*ret MHD's answer); or a
 * negative errno with err (a bad handshake 400, a foreign Origin 403, the console's own
 * refusals) for the caller to answer. */
int vpsd_ws_console_upgrade(struct vpsd *d, struct MHD_Connection *c, const char *url, bool tls,
                            enum MHD_Result *ret, vps_error *err);

/* For console.c: what a WebSocket client sent (frames: its messages to console_fd, pings
 * answered) and the console's output to it (binary frames). Negative: drop the client (a
 * protocol error or close was answered with a close frame, or its stream would tear). */
int vpsd_ws_conn_input(struct vpsd_ws_conn *w, int fd, int console_fd, const void *buf, size_t n);
int vpsd_ws_conn_output(int fd, const void *buf, size_t n);
void vpsd_ws_conn_free(struct vpsd_ws_conn *w);
