/* Unit tests: the vps_error contract (error.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vps/error.h"

static void test_err_sets_code_and_msg(void **state)
{
        vps_error err = {0};
        assert_int_equal(vps_err(&err, ENOENT, "VPS %s not found", "101"), -ENOENT);
        assert_int_equal(err.code, ENOENT);
        assert_string_equal(err.msg, "VPS 101 not found");
        /* A negative errno is accepted as well. */
        assert_int_equal(vps_err(&err, -EEXIST, "x"), -EEXIST);
        assert_int_equal(err.code, EEXIST);
        /* Without an error object the code is still returned. */
        assert_int_equal(vps_err(NULL, EPERM, "nobody listens"), -EPERM);
}

static void test_err_zero_is_eio(void **state)
{
        vps_error err = {0};
        assert_int_equal(vps_err(&err, 0, "something failed"), -EIO);
        assert_int_equal(err.code, EIO);
        assert_string_equal(err.msg, "something failed");
}

static void test_err_sys(void **state)
{
        vps_error err = {0};
        char want[256];
        (void)snprintf(want, sizeof(want), "opening %s: %s", "config.json", strerror(EACCES));
        assert_int_equal(vps_err_sys(&err, EACCES, "opening %s", "config.json"), -EACCES);
        assert_int_equal(err.code, EACCES);
        assert_string_equal(err.msg, want);
}

static void test_err_wrap(void **state)
{
        vps_error err = {0};
        vps_err(&err, EBUSY, "cgroup busy");
        assert_int_equal(vps_err_wrap(&err, "starting %s", "101"), -EBUSY);
        assert_int_equal(err.code, EBUSY);
        assert_string_equal(err.msg, "starting 101: cgroup busy");
        assert_int_equal(vps_err_wrap(&err, "vpsd"), -EBUSY);
        assert_string_equal(err.msg, "vpsd: starting 101: cgroup busy");
        assert_int_equal(vps_err_wrap(NULL, "x"), -EIO);
}

static void test_err_clear(void **state)
{
        vps_error err = {0};
        vps_err(&err, EINVAL, "bad");
        vps_err_clear(&err);
        assert_int_equal(err.code, 0);
        assert_string_equal(err.msg, "");
        /* Wrapping a cleared error still reports a failure. */
        assert_int_equal(vps_err_wrap(&err, "ctx"), -EIO);
        assert_int_equal(err.code, EIO);
        assert_string_equal(err.msg, "ctx: ");
}

/* Guard bytes around the error object detect writes past msg[]. */
struct guarded {
        char before[64];
        vps_error err;
        char after[64];
};

static void check_guards(const struct guarded *g)
{
        for (size_t i = 0; i < sizeof(g->before); i++) {
                assert_int_equal(g->before[i], 0x5a);
                assert_int_equal(g->after[i], 0x5a);
        }
        assert_true(memchr(g->err.msg, '\0', sizeof(g->err.msg)) != NULL);
}

static void test_err_long_message_truncates(void **state)
{
        static struct guarded g;
        memset(&g, 0x5a, sizeof(g));
        char long_text[3 * VPS_ERROR_MSG_MAX];
        memset(long_text, 'm', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';

        assert_int_equal(vps_err(&g.err, E2BIG, "%s", long_text), -E2BIG);
        check_guards(&g);
        assert_int_equal(strlen(g.err.msg), VPS_ERROR_MSG_MAX - 1);

        assert_int_equal(vps_err_wrap(&g.err, "context %d", 42), -E2BIG);
        check_guards(&g);
        assert_int_equal(g.err.code, E2BIG);
        assert_int_equal(strncmp(g.err.msg, "context 42: mmm", 15), 0);
        assert_int_equal(strlen(g.err.msg), VPS_ERROR_MSG_MAX - 1);

        /* A context longer than the whole buffer. */
        assert_int_equal(vps_err_wrap(&g.err, "%s", long_text), -E2BIG);
        check_guards(&g);
        assert_int_equal(strncmp(g.err.msg, "mmmm", 4), 0);
        assert_true(strlen(g.err.msg) < VPS_ERROR_MSG_MAX);

        /* err_sys with a message that already fills the buffer. */
        assert_int_equal(vps_err_sys(&g.err, EIO, "%s", long_text), -EIO);
        check_guards(&g);
        assert_int_equal(strlen(g.err.msg), VPS_ERROR_MSG_MAX - 1);
}

/* Messages go into JSON bodies: bytes that are not UTF-8 become '?', valid sequences stay,
 * and a sequence cut by the length limit does not survive as a broken tail. */
static void test_err_utf8(void **state)
{
        vps_error err;
        (void)vps_err(&err, EINVAL, "invalid VPS ID '%s'",
                      "a\xff\xfe"
                      "b");
        assert_string_equal(err.msg, "invalid VPS ID 'a??b'");
        (void)vps_err(&err, EINVAL, "caf\xc3\xa9 %s", "\xe2\x82\xac");
        assert_string_equal(err.msg, "caf\xc3\xa9 \xe2\x82\xac");
        (void)vps_err(&err, EINVAL, "cut '%.4s'", "\xc3\xa9\xc3\xa9\xc3\xa9");
        assert_string_equal(err.msg, "cut '\xc3\xa9\xc3\xa9'");
        (void)vps_err(&err, EINVAL, "cut '%.3s'", "\xc3\xa9\xc3\xa9");
        assert_string_equal(err.msg, "cut '\xc3\xa9?'");
        (void)vps_err_wrap(&err, "wrapped \xf0\x9f");
        assert_non_null(strstr(err.msg, "wrapped ??"));
}

static void test_http_status(void **state)
{
        static const struct {
                int errnum, status;
        } cases[] = {
                {ENOENT, 404},    {EEXIST, 409}, {EBUSY, 409},      {EINVAL, 400},
                {EPERM, 403},     {EIO, 500},    {-ENOENT, 404},    {ESRCH, 404},
                {EACCES, 403},    {ENOMEM, 500}, {EADDRINUSE, 409}, {EOPNOTSUPP, 501},
                {ETIMEDOUT, 504},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (vps_err_http_status(cases[i].errnum) != cases[i].status)
                        fail_msg("errno %d: got %d, want %d", cases[i].errnum,
                                 vps_err_http_status(cases[i].errnum), cases[i].status);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_err_sets_code_and_msg),
                cmocka_unit_test(test_err_zero_is_eio),
                cmocka_unit_test(test_err_sys),
                cmocka_unit_test(test_err_wrap),
                cmocka_unit_test(test_err_clear),
                cmocka_unit_test(test_err_long_message_truncates),
                cmocka_unit_test(test_err_utf8),
                cmocka_unit_test(test_http_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
