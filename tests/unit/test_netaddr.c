/* Unit tests: address parsing and subnet checks of the base layer (vps/netaddr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vps/netaddr.h"

static void test_parse(void **state)
{
        struct ns_addr a;
        vps_error err = {0};
        char buf[64];
        assert_int_equal(ns_addr_parse("10.88.0.5", &a, &err), 0);
        assert_int_equal(a.family, AF_INET);
        assert_int_equal(a.prefix, 32);
        assert_int_equal(ns_addr_parse("2001:db8::5/64", &a, &err), 0);
        assert_int_equal(a.family, AF_INET6);
        assert_int_equal(a.prefix, 64);
        ns_addr_format(&a, buf, sizeof(buf));
        assert_string_equal(buf, "2001:db8::5");
        const char *bad[] = {"",        "10.1.2.300", "10.0.0.1/33", "10.0.0.1/",
                             "::1/129", "x",          "10.0.0.1/2x", NULL};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(ns_addr_parse(bad[i], &a, &err), -EINVAL);
                assert_int_equal(err.code, EINVAL);
        }
}

static void test_subnet(void **state)
{
        struct ns_addr net, a, b;
        vps_error err = {0};
        assert_int_equal(ns_addr_parse("10.88.0.0/16", &net, &err), 0);
        assert_int_equal(ns_addr_parse("10.88.255.7", &a, &err), 0);
        assert_true(ns_addr_in(&a, &net));
        assert_int_equal(ns_addr_parse("10.89.0.1", &a, &err), 0);
        assert_false(ns_addr_in(&a, &net));
        assert_int_equal(ns_addr_parse("10.80.0.0/13", &net, &err), 0); /* 10.80-10.87 */
        assert_int_equal(ns_addr_parse("10.87.1.1", &a, &err), 0);
        assert_true(ns_addr_in(&a, &net));
        assert_int_equal(ns_addr_parse("10.88.1.1", &a, &err), 0);
        assert_false(ns_addr_in(&a, &net));
        assert_int_equal(ns_addr_parse("fd00::1", &b, &err), 0);
        assert_false(ns_addr_in(&b, &net)); /* another family is never inside */
        assert_int_equal(ns_addr_parse("10.88.1.1/24", &b, &err), 0);
        assert_true(ns_addr_equal(&a, &b)); /* equality ignores the prefix */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_subnet),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
