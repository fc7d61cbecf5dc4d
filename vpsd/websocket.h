/* websocket.c: RFC 6455 as pure functions: the handshake's accept key, the token and
 * subprotocols a browser offers, the Origin check, and the frame codec (a client's frames
 * parsed and reassembled within caps, the server's framed). No I/O: ws_console.c does it. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VPSD_WS_ACCEPT_LEN 28
/* The subprotocol a console speaks, and the prefix of the one that carries a token (a browser
 * cannot set Authorization on a WebSocket; a subprotocol is a header, never in the URL). */
#define VPSD_WS_PROTOCOL     "vps.console"
#define VPSD_WS_TOKEN_PREFIX "vps.token."
/* The largest message a client may send (a paste into the terminal), and a frame header's. */
#define VPSD_WS_MSG_MAX    (64 * 1024)
#define VPSD_WS_HEADER_MAX 14

enum vpsd_ws_opcode {
        VPSD_WS_CONT = 0x0,
        VPSD_WS_TEXT = 0x1,
        VPSD_WS_BINARY = 0x2,
        VPSD_WS_CLOSE = 0x8,
        VPSD_WS_PING = 0x9,
        VPSD_WS_PONG = 0xa,
};

/* Close codes (RFC 6455 7.4.1). A parse error is EPROTO (1002), EILSEQ (1007: text that is
 * not UTF-8) or EMSGSIZE (1009); vpsd_ws_close_code maps them. */
#define VPSD_WS_CLOSE_NORMAL   1000
#define VPSD_WS_CLOSE_PROTOCOL 1002
#define VPSD_WS_CLOSE_DATA     1007
#define VPSD_WS_CLOSE_TOO_BIG  1009
uint16_t vpsd_ws_close_code(int errnum);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (24 characters of base64 of 16 bytes). */
int vpsd_ws_accept(const char *key, char ret[VPSD_WS_ACCEPT_LEN + 1], vps_error *err);
/* Sec-WebSocket-Protocol ("a, b, c"): whether it offers vps.console, and the token of a
 * "vps.token.T" entry copied to ret_token (empty when none). -EINVAL on a malformed list. */
int vpsd_ws_protocols(const char *header, bool *ret_console, char *ret_token, size_t size,
                      vps_error *err);
/* A browser's Origin against the server's own ("https://" + Host): true when they match; no
 * Origin (not a browser) is allowed. */
bool vpsd_ws_origin_ok(const char *origin, const char *host, bool tls);

/* One frame's header parsed from buf: 0 when more bytes are needed, else the header's size
 * (the payload follows). Clients must mask (need_mask), a frame over max is refused; errors
 * are negative (see vpsd_ws_close_code). */
struct vpsd_ws_frame {
        bool fin;
        uint8_t opcode;
        bool masked;
        uint8_t mask[4];
        uint64_t len;
};
ssize_t vpsd_ws_frame_parse(const uint8_t *buf, size_t len, bool need_mask, uint64_t max,
                            struct vpsd_ws_frame *ret, vps_error *err);
/* A server frame's header (never masked) into out; its size. */
size_t vpsd_ws_frame_header(uint8_t out[VPSD_WS_HEADER_MAX], uint8_t opcode, bool fin,
                            uint64_t len);

/* A client's byte stream to messages: data messages reassembled from fragments (at most
 * VPSD_WS_MSG_MAX, text checked as UTF-8), control frames between fragments passed on. */
struct vpsd_ws_rx {
        uint8_t *buf; /* bytes of the frame being read */
        size_t len, cap;
        uint8_t *msg; /* the data message being assembled */
        size_t msg_len, msg_cap;
        uint8_t msg_op; /* 0: none under way */
        bool closed;
};
/* Called with each complete message (opcode TEXT, BINARY, CLOSE, PING or PONG); a negative
 * return stops the feed with it. */
typedef int (*vpsd_ws_on_msg)(void *ctx, uint8_t opcode, const uint8_t *data, size_t len);
/* 0, or the first negative: a protocol error's close code is vpsd_ws_close_code(-r). After a CLOSE
 * message nothing more is read. */
int vpsd_ws_rx_feed(struct vpsd_ws_rx *rx, const void *data, size_t len, vpsd_ws_on_msg cb,
                    void *ctx, vps_error *err);
void vpsd_ws_rx_free(struct vpsd_ws_rx *rx);
bool vpsd_ws_utf8_ok(const uint8_t *s, size_t len);
