/* Unit tests: vpsctl's HTTP/1.1 request builder and reply parser (vpsctl/http.h), compiled
 * in directly. Every reply is parsed all at once, one byte at a time and split in two at
 * every byte boundary, and must give the same result each way. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

/* --- requests ------------------------------------------------------------------------ */

#define UA "User-Agent: vpsctl/" VPS_VERSION "\r\n"

/* The exact bytes for each method, with and without a body. */
static const struct {
        const char *method, *path, *body, *want;
} requests[] = {
        {"GET", "/v1/vps?all=1", NULL,
         "GET /v1/vps?all=1 HTTP/1.1\r\nHost: localhost\r\n" UA "Connection: close\r\n\r\n"},
        /* a body makes any method send its type and length */
        {"GET", "/v1/x", "{}",
         "GET /v1/x HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Type: application/json\r\n"
         "Content-Length: 2\r\nConnection: close\r\n\r\n{}"},
        /* POST, PUT and PATCH always say their length */
        {"POST", "/v1/vps/101/start", NULL,
         "POST /v1/vps/101/start HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Length: 0\r\n"
         "Connection: close\r\n\r\n"},
        {"POST", "/v1/vps", "{\"id\":\"101\"}",
         "POST /v1/vps HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Type: application/json\r\n"
         "Content-Length: 12\r\nConnection: close\r\n\r\n{\"id\":\"101\"}"},
        {"PATCH", "/v1/vps/7", "{\"hostname\":\"a\"}",
         "PATCH /v1/vps/7 HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Type: application/json\r\n"
         "Content-Length: 16\r\nConnection: close\r\n\r\n{\"hostname\":\"a\"}"},
        {"PATCH", "/v1/vps/7", NULL,
         "PATCH /v1/vps/7 HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Length: 0\r\n"
         "Connection: close\r\n\r\n"},
        {"PUT", "/v1/x", NULL,
         "PUT /v1/x HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Length: 0\r\n"
         "Connection: close\r\n\r\n"},
        {"DELETE", "/v1/vps/7?force=1", NULL,
         "DELETE /v1/vps/7?force=1 HTTP/1.1\r\nHost: localhost\r\n" UA "Connection: close\r\n\r\n"},
        {"DELETE", "/v1/vps/7", "[]",
         "DELETE /v1/vps/7 HTTP/1.1\r\nHost: localhost\r\n" UA "Content-Type: application/json\r\n"
         "Content-Length: 2\r\nConnection: close\r\n\r\n[]"},
        /* what the user typed goes to vpsd, which answers "unknown template 'a b'" */
        {"GET", "/v1/templates/a b\r\n\xc3\xa9", NULL,
         "GET /v1/templates/a%20b%0D%0A%C3%A9 HTTP/1.1\r\nHost: localhost\r\n" UA
         "Connection: close\r\n\r\n"},
};

static void test_request_bytes(void **state)
{
        for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
                vps_error err = {0};
                char *req = NULL;
                size_t len = 0;

                assert_int_equal(http_request_build(requests[i].method, requests[i].path,
                                                    requests[i].body, &req, &len, &err),
                                 0);
                assert_string_equal(req, requests[i].want);
                assert_int_equal(len, strlen(requests[i].want));
                free(req);
        }
}

static void test_request_invalid(void **state)
{
        vps_error err = {0};
        char *req = (char *)"unchanged";
        size_t len = 1;

        assert_int_equal(http_request_build("GE T", "/", NULL, &req, &len, &err), -EINVAL);
        assert_null(req);
        assert_int_equal(len, 0);
        assert_int_equal(err.code, EINVAL);
        assert_int_equal(http_request_build("", "/", NULL, &req, &len, &err), -EINVAL);
        assert_int_equal(http_request_build("GET", "v1/vps", NULL, &req, &len, &err), -EINVAL);
        assert_int_equal(http_request_build("GET", "", NULL, &req, &len, &err), -EINVAL);
}

/* --- replies: the harness ------------------------------------------------------------ */

#define INCOMPLETE 1

struct outcome {
        int ret; /* 0 when complete, INCOMPLETE when it wants more, else -errno */
        int status;
        char *body;
        size_t body_len;
        size_t used; /* bytes the parser took */
};

/* Feeds text: the first `first` bytes, then the rest in pieces of `piece` bytes; then, with
 * eof, the end of the stream. */
static struct outcome parse_pieces(const char *text, size_t len, size_t max, size_t first,
                                   size_t piece, bool eof)
{
        struct http_reply r;
        struct outcome o = {.ret = INCOMPLETE};
        vps_error err = {0};
        size_t off = 0;

        http_reply_init(&r, max);
        while (off < len) {
                size_t n = off == 0 && first ? first : piece;
                if (n > len - off)
                        n = len - off;
                ssize_t used = http_reply_feed(&r, text + off, n, &err);
                if (used < 0) {
                        o.ret = (int)used;
                        assert_int_equal(err.code, -o.ret);
                        assert_true(err.msg[0] != '\0');
                        break;
                }
                assert_true((size_t)used <= n);
                o.used += (size_t)used;
                off += n;
                if ((size_t)used < n) {
                        assert_true(http_reply_done(&r)); /* only a complete reply stops */
                        break;
                }
        }
        if (o.ret == INCOMPLETE && http_reply_done(&r))
                o.ret = 0;
        else if (o.ret == INCOMPLETE && eof)
                o.ret = http_reply_finish(&r, &err);
        o.status = r.status;
        o.body_len = r.body_len;
        if (r.body) {
                assert_int_equal(r.body[r.body_len], '\0');
                o.body = malloc(r.body_len + 1);
                assert_non_null(o.body);
                memcpy(o.body, r.body, r.body_len + 1);
        }
        http_reply_free(&r);
        return o;
}

static void assert_same(const struct outcome *a, const struct outcome *b)
{
        assert_int_equal(a->ret, b->ret);
        if (a->ret < 0)
                return; /* what was parsed before the error may differ with the split */
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->used, b->used);
        assert_int_equal(a->body_len, b->body_len);
        if (a->body_len)
                assert_memory_equal(a->body, b->body, a->body_len);
}

/* Parses text every way and checks each gives ret, status and body (NULL: none). */
static void expect_reply_max(const char *text, size_t len, size_t max, bool eof, int ret,
                             int status, const char *body)
{
        struct outcome all = parse_pieces(text, len, max, 0, SIZE_MAX, eof);

        assert_int_equal(all.ret, ret);
        if (ret >= 0) {
                assert_int_equal(all.status, status);
                assert_int_equal(all.body_len, body ? strlen(body) : 0);
                if (body)
                        assert_memory_equal(all.body, body, strlen(body));
        }
        struct outcome one = parse_pieces(text, len, max, 0, 1, eof);
        assert_same(&all, &one);
        free(one.body);
        for (size_t split = 1; len <= 4096 && split < len; split++) {
                struct outcome two = parse_pieces(text, len, max, split, SIZE_MAX, eof);
                assert_same(&all, &two);
                free(two.body);
        }
        free(all.body);
}

static void expect_reply(const char *text, bool eof, int ret, int status, const char *body)
{
        expect_reply_max(text, strlen(text), HTTP_BODY_MAX, eof, ret, status, body);
}

static void expect_small(const char *text, size_t max, bool eof, int ret, int status,
                         const char *body)
{
        expect_reply_max(text, strlen(text), max, eof, ret, status, body);
}

/* the head of a chunked reply */
#define CHUNKED "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/* --- replies: framing ---------------------------------------------------------------- */

static void test_reply_content_length(void **state)
{
        expect_reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: 12\r\n\r\n{\"api\":\"v1\"}",
                     false, 0, 200, "{\"api\":\"v1\"}");
        /* names are case-insensitive; a value may repeat when it agrees */
        expect_reply("HTTP/1.1 404 Not Found\r\ncontent-LENGTH:  5 \r\nContent-Length: 5,5\r\n"
                     "\r\nabcde",
                     false, 0, 404, "abcde");
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 0, 200, NULL);
        /* a bare LF ends a line too, and the reason phrase may be missing */
        expect_reply("HTTP/1.0 201\nContent-Length: 2\n\nok", false, 0, 201, "ok");
}

static void test_reply_stops_at_its_end(void **state)
{
        static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE";
        struct outcome o = parse_pieces(text, strlen(text), HTTP_BODY_MAX, 0, SIZE_MAX, false);

        assert_int_equal(o.ret, 0);
        assert_int_equal(o.used, strlen(text) - strlen("GARBAGE"));
        assert_string_equal(o.body, "ok");
        free(o.body);
        expect_reply(text, false, 0, 200, "ok");
}

static void test_reply_chunked(void **state)
{
        expect_reply(CHUNKED "5;name=value\r\nhello\r\n"
                             "6 ; q=\"x;y\"\r\n world\r\n"
                             "A\r\n, chunked!\r\n"
                             "0;last\r\nX-Trailer: 1\r\nAnother-One: two\r\n\r\n",
                     false, 0, 200, "hello world, chunked!");
        expect_reply("HTTP/1.1 200 OK\r\nTRANSFER-encoding: Chunked\r\n\r\n0\r\n\r\n", false, 0,
                     200, NULL);
        /* chunked wins over a Content-Length */
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n"
                     "\r\n002\r\nab\r\n0\r\n\r\n",
                     false, 0, 200, "ab");
}

static void test_reply_until_eof(void **state)
{
        expect_reply("HTTP/1.0 200 OK\r\nServer: x\r\n\r\n{\"until\": \"eof\"}", true, 0, 200,
                     "{\"until\": \"eof\"}");
        expect_reply("HTTP/1.1 500 Oops\r\n\r\n", true, 0, 500, NULL);
        /* without the end of the stream it is not over */
        expect_reply("HTTP/1.1 200 OK\r\n\r\nmore to come", false, INCOMPLETE, 200, "more to come");
}

static void test_reply_no_body(void **state)
{
        expect_reply("HTTP/1.1 204 No Content\r\n\r\n", false, 0, 204, NULL);
        expect_reply("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, 0, 304,
                     NULL);
        /* an interim reply is skipped */
        expect_reply("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1",
                     false, 0, 200, "1");
}

static void test_reply_upgrade(void **state)
{
        static const char text[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: vps-console\r\n"
                                   "Connection: Upgrade\r\n\r\nlogin: ";
        struct outcome o = parse_pieces(text, strlen(text), 64, 0, SIZE_MAX, false);

        /* what follows the headers is the upgraded stream, left to the caller */
        assert_int_equal(o.ret, 0);
        assert_int_equal(o.status, 101);
        assert_int_equal(o.used, strlen(text) - strlen("login: "));
        assert_null(o.body);
        expect_reply(text, false, 0, 101, NULL);
}

/* --- replies: errors ----------------------------------------------------------------- */

static void test_reply_malformed(void **state)
{
        static const char *const bad[] = {
                /* status lines */
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.2 200 OK\r\n\r\n",
                "http/1.1 200 OK\r\n\r\n",
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 2000\r\n\r\n",
                "HTTP/1.1 200OK\r\n\r\n",
                "HTTP/1.1 099 x\r\n\r\n",
                "HTTP/1.1 600 x\r\n\r\n",
                "HTTP/1.1  200 OK\r\n\r\n",
                "SSH-2.0-OpenSSH\r\n\r\n",
                "\r\n",
                "HTTP/1.1 200 O\rK\r\n\r\n",
                /* headers */
                "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",
                "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
                "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX-Bell: \a\r\n\r\n",
                /* chunks */
                CHUNKED "zz\r\n",
                CHUNKED "\r\n",
                CHUNKED "5 x\r\nhello\r\n0\r\n\r\n",
                CHUNKED "-1\r\n",
                CHUNKED ";x\r\n",
                CHUNKED "5\r\nhelloX\r\n0\r\n\r\n",
                CHUNKED "2\r\nab\r\n3\x01\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                expect_reply(bad[i], true, -EBADMSG, 0, NULL);
        /* a NUL in a header value */
        static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
        expect_reply_max(nul, sizeof(nul) - 1, HTTP_BODY_MAX, true, -EBADMSG, 0, NULL);
}

static void test_reply_overlong_lines(void **state)
{
        size_t n = HTTP_LINE_MAX + 100;
        char *text = malloc(n + 64);
        assert_non_null(text);

        /* one header line over the line limit */
        int k = sprintf(text, "HTTP/1.1 200 OK\r\nX-Long: ");
        memset(text + k, 'a', n);
        strcpy(text + k + n, "\r\n\r\n");
        expect_reply(text, true, -EBADMSG, 0, NULL);

        /* the status line itself */
        memset(text, 'H', n);
        strcpy(text + n, "\r\n\r\n");
        expect_reply(text, true, -EBADMSG, 0, NULL);

        /* a chunk size line (extensions are bounded too) */
        k = sprintf(text, CHUNKED "1;");
        memset(text + k, 'e', n);
        strcpy(text + k + n, "\r\nx\r\n0\r\n\r\n");
        expect_reply(text, true, -EBADMSG, 0, NULL);
        free(text);
}

static void test_reply_header_section_limit(void **state)
{
        size_t size = HTTP_HEAD_MAX + 8192;
        char *text = malloc(size);
        assert_non_null(text);

        /* many lines, each short enough, together over the section's limit */
        size_t off = (size_t)sprintf(text, "HTTP/1.1 200 OK\r\n");
        while (off < HTTP_HEAD_MAX + 100)
                off += (size_t)sprintf(text + off, "X-Filler: %01000d\r\n", 0);
        strcpy(text + off, "Content-Length: 0\r\n\r\n");
        expect_reply(text, true, -EBADMSG, 0, NULL);

        /* just under it is fine */
        off = (size_t)sprintf(text, "HTTP/1.1 200 OK\r\n");
        while (off < HTTP_HEAD_MAX - 2000)
                off += (size_t)sprintf(text + off, "X-Filler: %01000d\r\n", 0);
        strcpy(text + off, "Content-Length: 0\r\n\r\n");
        expect_reply(text, false, 0, 200, NULL);

        /* the trailers have a limit of their own, after headers close to theirs */
        off = (size_t)sprintf(text, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n");
        while (off < HTTP_HEAD_MAX - 2000)
                off += (size_t)sprintf(text + off, "X-Filler: %01000d\r\n", 0);
        off += (size_t)sprintf(text + off, "\r\n1\r\nx\r\n0\r\n");
        for (int i = 0; i < 4; i++)
                off += (size_t)sprintf(text + off, "X-Trailer: %01000d\r\n", 0);
        strcpy(text + off, "\r\n");
        expect_reply(text, false, 0, 200, "x");

        /* and it is the same */
        off = (size_t)sprintf(text, CHUNKED "0\r\n");
        while (off < HTTP_HEAD_MAX + 200)
                off += (size_t)sprintf(text + off, "X-Filler: %01000d\r\n", 0);
        strcpy(text + off, "\r\n");
        expect_reply(text, true, -EBADMSG, 0, NULL);
        free(text);
}

static void test_reply_body_limit(void **state)
{
        /* announced: refused before a byte of it */
        expect_small("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 10, true, -EMSGSIZE, 0, NULL);
        expect_small("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 10, true, 0, 200,
                     "0123456789");
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n", true, -EMSGSIZE, 0,
                     NULL);
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", true,
                     -EMSGSIZE, 0, NULL);
        /* 64 MiB is allowed: this one is merely cut short */
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n", true, -ECONNRESET, 0,
                     NULL);

        /* chunked: the chunks add up past the limit */
        static const char chunked[] = CHUNKED "6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n";
        expect_small(chunked, 10, true, -EMSGSIZE, 0, NULL);
        expect_small(chunked, 11, true, 0, 200, "0123456789A");
        expect_reply(CHUNKED "FFFFFFFFFFFFFFFFFFFFFFFF\r\n", true, -EMSGSIZE, 0, NULL);

        /* until EOF */
        static const char eof[] = "HTTP/1.1 200 OK\r\n\r\n0123456789A";
        expect_small(eof, 10, true, -EMSGSIZE, 0, NULL);
        expect_small(eof, 11, true, 0, 200, "0123456789A");
}

static void test_reply_truncated(void **state)
{
        expect_reply("", true, -ECONNRESET, 0, NULL);
        expect_reply("HTTP/1.1 200", true, -ECONNRESET, 0, NULL);
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n", true, -ECONNRESET, 0, NULL);
        expect_reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", true, -ECONNRESET, 0,
                     NULL);
        expect_reply(CHUNKED "5\r\nhello", true, -ECONNRESET, 0, NULL);
        expect_reply(CHUNKED "5\r\nhello\r\n", true, -ECONNRESET, 0, NULL);
        expect_reply(CHUNKED "0\r\nX-T: 1\r\n", true, -ECONNRESET, 0, NULL);
}

static void test_reply_after_error(void **state)
{
        struct http_reply r;
        vps_error err = {0};

        http_reply_init(&r, 100);
        assert_true(http_reply_feed(&r, "XTTP/1.1 200\r\n", 14, &err) < 0);
        assert_true(http_reply_feed(&r, "\r\n", 2, &err) < 0);
        assert_true(http_reply_finish(&r, &err) < 0);
        http_reply_free(&r);

        /* a complete reply takes nothing more, and stays complete at EOF */
        http_reply_init(&r, 100);
        assert_int_equal(http_reply_feed(&r, "HTTP/1.1 204 \r\n\r\n", 17, &err), 17);
        assert_int_equal(http_reply_feed(&r, "more", 4, &err), 0);
        assert_int_equal(http_reply_finish(&r, &err), 0);
        assert_true(http_reply_done(&r));
        http_reply_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_bytes),
                cmocka_unit_test(test_request_invalid),
                cmocka_unit_test(test_reply_content_length),
                cmocka_unit_test(test_reply_stops_at_its_end),
                cmocka_unit_test(test_reply_chunked),
                cmocka_unit_test(test_reply_until_eof),
                cmocka_unit_test(test_reply_no_body),
                cmocka_unit_test(test_reply_upgrade),
                cmocka_unit_test(test_reply_malformed),
                cmocka_unit_test(test_reply_overlong_lines),
                cmocka_unit_test(test_reply_header_section_limit),
                cmocka_unit_test(test_reply_body_limit),
                cmocka_unit_test(test_reply_truncated),
                cmocka_unit_test(test_reply_after_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
