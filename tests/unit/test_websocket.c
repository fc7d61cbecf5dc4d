/* Unit tests: vpsd's WebSocket codec (websocket.c) on RFC 6455's own examples (1.3's
 * handshake, 5.7's frames), and what it must refuse from a client: unmasked frames, frames
 * over the cap (before their payload is read), reserved bits, unknown opcodes, lengths not
 * in their shortest form, fragmented or long control frames, stray continuations, text that
 * is not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "websocket.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What the reassembly passed on: the messages, opcode and bytes, in order. */
struct got {
        int n;
        uint8_t op[8];
        char data[8][256];
        size_t len[8];
};

static int record(void *ctx, uint8_t op, const uint8_t *data, size_t len)
{
        struct got *g = ctx;
        if (g->n >= 8 || len >= 256)
                return -ENOSPC;
        g->op[g->n] = op;
        memcpy(g->data[g->n], data, len);
        g->len[g->n++] = len;
        return 0;
}

/* A client's frame: header, mask 37 fa 21 3d (RFC 6455 5.7's), masked payload. */
static size_t client_frame(uint8_t *out, uint8_t op, bool fin, const void *data, size_t len)
{
        static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
        size_t h = vpsd_ws_frame_header(out, op, fin, len);
        out[1] |= 0x80;
        memcpy(out + h, mask, 4);
        for (size_t i = 0; i < len; i++)
                out[h + 4 + i] = ((const uint8_t *)data)[i] ^ mask[i & 3];
        return h + 4 + len;
}

static int feed(struct got *g, const void *buf, size_t len, vps_error *err)
{
        struct vpsd_ws_rx rx = {0};
        memset(g, 0, sizeof(*g));
        int r = vpsd_ws_rx_feed(&rx, buf, len, record, g, err);
        vpsd_ws_rx_free(&rx);
        return r;
}

static void test_accept_key(void **state)
{
        (void)state;
        char out[VPSD_WS_ACCEPT_LEN + 1];
        vps_error err;
        assert_int_equal(vpsd_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out, &err), 0);
        assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_int_equal(vpsd_ws_accept("dGhlIHNhbXBsZSBub25jZQ", out, &err), -EINVAL);
        assert_int_equal(vpsd_ws_accept("dGhlIHNhbXBsZSBub25j\r\n==", out, &err), -EINVAL);
        assert_int_equal(vpsd_ws_accept(NULL, out, &err), -EINVAL);
}

static void test_rfc_frames(void **state)
{
        (void)state;
        uint8_t h[VPSD_WS_HEADER_MAX];
        /* 5.7: an unmasked "Hello" as the server sends it; 256 and 65536 bytes of binary. */
        assert_int_equal(vpsd_ws_frame_header(h, VPSD_WS_TEXT, true, 5), 2);
        assert_memory_equal(h, "\x81\x05", 2);
        assert_int_equal(vpsd_ws_frame_header(h, VPSD_WS_BINARY, true, 256), 4);
        assert_memory_equal(h, "\x82\x7e\x01\x00", 4);
        assert_int_equal(vpsd_ws_frame_header(h, VPSD_WS_BINARY, true, 65536), 10);
        assert_memory_equal(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
        /* 5.7: a masked "Hello", whole and byte by byte. */
        static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                        0x7f, 0x9f, 0x4d, 0x51, 0x58};
        struct got g;
        vps_error err;
        assert_int_equal(feed(&g, hello, sizeof(hello), &err), 0);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.op[0], VPSD_WS_TEXT);
        assert_int_equal(g.len[0], 5);
        assert_memory_equal(g.data[0], "Hello", 5);
        struct vpsd_ws_rx rx = {0};
        memset(&g, 0, sizeof(g));
        for (size_t i = 0; i < sizeof(hello); i++) {
                assert_int_equal(vpsd_ws_rx_feed(&rx, hello + i, 1, record, &g, &err), 0);
                assert_int_equal(g.n, i + 1 == sizeof(hello));
        }
        vpsd_ws_rx_free(&rx);
        /* 5.7: a masked pong of "Hello". */
        static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                       0x7f, 0x9f, 0x4d, 0x51, 0x58};
        assert_int_equal(feed(&g, pong, sizeof(pong), &err), 0);
        assert_int_equal(g.op[0], VPSD_WS_PONG);
        /* The parser reads 5.7's unmasked frames when no mask is asked for (a server's). */
        struct vpsd_ws_frame f;
        assert_int_equal(
                vpsd_ws_frame_parse((const uint8_t *)"\x01\x03Hel", 5, false, 100, &f, &err), 2);
        assert_false(f.fin);
        assert_int_equal(f.len, 3);
        assert_int_equal(vpsd_ws_frame_parse((const uint8_t *)"\x82\x7f\x00\x00\x00\x00\x00\x01"
                                                              "\x00\x00",
                                             10, false, 1 << 20, &f, &err),
                         10);
        assert_int_equal(f.len, 65536);
        assert_int_equal(
                vpsd_ws_frame_parse((const uint8_t *)"\x82\x7f\x00", 3, false, 100, &f, &err), 0);
}

/* 5.4: "Hel" and "lo" with a ping between them: the ping passes first, then "Hello". */
static void test_fragments(void **state)
{
        (void)state;
        uint8_t buf[256];
        size_t n = client_frame(buf, VPSD_WS_TEXT, false, "Hel", 3);
        n += client_frame(buf + n, VPSD_WS_PING, true, "p", 1);
        n += client_frame(buf + n, VPSD_WS_CONT, true, "lo", 2);
        n += client_frame(buf + n, VPSD_WS_BINARY, true, "\xff\x00", 2);
        struct got g;
        vps_error err;
        assert_int_equal(feed(&g, buf, n, &err), 0);
        assert_int_equal(g.n, 3);
        assert_int_equal(g.op[0], VPSD_WS_PING);
        assert_int_equal(g.op[1], VPSD_WS_TEXT);
        assert_memory_equal(g.data[1], "Hello", 5);
        /* binary need not be UTF-8 */
        assert_int_equal(g.op[2], VPSD_WS_BINARY);
        assert_int_equal(g.len[2], 2);
}

/* Each refused with its close code, and nothing before the error's frame passed on. */
static void refused(const uint8_t *buf, size_t n, int code, uint16_t close)
{
        struct got g;
        vps_error err;
        assert_int_equal(feed(&g, buf, n, &err), -code);
        assert_int_equal(g.n, 0);
        assert_int_equal(vpsd_ws_close_code(err.code), close);
}

static void test_refused(void **state)
{
        (void)state;
        uint8_t buf[256];
        /* unmasked from a client (5.7's unmasked "Hello") */
        refused((const uint8_t *)"\x81\x05Hello", 7, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* over the cap: refused on its header, its payload never read */
        uint8_t big[14] = {0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4};
        refused(big, sizeof(big), EMSGSIZE, VPSD_WS_CLOSE_TOO_BIG);
        /* a length with its top bit set */
        uint8_t huge[14] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
        refused(huge, sizeof(huge), EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* 5 bytes in 16 bits: not the shortest form */
        refused((const uint8_t *)"\x82\xfe\x00\x05", 4, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* reserved bits, unknown opcodes */
        size_t n = client_frame(buf, VPSD_WS_TEXT, true, "x", 1);
        buf[0] |= 0x40;
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, 0x3, true, "x", 1);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, 0xb, true, "x", 1);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* a fragmented ping, a ping of 126 bytes */
        n = client_frame(buf, VPSD_WS_PING, false, "x", 1);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        char many[126];
        memset(many, 'a', sizeof(many));
        n = client_frame(buf, VPSD_WS_PING, true, many, sizeof(many));
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* a continuation with no message, a message inside another */
        n = client_frame(buf, VPSD_WS_CONT, true, "x", 1);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, VPSD_WS_TEXT, false, "x", 1);
        n += client_frame(buf + n, VPSD_WS_BINARY, true, "y", 1);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* text that is not UTF-8: a lone continuation byte, an overlong '/', a surrogate */
        n = client_frame(buf, VPSD_WS_TEXT, true, "a\x80", 2);
        refused(buf, n, EILSEQ, VPSD_WS_CLOSE_DATA);
        n = client_frame(buf, VPSD_WS_TEXT, true, "\xc0\xaf", 2);
        refused(buf, n, EILSEQ, VPSD_WS_CLOSE_DATA);
        n = client_frame(buf, VPSD_WS_TEXT, true, "\xed\xa0\x80", 3);
        refused(buf, n, EILSEQ, VPSD_WS_CLOSE_DATA);
        /* a close of one byte */
        n = client_frame(buf, VPSD_WS_CLOSE, true, "x", 1);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        /* close codes no peer may send: 1005 (no code), 999, 5000 */
        n = client_frame(buf, VPSD_WS_CLOSE, true, "\x03\xed", 2);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, VPSD_WS_CLOSE, true, "\x03\xe7", 2);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, VPSD_WS_CLOSE, true, "\x13\x88", 2);
        refused(buf, n, EPROTO, VPSD_WS_CLOSE_PROTOCOL);
}

/* Fragments that add up past the cap are refused with the one that crosses it. */
static void test_message_cap(void **state)
{
        (void)state;
        size_t part = VPSD_WS_MSG_MAX / 2 + 1;
        uint8_t *buf = malloc(2 * (part + 14)), *data = calloc(1, part);
        assert_non_null(buf);
        assert_non_null(data);
        size_t n = client_frame(buf, VPSD_WS_BINARY, false, data, part);
        n += client_frame(buf + n, VPSD_WS_CONT, true, data, part);
        struct got g;
        vps_error err;
        assert_int_equal(feed(&g, buf, n, &err), -EMSGSIZE);
        assert_int_equal(g.n, 0);
        free(buf);
        free(data);
}

static void test_close_ends_input(void **state)
{
        (void)state;
        uint8_t buf[64];
        size_t n = client_frame(buf, VPSD_WS_CLOSE, true, "\x03\xe8", 2);
        n += client_frame(buf + n, VPSD_WS_TEXT, true, "after", 5);
        struct got g;
        vps_error err;
        assert_int_equal(feed(&g, buf, n, &err), 0);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.op[0], VPSD_WS_CLOSE);
}

static void test_protocols_and_origin(void **state)
{
        (void)state;
        char tok[128];
        bool console;
        vps_error err;
        assert_int_equal(vpsd_ws_protocols("vps.console, vps.token.vpst-ab-cd", &console, tok,
                                           sizeof(tok), &err),
                         0);
        assert_true(console);
        assert_string_equal(tok, "vpst-ab-cd");
        assert_int_equal(vpsd_ws_protocols("vps.token.x", &console, tok, sizeof(tok), &err), 0);
        assert_false(console);
        assert_int_equal(vpsd_ws_protocols(NULL, &console, tok, sizeof(tok), &err), 0);
        assert_string_equal(tok, "");
        assert_int_equal(vpsd_ws_protocols("vps.console; x", &console, tok, sizeof(tok), &err),
                         -EINVAL);
        assert_int_equal(vpsd_ws_protocols("vps.token.abcdefgh", &console, tok, 4, &err), -EINVAL);
        assert_true(vpsd_ws_origin_ok(NULL, "h:1", true));
        assert_true(vpsd_ws_origin_ok("https://127.0.0.1:8443", "127.0.0.1:8443", true));
        assert_false(vpsd_ws_origin_ok("http://127.0.0.1:8443", "127.0.0.1:8443", true));
        assert_false(vpsd_ws_origin_ok("https://evil.example", "127.0.0.1:8443", true));
        assert_false(vpsd_ws_origin_ok("https://127.0.0.1:8443.evil", "127.0.0.1:8443", true));
        assert_false(vpsd_ws_origin_ok("null", "127.0.0.1:8443", true));
        assert_false(vpsd_ws_origin_ok("https://127.0.0.1:8443", NULL, true));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accept_key),
                cmocka_unit_test(test_rfc_frames),
                cmocka_unit_test(test_fragments),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_message_cap),
                cmocka_unit_test(test_close_ends_input),
                cmocka_unit_test(test_protocols_and_origin),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
