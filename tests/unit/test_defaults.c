/* Unit tests: the safe defaults of a VPS without a plan and without limits
 * (runtime/core/defaults.c): 4096 processes and 1024 ptys unless vpsd.conf says otherwise,
 * a numproc of the VPS's own (or its plan's) kept, and nothing else touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

/* The defaults of a vpsd.conf of text (NULL: none). */
static struct vps_defaults defaults_of(const char *text)
{
        struct vps_daemon_conf c;
        struct vps_defaults d;
        vps_error err;
        vps_daemon_conf_init(&c);
        if (text && vps_daemon_conf_parse(&c, "vpsd.conf", text, &err) < 0)
                fail_msg("%s", err.msg);
        vps_defaults_from_conf(&c, &d);
        return d;
}

static void test_built_in(void **state)
{
        (void)state;
        struct vps_defaults d = defaults_of(NULL);
        assert_int_equal(d.numproc, 4096);
        assert_int_equal(d.ptys, 1024);
        assert_int_equal(d.numproc, VPS_DEFAULT_NUMPROC);
        assert_int_equal(d.ptys, VPS_DEFAULT_DEVPTS_MAX);
}

static void test_from_vpsd_conf(void **state)
{
        (void)state;
        struct vps_defaults d = defaults_of("default_numproc = 300\ndevpts_max = 50\n");
        assert_int_equal(d.numproc, 300);
        assert_int_equal(d.ptys, 50);
        d = defaults_of("default_numproc = unlimited\n");
        assert_int_equal(d.numproc, 0);
        assert_int_equal(d.ptys, 1024);
}

/* A VPS with no limits gets the default numproc; every other limit stays unset. */
static void test_apply_to_none(void **state)
{
        (void)state;
        struct vps_defaults d = defaults_of(NULL);
        struct vps_limits own, eff;
        vps_limits_init(&own);
        assert_true(vps_defaults_apply(&d, &own, &eff));
        assert_int_equal(eff.v[VPS_LIM_NUMPROC], 4096);
        for (int k = 0; k < VPS_LIM_COUNT; k++)
                if (k != VPS_LIM_NUMPROC) {
                        assert_int_equal(eff.v[k], VPS_LIMIT_NONE);
                        assert_int_equal(eff.soft[k], VPS_LIMIT_NONE);
                }
        /* own itself is not changed */
        assert_int_equal(own.v[VPS_LIM_NUMPROC], VPS_LIMIT_NONE);
}

/* A numproc of its own (an option or a plan's) wins, above or below the default; other
 * limits pass through. */
static void test_own_numproc_kept(void **state)
{
        (void)state;
        struct vps_defaults d = defaults_of(NULL);
        struct vps_limits own, eff;
        vps_limits_init(&own);
        own.v[VPS_LIM_NUMPROC] = 30;
        own.v[VPS_LIM_RAM] = 64ull << 20;
        assert_false(vps_defaults_apply(&d, &own, &eff));
        assert_int_equal(eff.v[VPS_LIM_NUMPROC], 30);
        assert_int_equal(eff.v[VPS_LIM_RAM], 64ull << 20);
        own.v[VPS_LIM_NUMPROC] = 100000;
        assert_false(vps_defaults_apply(&d, &own, &eff));
        assert_int_equal(eff.v[VPS_LIM_NUMPROC], 100000);
        /* Limits without numproc still get the default. */
        own.v[VPS_LIM_NUMPROC] = VPS_LIMIT_NONE;
        assert_true(vps_defaults_apply(&d, &own, &eff));
        assert_int_equal(eff.v[VPS_LIM_NUMPROC], 4096);
        assert_int_equal(eff.v[VPS_LIM_RAM], 64ull << 20);
}

/* default_numproc = unlimited: no default, the VPS's limits as they are. */
static void test_unlimited_default(void **state)
{
        (void)state;
        struct vps_defaults d = defaults_of("default_numproc = unlimited\n");
        struct vps_limits own, eff;
        vps_limits_init(&own);
        assert_false(vps_defaults_apply(&d, &own, &eff));
        assert_int_equal(eff.v[VPS_LIM_NUMPROC], VPS_LIMIT_NONE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_built_in),          cmocka_unit_test(test_from_vpsd_conf),
                cmocka_unit_test(test_apply_to_none),     cmocka_unit_test(test_own_numproc_kept),
                cmocka_unit_test(test_unlimited_default),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
