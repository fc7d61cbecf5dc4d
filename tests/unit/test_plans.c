/* Unit tests: plan files (config.h): parsing, names, loading beneath the plans directory, and
 * merging a plan under a request. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tmpdir.h"
#include "config/config.h"

static char *dump(json_t *j)
{
        return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
}

static void test_parse(void **state)
{
        (void)state;
        json_t *b = NULL;
        vps_error err = {0};
        const char *text = "# a plan\n"
                           "\n"
                           "RAM=\"512M\"\n"
                           "  swap = \"0\"\r\n"
                           "DISKSPACE=\"10G:11G\"\n"
                           "numproc=400\n"
                           "CPUS=\"0.5\"\n"
                           "RATE=\"100mbit\"\n"
                           "FEATURES=\"tun,fuse\"\n"
                           "ONBOOT=\"yes\"\n";
        assert_int_equal(vps_plan_parse("p.conf", text, &b, &err), 0);
        char *s = dump(b);
        assert_string_equal(s, "{\"features\":\"tun,fuse\",\"limits\":{\"cpus\":\"0.5\","
                               "\"diskspace\":\"10G:11G\",\"numproc\":\"400\",\"ram\":\"512M\","
                               "\"swap\":\"0\"},\"onboot\":true,\"rate\":\"100mbit\"}");
        free(s);
        json_decref(b);
        assert_int_equal(vps_plan_parse("p.conf", "", &b, &err), 0);
        assert_int_equal(json_object_size(b), 0);
        json_decref(b);
}

static void expect_refused(const char *text, const char *msg)
{
        json_t *b = NULL;
        vps_error err = {0};
        assert_true(vps_plan_parse("p.conf", text, &b, &err) < 0);
        assert_null(b);
        if (!strstr(err.msg, msg))
                fail_msg("'%s' !~ '%s'", err.msg, msg);
        assert_null(strchr(err.msg, '\n'));
}

static void test_refused(void **state)
{
        (void)state;
        expect_refused("RAM=\"lots\"\n", "p.conf:1: 'ram': invalid size");
        expect_refused("# c\nNUMPROC=\"0\"\n", "p.conf:2: 'numproc': 0 is out of range");
        expect_refused("COLOUR=\"red\"\n", "p.conf:1: unknown setting 'COLOUR'");
        expect_refused("RAM=\"1G\"\nram=\"2G\"\n", "p.conf:2: ram is set twice");
        expect_refused("RAM\n", "p.conf:1: expected KEY=\"VALUE\"");
        expect_refused("RAM=\"1G\n", "p.conf:1: expected KEY=\"VALUE\"");
        expect_refused("RAM=\"1\"G\"\n", "p.conf:1: expected KEY=\"VALUE\"");
        expect_refused("R-AM=\"1G\"\n", "p.conf:1: expected KEY=\"VALUE\"");
        expect_refused("ONBOOT=\"maybe\"\n", "p.conf:1: 'onboot': expected yes or no");
        expect_refused("FEATURES=\"wings\"\n", "unknown feature 'wings'");
        expect_refused("RATE=\"fast\"\n", "p.conf:1: 'rate'");
        expect_refused("DISKSPACE=\"2G:1G\"\n", "above the hard limit");
}

static void test_names(void **state)
{
        (void)state;
        vps_error err = {0};
        assert_int_equal(vps_plan_name_check("small", &err), 0);
        assert_int_equal(vps_plan_name_check("vps-2.large_x", &err), 0);
        const char *bad[] = {
                "",    "none", "../x",
                "a/b", ".x",   "-x",
                "a b", "x\n",  "0123456789012345678901234567890123456789012345678901234567890123"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (vps_plan_name_check(bad[i], &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
}

static void put(struct tmpdir *t, const char *name, const char *text)
{
        int fd = openat(t->fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void test_load(void **state)
{
        struct tmpdir *t = *state;
        assert_int_equal(mkdirat(t->fd, "plans", 0755), 0);
        char dir[300];
        (void)snprintf(dir, sizeof(dir), "%s/plans", t->path);
        put(t, "plans/small.conf", "RAM=\"1G\"\n");
        put(t, "outside.conf", "RAM=\"2G\"\n");
        assert_int_equal(symlinkat("../outside.conf", t->fd, "plans/up.conf"), 0);
        assert_int_equal(symlinkat("small.conf", t->fd, "plans/alias.conf"), 0);
        assert_int_equal(mkdirat(t->fd, "plans/dir.conf", 0755), 0);
        json_t *b = NULL;
        vps_error err = {0};
        assert_int_equal(vps_plan_load(dir, "small", &b, &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(b, "limits"), "ram")),
                            "1G");
        json_decref(b);
        b = NULL;
        /* A symlink inside the directory is followed there, and only there. */
        assert_int_equal(vps_plan_load(dir, "alias", &b, &err), 0);
        json_decref(b);
        b = NULL;
        assert_int_equal(vps_plan_load(dir, "up", &b, &err), -ENOENT);
        assert_int_equal(vps_plan_load(dir, "gold", &b, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "no plan 'gold'"));
        assert_int_equal(vps_plan_load(dir, "../outside", &b, &err), -EINVAL);
        assert_true(vps_plan_load(dir, "dir", &b, &err) < 0);
        assert_null(b);
}

static void test_merge(void **state)
{
        (void)state;
        json_t *plan = json_pack("{s:{s:s, s:s}, s:s}", "limits", "ram", "1G", "swap", "0", "rate",
                                 "100mbit");
        json_t *req = json_pack("{s:s, s:{s:s}, s:s, s:s}", "id", "101", "limits", "ram", "2G",
                                "plan", "small", "rate", "1gbit");
        json_t *m = vps_plan_merge(plan, req);
        char *s = dump(m);
        assert_string_equal(s, "{\"id\":\"101\",\"limits\":{\"ram\":\"2G\",\"swap\":\"0\"},"
                               "\"rate\":\"1gbit\"}");
        free(s);
        /* The plan itself is left as it was. */
        s = dump(plan);
        assert_string_equal(s, "{\"limits\":{\"ram\":\"1G\",\"swap\":\"0\"},\"rate\":\"100mbit\"}");
        free(s);
        json_decref(m);
        json_decref(plan);
        json_decref(req);
}

static void test_body(void **state)
{
        struct tmpdir *t = *state;
        put(t, "tiny.conf", "RAM=\"64M\"\n");
        char plan[VPS_PLAN_NAME_MAX + 1];
        bool given;
        json_t *b = NULL, *req = json_pack("{s:s}", "id", "1");
        vps_error err = {0};
        /* create without a plan: the default */
        assert_int_equal(vps_plan_body(t->path, "tiny", req, true, plan, &given, &b, &err), 0);
        assert_string_equal(plan, "tiny");
        assert_true(given);
        assert_non_null(json_object_get(b, "limits"));
        json_decref(b);
        /* a PATCH without one: nothing */
        assert_int_equal(vps_plan_body(t->path, "tiny", req, false, plan, &given, &b, &err), 0);
        assert_false(given);
        assert_ptr_equal(b, req);
        json_decref(b);
        /* "none" */
        json_object_set_new(req, "plan", json_string("none"));
        assert_int_equal(vps_plan_body(t->path, "tiny", req, true, plan, &given, &b, &err), 0);
        assert_true(given);
        assert_string_equal(plan, "");
        assert_null(json_object_get(b, "plan"));
        assert_null(json_object_get(b, "limits"));
        json_decref(b);
        json_object_set_new(req, "plan", json_integer(3));
        assert_int_equal(vps_plan_body(t->path, "", req, true, plan, &given, &b, &err), -EINVAL);
        json_decref(req);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_names),
                cmocka_unit_test_setup_teardown(test_load, setup_dir, teardown_dir),
                cmocka_unit_test(test_merge),
                cmocka_unit_test_setup_teardown(test_body, setup_dir, teardown_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
