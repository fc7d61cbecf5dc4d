/* Unit tests: netsetup's rtnetlink requests against the kernel, in a network namespace of
 * the test's own (root only; skipped otherwise): ACKs, errno, and the kernel's extended-ack
 * text in the error message. */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netsetup/netsetup.h"

static void test_ack(void **state)
{
        (void)state;
        vps_error err = {0};
        unsigned int lo = if_nametoindex("lo");
        assert_true(lo > 0);
        assert_int_equal(ns_link_set_flags(lo, IFF_UP, IFF_UP, &err), 0);
        struct ns_addr a;
        assert_int_equal(ns_addr_parse("192.0.2.5/32", &a, &err), 0);
        assert_int_equal(ns_addr_add(lo, &a, &err), 0);
        /* Asked for with NLM_F_EXCL: a second add is the kernel's EEXIST, not a silent 0. */
        assert_int_equal(ns_addr_add(lo, &a, &err), -EEXIST);
        assert_int_equal(err.code, EEXIST);
        assert_non_null(strstr(err.msg, "adding an address"));
        assert_int_equal(ns_addr_del(lo, &a, &err), 0);
        assert_int_equal(ns_addr_del(lo, &a, &err), -EADDRNOTAVAIL);
}

static void test_extack(void **state)
{
        (void)state;
        vps_error err = {0};
        unsigned int lo = if_nametoindex("lo");
        assert_int_equal(ns_link_set_flags(lo, 0, IFF_UP, &err), 0);
        struct ns_addr gw;
        assert_int_equal(ns_addr_parse("10.0.0.1", &gw, &err), 0);
        /* An on-link default route through a device that is down: the kernel says why in its
         * extended ACK, and the error carries that text and the errno. */
        int r = ns_route_default(lo, &gw, true, &err);
        assert_true(r < 0);
        assert_int_equal(err.code, -r);
        assert_non_null(strstr(err.msg, "Nexthop device is not up"));
        assert_non_null(strstr(err.msg, strerror(err.code)));
}

int main(void)
{
        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
                printf("SKIP: needs root (a network namespace of its own)\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ack),
                cmocka_unit_test(test_extack),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
