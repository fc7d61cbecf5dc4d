/* Unit tests: the remote exec's request (vpsd/exec.c): its path, its body's checks (argv,
 * tty, env, cols and rows), and its route's verb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exec.h"
#include "handlers.h"

#include <errno.h>
#include <string.h>

static int parse(const char *body, struct vpsd_exec_req *r, vps_error *err)
{
        memset(r, 0, sizeof(*r));
        return vpsd_exec_parse(body, strlen(body), r, err);
}

static void test_route(void **state)
{
        (void)state;
        assert_true(vpsd_exec_route("/v1/vps/101/exec"));
        assert_false(vpsd_exec_route("/v1/vps//exec"));
        assert_false(vpsd_exec_route("/v1/vps/101/x/exec"));
        assert_false(vpsd_exec_route("/v1/vps/101/execx"));
        assert_false(vpsd_exec_route("/v1/restore"));
        bool found = false;
        for (size_t i = 0; i < vpsd_n_routes; i++)
                if (vpsd_routes[i].action && !strcmp(vpsd_routes[i].action, "exec")) {
                        assert_int_equal(vpsd_routes[i].verb, VPSD_VERB_EXEC);
                        found = true;
                }
        assert_true(found);
}

static void test_good(void **state)
{
        (void)state;
        struct vpsd_exec_req r;
        vps_error err = {0};
        assert_int_equal(parse("{\"argv\": [\"ls\", \"-l\"], \"tty\": true, \"env\": {\"TERM\": "
                               "\"vt100\", \"A_1\": \"x=y\"}, \"cols\": 80, \"rows\": 24}",
                               &r, &err),
                         0);
        assert_string_equal(r.argv[0], "ls");
        assert_string_equal(r.argv[1], "-l");
        assert_null(r.argv[2]);
        assert_true(r.tty);
        assert_string_equal(r.env[0], "TERM=vt100");
        assert_string_equal(r.env[1], "A_1=x=y");
        assert_null(r.env[2]);
        assert_int_equal(r.cols, 80);
        assert_int_equal(r.rows, 24);
        vpsd_exec_req_free(&r);
}

static void test_bad(void **state)
{
        (void)state;
        static const char *const bad[] = {
                "",
                "[]",
                "{}",
                "{\"argv\": []}",
                "{\"argv\": \"ls\"}",
                "{\"argv\": [1]}",
                "{\"argv\": [\"l\\u0000s\"]}",
                "{\"argv\": [\"ls\"], \"tty\": 1}",
                "{\"argv\": [\"ls\"], \"env\": []}",
                "{\"argv\": [\"ls\"], \"env\": {\"A=B\": \"x\"}}",
                "{\"argv\": [\"ls\"], \"env\": {\"1A\": \"x\"}}",
                "{\"argv\": [\"ls\"], \"env\": {\"A\": 1}}",
                "{\"argv\": [\"ls\"], \"cols\": 0}",
                "{\"argv\": [\"ls\"], \"rows\": 70000}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vpsd_exec_req r;
                vps_error err = {0};
                if (parse(bad[i], &r, &err) == 0)
                        fail_msg("accepted: %s", bad[i]);
                assert_true(err.code == EINVAL || err.code == E2BIG);
                vpsd_exec_req_free(&r);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_route),
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
