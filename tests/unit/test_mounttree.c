/* Unit tests: a mountinfo table and which proc and sysfs trees a resume locks
 * (checkpoint/mounttree.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/checkpoint.h"

/* A resumed VPS's namespace as criu makes it: /proc and /sys with masks, binds and views,
 * the guest's cgroup2 on /sys, a nesting VPS's bare /dev/.vps/proc, and a recursive bind of
 * /proc the guest made elsewhere (in a directory whose name has a space). */
static const char tree[] =
        "200 150 0:50 / / rw,relatime shared:1 - overlay overlay rw\n"
        "201 200 0:51 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
        "202 201 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw\n"
        "203 201 0:51 /sys /proc/sys ro,relatime - proc proc rw\n"
        "204 203 0:60 /boot-id /proc/sys/kernel/random/boot_id ro - tmpfs tmpfs rw\n"
        "205 200 0:52 / /sys ro,nosuid,nodev,noexec,relatime master:7 - sysfs sysfs ro\n"
        "206 205 0:53 / /sys/firmware ro - tmpfs tmpfs ro\n"
        "207 205 0:54 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
        "208 200 0:55 / /dev rw - tmpfs tmpfs rw\n"
        "209 208 0:56 / /dev/.vps/proc rw - proc proc rw\n"
        "210 200 0:57 / /mnt/a\\040b rw shared:3 - tmpfs tmpfs rw\n"
        "211 210 0:51 / /mnt/a\\040b/proc rw - proc proc rw\n"
        "212 211 0:5 /null /mnt/a\\040b/proc/kcore rw - devtmpfs udev rw\n";

/* text parsed into *t (which points into the copy returned, to be freed after t). */
static char *parse(const char *text, struct vps_mnt_table *t)
{
        char *copy = strdup(text);
        vps_error err;
        assert_non_null(copy);
        assert_int_equal(vps_mnt_table_parse(copy, t, &err), 0);
        return copy;
}

static void test_parse(void **state)
{
        (void)state;
        struct vps_mnt_table t;
        char *text = parse(tree, &t);
        assert_int_equal(t.n, 13);
        const struct vps_mnt *m = vps_mnt_find(&t, 205);
        assert_non_null(m);
        assert_int_equal(m->parent, 200);
        assert_string_equal(m->fstype, "sysfs");
        assert_true(m->slave);
        assert_false(m->shared);
        assert_true(vps_mnt_find(&t, 200)->shared);
        assert_string_equal(vps_mnt_find(&t, 211)->mountpoint, "/mnt/a b/proc");
        assert_null(vps_mnt_find(&t, 999));
        vps_mnt_table_free(&t);
        free(text);
}

static void test_targets(void **state)
{
        (void)state;
        struct vps_mnt_table t;
        char *text = parse(tree, &t);
        size_t idx[8];
        /* /proc, /sys and the guest's bind; not /proc/sys (under /proc), nor the bare one. */
        assert_int_equal(vps_mnt_lock_targets(&t, idx, 8), 3);
        assert_string_equal(t.m[idx[0]].mountpoint, "/proc");
        assert_string_equal(t.m[idx[1]].mountpoint, "/sys");
        assert_string_equal(t.m[idx[2]].mountpoint, "/mnt/a b/proc");
        /* The trees' sizes (what a copy must have again). */
        assert_int_equal(vps_mnt_subtree_size(&t, 201), 4);
        assert_int_equal(vps_mnt_subtree_size(&t, 205), 3);
        assert_int_equal(vps_mnt_subtree_size(&t, 209), 1);
        assert_int_equal(vps_mnt_subtree_size(&t, 200), 13);
        assert_int_equal(vps_mnt_subtree_size(&t, 999), 0);
        /* Fewer asked for: the count stays. */
        assert_int_equal(vps_mnt_lock_targets(&t, idx, 1), 3);
        assert_string_equal(t.m[idx[0]].mountpoint, "/proc");
        vps_mnt_table_free(&t);
        free(text);
}

/* What a lock leaves, dumped and restored: the proc copy on a bind of the root's own /proc
 * directory (which goes, the proc locked on the root again); not a bind of another
 * directory, nor one with more on it. */
static const char relocked[] = "300 150 0:50 / / rw shared:1 - overlay overlay rw\n"
                               "301 300 0:50 /proc /proc rw shared:2 - overlay overlay rw\n"
                               "302 301 0:51 / /proc rw - proc proc rw\n"
                               "303 302 0:5 /null /proc/kcore rw - devtmpfs udev rw\n"
                               "304 300 0:50 /srv /sys rw - overlay overlay rw\n"
                               "305 304 0:52 / /sys rw - sysfs sysfs rw\n"
                               "306 305 0:53 / /sys/firmware ro - tmpfs tmpfs ro\n"
                               "307 300 0:55 / /mnt rw - tmpfs tmpfs rw\n"
                               "308 307 0:55 /mnt /mnt rw - tmpfs tmpfs rw\n"
                               "309 308 0:51 / /mnt rw - proc proc rw\n"
                               "310 309 0:5 /null /mnt/kcore rw - devtmpfs udev rw\n"
                               "311 308 0:55 / /mnt/x rw - tmpfs tmpfs rw\n";

static void test_lock_parent(void **state)
{
        (void)state;
        struct vps_mnt_table t;
        char *text = parse(relocked, &t);
        assert_string_equal(vps_mnt_find(&t, 301)->root, "/proc");
        assert_string_equal(vps_mnt_find(&t, 301)->dev, "0:50");
        const struct vps_mnt *skip, *p = vps_mnt_lock_parent(&t, vps_mnt_find(&t, 302), &skip);
        assert_int_equal(p->id, 300);
        assert_int_equal(skip->id, 301);
        assert_string_equal(vps_mnt_rel_path(p, vps_mnt_find(&t, 302)), "proc");
        /* /srv bound on /sys: another directory, kept. */
        p = vps_mnt_lock_parent(&t, vps_mnt_find(&t, 305), &skip);
        assert_int_equal(p->id, 304);
        assert_null(skip);
        assert_string_equal(vps_mnt_rel_path(p, vps_mnt_find(&t, 305)), ".");
        /* A self-bind with more on it than the proc: kept. */
        p = vps_mnt_lock_parent(&t, vps_mnt_find(&t, 309), &skip);
        assert_int_equal(p->id, 308);
        assert_null(skip);
        assert_null(vps_mnt_lock_parent(&t, vps_mnt_find(&t, 300), &skip));
        vps_mnt_table_free(&t);
        free(text);
}

static void test_damaged(void **state)
{
        (void)state;
        const char *bad[] = {
                "12 1 0:5 / /x rw - \n",                 /* no type */
                "x 1 0:5 / /x rw - proc proc rw\n",      /* id */
                "12 1 0:5 / /x\\09 rw - proc proc rw\n", /* escape */
                "12 1 0:5 / x rw - proc proc rw\n",      /* relative */
                "12 1 0:5 / /x rw shared:1\n",           /* no separator */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *text = strdup(bad[i]);
                struct vps_mnt_table t;
                vps_error err;
                assert_int_equal(vps_mnt_table_parse(text, &t, &err), -EBADMSG);
                assert_null(t.m);
                free(text);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_targets),
                cmocka_unit_test(test_lock_parent),
                cmocka_unit_test(test_damaged),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
