/* Unit tests: the cumulative traffic file and how live counters add to it (net.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

static void test_round_trip(void **state)
{
        struct vps_traffic_file f = {{{1, 2, 3, 4}}, {{5, 6, 7, 8}}, 1700000000}, g;
        char *text = vps_traffic_format(&f);
        assert_non_null(text);
        vps_error err = {0};
        assert_int_equal(vps_traffic_parse(text, &g, &err), 0);
        assert_memory_equal(&f, &g, sizeof(f));
        free(text);
        /* Figures past 2^32 (a month of a busy VPS) stay exact. */
        f.base.v[VPS_TR_RX_BYTES] = 5000000000000ULL;
        text = vps_traffic_format(&f);
        assert_int_equal(vps_traffic_parse(text, &g, &err), 0);
        assert_true(g.base.v[VPS_TR_RX_BYTES] == 5000000000000ULL);
        free(text);
}

static void test_parse_refuses(void **state)
{
        struct vps_traffic_file g;
        vps_error err = {0};
        assert_int_equal(vps_traffic_parse("", &g, &err), -EINVAL);
        assert_int_equal(vps_traffic_parse("[1]", &g, &err), -EINVAL);
        assert_int_equal(vps_traffic_parse("{\"rx_bytes\": -1}", &g, &err), -EINVAL);
        assert_int_equal(vps_traffic_parse("{\"tx_bytes\": \"5\"}", &g, &err), -EINVAL);
        assert_int_equal(vps_traffic_parse("{\"seen\": 3}", &g, &err), -EINVAL);
        /* A file of an older shape: missing keys are 0. */
        assert_int_equal(vps_traffic_parse("{\"rx_bytes\": 7}", &g, &err), 0);
        assert_true(g.base.v[VPS_TR_RX_BYTES] == 7 && g.base.v[VPS_TR_TX_BYTES] == 0);
}

static void test_merge(void **state)
{
        struct vps_traffic_file f = {{{100, 10, 200, 20}}, {{50, 5, 60, 6}}, 0};
        struct vps_traffic total, live = {{70, 7, 80, 8}};
        /* Live counters at or above what was seen: the same counters, grown. */
        assert_false(vps_traffic_merge(&f, &live, &total));
        assert_true(total.v[0] == 170 && total.v[1] == 17 && total.v[2] == 280 && total.v[3] == 28);
        /* No counters (a stopped VPS, or lost): what was seen of them counts. */
        assert_false(vps_traffic_merge(&f, NULL, &total));
        assert_true(total.v[0] == 150 && total.v[2] == 260);
        /* rx below what was seen: a new rx counter; the old one's seen part goes to base,
         * tx is left alone. */
        struct vps_traffic fresh = {{3, 1, 90, 9}};
        assert_true(vps_traffic_merge(&f, &fresh, &total));
        assert_true(f.base.v[0] == 150 && f.base.v[1] == 15 && f.seen.v[0] == 0);
        assert_true(f.base.v[2] == 200 && f.seen.v[2] == 60);
        assert_true(total.v[0] == 153 && total.v[1] == 16 && total.v[2] == 290 && total.v[3] == 29);
        /* Fewer packets alone also means a new counter. */
        struct vps_traffic_file h = {{{0}}, {{0, 0, 10, 5}}, 0};
        struct vps_traffic fewer = {{0, 0, 20, 4}};
        assert_true(vps_traffic_merge(&h, &fewer, &total));
        assert_true(total.v[2] == 30 && total.v[3] == 9);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_merge),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
