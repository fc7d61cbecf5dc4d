/* Unit tests: criu's network lock taken away (checkpoint/netlock.c). A process of the test's
 * own holds a fresh network namespace (root only; skipped otherwise) with a table like
 * criu's, a table of the guest's and one named like criu's in another family; only the inet
 * CRIU-... tables go. The host's own namespace is refused before anything is read. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint/checkpoint.h"
#include "netsetup/netsetup.h"
#include "vps/nsrun.h"
#include "vps/syscalls.h"
#include "netns_holder.h"

#include <linux/netfilter.h> /* after glibc's netinet/in.h */

static void test_names(void **state)
{
        (void)state;
        assert_true(vps_criu_lock_table("CRIU-123"));
        assert_true(vps_criu_lock_table("CRIU-1c3e5a2b-08f9-4d1e-9a6b"));
        assert_false(vps_criu_lock_table("CRIU"));
        assert_false(vps_criu_lock_table("criu-1"));
        assert_false(vps_criu_lock_table("vps-filter"));
        assert_false(vps_criu_lock_table(""));
}

static int make_tables(void *arg, vps_error *err)
{
        (void)arg;
        return ns_nft_run("add table inet CRIU-123\n"
                          "add table inet CRIU-1c3e5a2b-08f9-4d1e-9a6b\n"
                          "add table inet keep\n"
                          "add table ip CRIU-9\n",
                          err);
}

struct seen {
        char names[512];
};

static void collect(const char *name, void *arg)
{
        struct seen *s = arg;
        size_t len = strlen(s->names);
        (void)snprintf(s->names + len, sizeof(s->names) - len, "%s ", name);
}

static int list_inet(void *arg, vps_error *err)
{
        struct seen *s = arg;
        s->names[0] = '\0';
        int r = ns_nft_tables(NFPROTO_INET, collect, s, err);
        if (r == 0)
                r = ns_nft_tables(NFPROTO_IPV4, collect, s, err);
        /* The child's memory is its own: the names come back in the error's message. */
        return r < 0 ? r : vps_err(err, EEXIST, "%s", s->names);
}

static void tables_in(char *ret, size_t size)
{
        struct seen s;
        vps_error e;
        int r = vps_ns_run("t1", holder_pidfd, CLONE_NEWNET, "listing", list_inet, &s, &e);
        assert_int_equal(r, -EEXIST);
        (void)snprintf(ret, size, "%s", e.msg);
}

static void test_removes_criu_tables_only(void **state)
{
        (void)state;
        vps_error e;
        int r = vps_ns_run("t1", holder_pidfd, CLONE_NEWNET, "making tables", make_tables, NULL,
                           &e);
        if (r < 0)
                fail_msg("making the tables: %s", e.msg);
        char before[1024], after[1024];
        tables_in(before, sizeof(before));
        assert_non_null(strstr(before, "CRIU-123 "));

        struct vps_criu_locks gone;
        r = vps_checkpoint_net_unlock("t1", holder_pidfd, &gone, &e);
        if (r < 0)
                fail_msg("unlocking: %s", e.msg);
        assert_int_equal(gone.n, 2);
        assert_string_equal(gone.name[0], "CRIU-123");
        assert_string_equal(gone.name[1], "CRIU-1c3e5a2b-08f9-4d1e-9a6b");

        tables_in(after, sizeof(after));
        /* inet: keep stays; ip's CRIU-9 (not criu's family) stays. */
        assert_string_equal(after, "keep CRIU-9 ");

        /* Nothing left: a second run removes nothing and succeeds. */
        r = vps_checkpoint_net_unlock("t1", holder_pidfd, &gone, &e);
        assert_int_equal(r, 0);
        assert_int_equal(gone.n, 0);
}

static int make_many(void *arg, vps_error *err)
{
        (void)arg;
        char cmds[1024] = "";
        for (int i = 0; i < 3 * VPS_CRIU_LOCKS_MAX + 1; i++) {
                size_t len = strlen(cmds);
                (void)snprintf(cmds + len, sizeof(cmds) - len, "add table inet CRIU-g%d\n", i);
        }
        return ns_nft_run(cmds, err);
}

/* A guest that made more tables named like criu's than one listing takes does not keep
 * criu's lock behind them: every one goes (the first VPS_CRIU_LOCKS_MAX are named). */
static void test_removes_more_than_one_listing(void **state)
{
        (void)state;
        vps_error e;
        int r = vps_ns_run("t1", holder_pidfd, CLONE_NEWNET, "making tables", make_many, NULL, &e);
        if (r < 0)
                fail_msg("making the tables: %s", e.msg);
        struct vps_criu_locks gone;
        r = vps_checkpoint_net_unlock("t1", holder_pidfd, &gone, &e);
        if (r < 0)
                fail_msg("unlocking: %s", e.msg);
        assert_int_equal(gone.n, VPS_CRIU_LOCKS_MAX);
        char after[1024];
        tables_in(after, sizeof(after));
        assert_null(strstr(after, "CRIU-g"));
}

static void test_refuses_host_netns(void **state)
{
        (void)state;
        /* Our own pidfd: its network namespace is the host's (the test's). */
        int self = vps_sys_pidfd_open(getpid(), 0);
        assert_true(self >= 0);
        struct vps_criu_locks gone;
        vps_error e;
        int r = vps_checkpoint_net_unlock("t2", self, &gone, &e);
        close(self);
        assert_int_equal(r, -EPERM);
        assert_int_equal(gone.n, 0);
        assert_non_null(strstr(e.msg, "host's"));
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root (a network namespace of its own)\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_removes_criu_tables_only),
                cmocka_unit_test(test_removes_more_than_one_listing),
                cmocka_unit_test(test_refuses_host_netns),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
