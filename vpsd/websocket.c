/* vpsd: the WebSocket protocol (RFC 6455) as pure functions over buffers: handshake, frame
 * header codec, and a client stream's reassembly with its caps; unit-tested and fuzzed. */
#include "websocket.h"

#include "vps/util.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

uint16_t vpsd_ws_close_code(int errnum)
{
        switch (errnum) {
        case EMSGSIZE:
                return VPSD_WS_CLOSE_TOO_BIG;
        case EILSEQ:
                return VPSD_WS_CLOSE_DATA;
        case 0:
                return VPSD_WS_CLOSE_NORMAL;
        default:
                return VPSD_WS_CLOSE_PROTOCOL;
        }
}

static bool b64_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

int vpsd_ws_accept(const char *key, char ret[VPSD_WS_ACCEPT_LEN + 1], vps_error *err)
{
        /* 16 bytes in base64: 22 characters and "==". */
        if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
                return vps_err(err, EINVAL, "Sec-WebSocket-Key is not 16 bytes in base64");
        for (int i = 0; i < 22; i++)
                if (!b64_char(key[i]))
                        return vps_err(err, EINVAL, "Sec-WebSocket-Key is not base64");
        char text[24 + sizeof(WS_GUID)];
        memcpy(text, key, 24);
        memcpy(text + 24, WS_GUID, sizeof(WS_GUID));
        unsigned char digest[20];
        if (gnutls_hash_fast(GNUTLS_DIG_SHA1, text, strlen(text), digest) < 0)
                return vps_err(err, EIO, "SHA-1 failed");
        static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *o = ret;
        for (int i = 0; i < 21; i += 3) {
                uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8;
                v |= i + 2 < 20 ? digest[i + 2] : 0;
                *o++ = b64[v >> 18 & 63];
                *o++ = b64[v >> 12 & 63];
                *o++ = b64[v >> 6 & 63];
                *o++ = i + 2 < 20 ? b64[v & 63] : '=';
        }
        *o = '\0';
        return 0;
}

/* RFC 6455's subprotocol names are tokens (RFC 7230): a token's characters. */
static bool tchar(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int vpsd_ws_protocols(const char *header, bool *ret_console, char *ret_token, size_t size,
                      vps_error *err)
{
        *ret_console = false;
        if (size)
                ret_token[0] = '\0';
        const size_t plen = strlen(VPSD_WS_TOKEN_PREFIX);
        for (const char *p = header ? header : ""; *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                size_t n = 0;
                while (p[n] && tchar(p[n]))
                        n++;
                if (!n && *p)
                        return vps_err(err, EINVAL, "Sec-WebSocket-Protocol is malformed");
                if (n == strlen(VPSD_WS_PROTOCOL) && !memcmp(p, VPSD_WS_PROTOCOL, n))
                        *ret_console = true;
                else if (n > plen && !memcmp(p, VPSD_WS_TOKEN_PREFIX, plen)) {
                        if (n - plen >= size)
                                return vps_err(err, EINVAL, "the token offered is too long");
                        memcpy(ret_token, p + plen, n - plen);
                        ret_token[n - plen] = '\0';
                }
                p += n;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p && *p != ',')
                        return vps_err(err, EINVAL, "Sec-WebSocket-Protocol is malformed");
        }
        return 0;
}

bool vpsd_ws_origin_ok(const char *origin, const char *host, bool tls)
{
        if (!origin)
                return true;
        const char *scheme = tls ? "https://" : "http://";
        size_t n = strlen(scheme);
        /* ASCII case folding is enough: both come from the same browser for our own page. */
        return host && *host && !strncasecmp(origin, scheme, n) && !strcasecmp(origin + n, host);
}

ssize_t vpsd_ws_frame_parse(const uint8_t *buf, size_t len, bool need_mask, uint64_t max,
                            struct vpsd_ws_frame *ret, vps_error *err)
{
        if (len < 2)
                return 0;
        *ret = (struct vpsd_ws_frame){
                .fin = buf[0] & 0x80, .opcode = buf[0] & 0x0f, .masked = buf[1] & 0x80};
        if (buf[0] & 0x70)
                return vps_err(err, EPROTO, "WebSocket frame with reserved bits set");
        bool control = ret->opcode & 0x8;
        if (ret->opcode > VPSD_WS_BINARY &&
            !(ret->opcode >= VPSD_WS_CLOSE && ret->opcode <= VPSD_WS_PONG))
                return vps_err(err, EPROTO, "WebSocket frame with unknown opcode %u", ret->opcode);
        if (need_mask && !ret->masked)
                return vps_err(err, EPROTO, "unmasked WebSocket frame from a client");
        size_t h = 2;
        uint64_t n = buf[1] & 0x7f;
        if (control && (n > 125 || !ret->fin))
                return vps_err(err, EPROTO, "WebSocket control frame fragmented or too long");
        if (n == 126) {
                if (len < 4)
                        return 0;
                n = (uint64_t)buf[2] << 8 | buf[3];
                h = 4;
                if (n < 126)
                        return vps_err(err, EPROTO, "WebSocket length not in its shortest form");
        } else if (n == 127) {
                if (len < 10)
                        return 0;
                n = 0;
                for (int i = 2; i < 10; i++)
                        n = n << 8 | buf[i];
                h = 10;
                if (n >> 63 || n <= 0xffff)
                        return vps_err(err, EPROTO, "WebSocket length not in its shortest form");
        }
        if (n > max)
                return vps_err(err, EMSGSIZE, "WebSocket frame of %llu bytes (at most %llu)",
                               (unsigned long long)n, (unsigned long long)max);
        if (ret->masked) {
                if (len < h + 4)
                        return 0;
                memcpy(ret->mask, buf + h, 4);
                h += 4;
        }
        ret->len = n;
        return (ssize_t)h;
}

size_t vpsd_ws_frame_header(uint8_t out[VPSD_WS_HEADER_MAX], uint8_t opcode, bool fin, uint64_t len)
{
        out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
        if (len < 126) {
                out[1] = (uint8_t)len;
                return 2;
        }
        if (len <= 0xffff) {
                out[1] = 126;
                out[2] = (uint8_t)(len >> 8);
                out[3] = (uint8_t)len;
                return 4;
        }
        out[1] = 127;
        for (int i = 0; i < 8; i++)
                out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        return 10;
}

bool vpsd_ws_utf8_ok(const uint8_t *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                size_t n;
                uint32_t cp, min;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n = 1, cp = c & 0x1f, min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2, cp = c & 0x0f, min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        return false;
                }
                if (len - i <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                /* overlong forms, surrogates and code points past Unicode's last */
                if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += n + 1;
        }
        return true;
}

/* One complete frame (payload unmasked): into the message under way, or passed on. */
static int rx_frame(struct vpsd_ws_rx *rx, const struct vpsd_ws_frame *f, const uint8_t *p,
                    vpsd_ws_on_msg cb, void *ctx, vps_error *err)
{
        if (f->opcode & 0x8) {
                if (f->opcode == VPSD_WS_CLOSE) {
                        if (f->len == 1)
                                return vps_err(err, EPROTO, "WebSocket close of one byte");
                        unsigned code = f->len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 1000;
                        /* RFC 6455 7.4: codes a peer may send (1004-1006 and 1015 never are) */
                        if (code < 1000 || code > 4999 || (code >= 1004 && code <= 1006) ||
                            (code >= 1015 && code < 3000))
                                return vps_err(err, EPROTO, "WebSocket close code %u", code);
                        if (f->len > 2 && !vpsd_ws_utf8_ok(p + 2, f->len - 2))
                                return vps_err(err, EILSEQ, "WebSocket close reason not UTF-8");
                        rx->closed = true;
                }
                return cb(ctx, f->opcode, p, f->len);
        }
        if (f->opcode == VPSD_WS_CONT && !rx->msg_op)
                return vps_err(err, EPROTO, "WebSocket continuation without a message");
        if (f->opcode != VPSD_WS_CONT && rx->msg_op)
                return vps_err(err, EPROTO, "WebSocket message inside another");
        if (f->opcode != VPSD_WS_CONT)
                rx->msg_op = f->opcode;
        if (rx->msg_len + f->len > VPSD_WS_MSG_MAX)
                return vps_err(err, EMSGSIZE, "WebSocket message over %d bytes", VPSD_WS_MSG_MAX);
        int r = vps_buf_append((char **)&rx->msg, &rx->msg_len, &rx->msg_cap, p, f->len,
                               VPSD_WS_MSG_MAX, 0);
        if (r < 0)
                return vps_err(err, -r, "WebSocket message: out of memory");
        if (!f->fin)
                return 0;
        uint8_t op = rx->msg_op;
        size_t n = rx->msg_len;
        rx->msg_op = 0;
        rx->msg_len = 0;
        if (op == VPSD_WS_TEXT && !vpsd_ws_utf8_ok(rx->msg, n))
                return vps_err(err, EILSEQ, "WebSocket text message not UTF-8");
        return cb(ctx, op, rx->msg, n);
}

int vpsd_ws_rx_feed(struct vpsd_ws_rx *rx, const void *data, size_t len, vpsd_ws_on_msg cb,
                    void *ctx, vps_error *err)
{
        if (rx->closed)
                return 0;
        int r = vps_buf_append((char **)&rx->buf, &rx->len, &rx->cap, data, len,
                               VPSD_WS_MSG_MAX + VPSD_WS_HEADER_MAX + 64 * 1024, 0);
        if (r < 0)
                return vps_err(err, r == -EMSGSIZE ? EMSGSIZE : -r, "WebSocket input too large");
        size_t off = 0;
        while (!rx->closed) {
                struct vpsd_ws_frame f;
                ssize_t h = vpsd_ws_frame_parse(rx->buf + off, rx->len - off, true, VPSD_WS_MSG_MAX,
                                                &f, err);
                if (h < 0)
                        return (int)h;
                if (h == 0 || rx->len - off - (size_t)h < f.len)
                        break;
                uint8_t *p = rx->buf + off + h;
                for (uint64_t i = 0; i < f.len; i++)
                        p[i] ^= f.mask[i & 3];
                off += (size_t)h + f.len;
                r = rx_frame(rx, &f, p, cb, ctx, err);
                if (r < 0)
                        return r;
        }
        memmove(rx->buf, rx->buf + off, rx->len - off);
        rx->len -= off;
        return 0;
}

void vpsd_ws_rx_free(struct vpsd_ws_rx *rx)
{
        free(rx->buf);
        free(rx->msg);
        *rx = (struct vpsd_ws_rx){0};
}
