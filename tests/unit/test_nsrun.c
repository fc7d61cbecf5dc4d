/* Unit tests: vps_ns_run, the one way into a running VPS's namespaces. A process of the test's
 * own holds a fresh network namespace (root only; skipped otherwise); what fails in there must
 * come back whole, errno and message, as the function inside said it. */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net.h"
#include "vps/syscalls.h"
#include "netns_holder.h"
#include "vps/nsrun.h"

static ino_t netns_ino(void)
{
        struct stat st;
        return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

/* Refuses to run anywhere but in another network namespace than arg's. */
static int elsewhere(void *arg, vps_error *err)
{
        if (netns_ino() == *(ino_t *)arg)
                return vps_err(err, EXDEV, "still in the caller's network namespace");
        return 0;
}

static void test_enters(void **state)
{
        (void)state;
        vps_error err = {0};
        ino_t own = netns_ino();
        assert_int_equal(
                vps_ns_run("t1", holder_pidfd, CLONE_NEWNET, "testing", elsewhere, &own, &err), 0);
}

/* The kernel's refusal inside (the address was never there) with netsetup's words. */
static int del_missing(void *arg, vps_error *err)
{
        int r = elsewhere(arg, err);
        if (r < 0)
                return r;
        struct ns_addr a;
        if ((r = ns_addr_parse("192.0.2.77/32", &a, err)) < 0)
                return r;
        return ns_addr_del(if_nametoindex("lo"), &a, err);
}

static void test_kernel_error_whole(void **state)
{
        (void)state;
        vps_error err = {0};
        ino_t own = netns_ino();
        assert_int_equal(
                vps_ns_run("t1", holder_pidfd, CLONE_NEWNET, "testing", del_missing, &own, &err),
                -EADDRNOTAVAIL);
        assert_int_equal(err.code, EADDRNOTAVAIL);
        assert_non_null(strstr(err.msg, "192.0.2.77"));
        assert_non_null(strstr(err.msg, strerror(EADDRNOTAVAIL)));
}

/* A VPS's own start step, run in a namespace without eth0: its message, not a step number. */
static int setup_eth0(void *arg, vps_error *err)
{
        struct vps_net_child nc = {.n = 1};
        int r = ns_addr_parse("10.1.2.3/24", &nc.addr[0], err);
        (void)arg;
        return r < 0 ? r : vps_net_child_setup(&nc, err);
}

static void test_library_error_whole(void **state)
{
        (void)state;
        vps_error err = {0};
        assert_int_equal(
                vps_ns_run("t1", holder_pidfd, CLONE_NEWNET, "testing", setup_eth0, NULL, &err),
                -ENODEV);
        char want[128];
        (void)snprintf(want, sizeof(want), "finding eth0: %s", strerror(ENODEV));
        assert_string_equal(err.msg, want);
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root (a network namespace of its own)\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_enters),
                cmocka_unit_test(test_kernel_error_whole),
                cmocka_unit_test(test_library_error_whole),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
