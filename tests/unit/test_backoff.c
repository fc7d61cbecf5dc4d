/* Unit tests: the back-off of restarts a guest asks for (backoff.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vps/backoff.h"

static const struct vps_backoff_policy pol = {5, 10, 300};

static void test_burst_then_doubling(void **state)
{
        struct vps_backoff b = {0};
        /* A reboot loop: five restarts go through at once, then 1, 2, 4... s up to the cap. */
        for (int i = 0; i < 5; i++)
                assert_int_equal(vps_backoff_next(&b, &pol, 100, 0), 0);
        unsigned int want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
        int64_t now = 100;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                unsigned int d = vps_backoff_next(&b, &pol, now, 0);
                assert_int_equal(d, want[i]);
                now += d; /* far apart, yet each run was short: the wait keeps growing */
        }
        assert_int_equal(b.restarts, 16);
}

static void test_slow_restarts_never_wait(void **state)
{
        struct vps_backoff b = {0};
        /* One reboot every 3 s, each run short: at most 4 in a 10 s window. */
        for (int64_t t = 0; t < 300; t += 3)
                assert_int_equal(vps_backoff_next(&b, &pol, t, 2), 0);
}

static void test_long_run_forgets(void **state)
{
        struct vps_backoff b = {0};
        for (int i = 0; i < 8; i++)
                (void)vps_backoff_next(&b, &pol, 50, 0);
        assert_true(b.delay_s > 0);
        /* It then ran 10 s: a reboot as any server does, at once, and the count starts over. */
        assert_int_equal(vps_backoff_next(&b, &pol, 100, 10), 0);
        assert_int_equal(b.restarts, 1);
        assert_int_equal(b.delay_s, 0);
}

static void test_tiny_cap(void **state)
{
        const struct vps_backoff_policy p = {1, 10, 1};
        struct vps_backoff b = {0};
        assert_int_equal(vps_backoff_next(&b, &p, 0, 0), 0);
        for (int i = 0; i < 40; i++) /* no overflow of the doubling */
                assert_int_equal(vps_backoff_next(&b, &p, 0, 0), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_burst_then_doubling),
                cmocka_unit_test(test_slow_restarts_never_wait),
                cmocka_unit_test(test_long_run_forgets),
                cmocka_unit_test(test_tiny_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
