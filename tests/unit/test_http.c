/* Unit tests: what vpsctl still writes in HTTP/1.1 itself (vpsctl/http.h, compiled in): the
 * encoding of request paths, the Upgrade request of the streams and the parser of its
 * answer's head. The requests and replies libcurl handles are tested in unit-client. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

#define UA "User-Agent: vpsctl/" VPS_VERSION "\r\n"

static void test_encode_path(void **state)
{
        static const struct {
                const char *in, *want;
        } cases[] = {
                {"/v1/vps?all=1&x=%41", "/v1/vps?all=1&x=%41"},
                /* what the user typed goes to vpsd, which answers "unknown template 'a b'" */
                {"/v1/templates/a b\r\n\xc3\xa9", "/v1/templates/a%20b%0D%0A%C3%A9"},
                {"/\x7f\x01", "/%7F%01"},
                {"/", "/"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = http_encode_path(cases[i].in);
                assert_non_null(out);
                assert_string_equal(out, cases[i].want);
                free(out);
        }
}

static void test_request_check(void **state)
{
        vps_error err = {0};
        (void)state;
        assert_int_equal(http_request_check("GET", "/v1/vps", &err), 0);
        assert_int_equal(http_request_check("PATCH", "/", &err), 0);
        assert_int_equal(http_request_check("GE T", "/", &err), -EINVAL);
        assert_int_equal(err.code, EINVAL);
        assert_int_equal(http_request_check("", "/", &err), -EINVAL);
        assert_int_equal(http_request_check("GET\r\n", "/", &err), -EINVAL);
        assert_int_equal(http_request_check("GET", "v1/vps", &err), -EINVAL);
        assert_int_equal(http_request_check("GET", "", &err), -EINVAL);
        assert_true(http_is_token("vps-console"));
        assert_false(http_is_token("vps console"));
        assert_false(http_is_token(NULL));
}

static void test_upgrade_request(void **state)
{
        vps_error err = {0};
        char *req = NULL;
        size_t len = 0;
        (void)state;

        assert_int_equal(http_upgrade_request("localhost", "/v1/vps/101/console", "vps-console",
                                              NULL, NULL, &req, &len, &err),
                         0);
        assert_string_equal(req, "POST /v1/vps/101/console HTTP/1.1\r\nHost: localhost\r\n" UA
                                 "Connection: Upgrade\r\nUpgrade: vps-console\r\n"
                                 "Content-Length: 0\r\n\r\n");
        assert_int_equal(len, strlen(req));
        free(req);

        assert_int_equal(http_upgrade_request("h.example:8443", "/v1/vps/a b/backup?full=1",
                                              "vps-backup", "Bearer abc.DEF_1", NULL, &req, &len,
                                              &err),
                         0);
        assert_string_equal(req, "POST /v1/vps/a%20b/backup?full=1 HTTP/1.1\r\n"
                                 "Host: h.example:8443\r\n" UA
                                 "Connection: Upgrade\r\nUpgrade: vps-backup\r\n"
                                 "Authorization: Bearer abc.DEF_1\r\n"
                                 "Content-Length: 0\r\n\r\n");
        free(req);

        /* nothing a header could be smuggled in with */
        req = (char *)"unchanged";
        assert_int_equal(http_upgrade_request("localhost", "/x", "vps-console",
                                              "Bearer a\r\nX-Evil: 1", NULL, &req, &len, &err),
                         -EINVAL);
        assert_null(req);
        assert_int_equal(len, 0);
        assert_int_equal(
                http_upgrade_request("local\r\nhost", "/x", "p", NULL, NULL, &req, &len, &err),
                -EINVAL);
        assert_int_equal(
                http_upgrade_request("localhost", "/x", "p q", NULL, NULL, &req, &len, &err),
                -EINVAL);
        assert_int_equal(http_upgrade_request("localhost", "x", "p", NULL, NULL, &req, &len, &err),
                         -EINVAL);
}

static void test_head_end(void **state)
{
        (void)state;
        assert_int_equal(http_head_end("HTTP/1.1 101 OK\r\n\r\nstream", 25), 19);
        assert_int_equal(http_head_end("HTTP/1.1 101 OK\r\n\r", 18), 0);
        assert_int_equal(http_head_end("", 0), 0);
}

static int parse(const char *text, struct http_head *h)
{
        vps_error err = {0};
        int r = http_head_parse(text, strlen(text), h, &err);
        if (r < 0) {
                assert_int_equal(err.code, -r);
                assert_non_null(strstr(err.msg, "malformed reply"));
        }
        return r;
}

static void test_head_parse(void **state)
{
        struct http_head h;
        (void)state;

        assert_int_equal(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: vps-console\r\n"
                               "Connection: Upgrade\r\n\r\n",
                               &h),
                         0);
        assert_int_equal(h.status, 101);
        assert_int_equal(h.content_length, -1);

        assert_int_equal(parse("HTTP/1.0 409\r\ncontent-length:  42 \r\n\r\n", &h), 0);
        assert_int_equal(h.status, 409);
        assert_int_equal(h.content_length, 42);
        /* a repeat that agrees is the same length */
        assert_int_equal(parse("HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\nX: y\r\n"
                               "Content-Length: 7\r\n\r\n",
                               &h),
                         0);
        assert_int_equal(h.content_length, 7);
        /* an absurd length saturates; the reader reads at most HTTP_ERROR_BODY_MAX */
        assert_int_equal(
                parse("HTTP/1.1 500 E\r\nContent-Length: 99999999999999999999999\r\n\r\n", &h), 0);
        assert_true(h.content_length > (long)HTTP_ERROR_BODY_MAX);
        /* chunked: the last coding, a whole one */
        static const struct {
                const char *value;
                bool chunked;
        } te[] = {
                {"chunked", true},       {"chunked ", true},   {" gzip, chunked", true},
                {" gzip,chunked", true}, {" xchunked", false}, {" chunked, gzip", false},
        };
        for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++) {
                char head[128];
                (void)snprintf(head, sizeof(head),
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding:%s\r\n\r\n", te[i].value);
                assert_int_equal(parse(head, &h), 0);
                if (h.chunked != te[i].chunked)
                        fail_msg("Transfer-Encoding:%s: chunked %d", te[i].value, h.chunked);
        }
}

static void test_head_malformed(void **state)
{
        static const char *const bad[] = {
                "\r\n\r\n",
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 099 OK\r\n\r\n",
                "HTTP/1.1 600 OK\r\n\r\n",
                "HTTP/1.1 999 OK\r\n\r\n",
                "HTTP/1.1 abc OK\r\n\r\n",
                "ICY 200 OK\r\n\r\n",
                "HTTP/1.1 200 O\x01K\r\n\r\n",
                "HTTP/1.1 101 OK\r\nno colon\r\n\r\n",
                "HTTP/1.1 101 OK\r\n: empty name\r\n\r\n",
                "HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n",
                "HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n",
                "HTTP/1.1 101 OK\r\nX: a\nb\r\n\r\n",
                "HTTP/1.1 404 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                "HTTP/1.1 404 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 404 OK\r\nContent-Length: 1 2\r\n\r\n",
                "HTTP/1.1 404 OK\r\nContent-Length:\r\n\r\n",
                "HTTP/1.1 101 OK\r\n",
        };
        struct http_head h;
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (parse(bad[i], &h) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode_path),     cmocka_unit_test(test_request_check),
                cmocka_unit_test(test_upgrade_request), cmocka_unit_test(test_head_end),
                cmocka_unit_test(test_head_parse),      cmocka_unit_test(test_head_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
