/* Unit tests: finding the cgroup2 mount and our own v2 cgroup in /proc texts (cgroup.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup/cgroup.h"
#include "core/core.h"
#include "net/net.h"

static const char hybrid_mountinfo[] =
        "24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "31 24 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
        "32 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup "
        "cgroup rw,xattr,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
        "35 31 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
        "cgroup rw,memory\n";

static const char v2_mountinfo[] =
        "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
        "26 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
        "27 26 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:3 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot"; /* last line without '\n' */

static void test_find_mount_hybrid(void **state)
{
        char mnt[256] = "";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(hybrid_mountinfo, mnt, sizeof(mnt), &err), 0);
        assert_string_equal(mnt, "/sys/fs/cgroup/unified");
}

static void test_find_mount_v2(void **state)
{
        char mnt[256] = "";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(v2_mountinfo, mnt, sizeof(mnt), &err), 0);
        assert_string_equal(mnt, "/sys/fs/cgroup");
}

static void test_find_mount_optional_fields(void **state)
{
        /* Several optional fields before the separator; "cgroup2" in the mount point of a
         * non-cgroup2 file system must not match. */
        static const char text[] =
                "50 22 0:45 / /srv/cgroup2\\040fake rw shared:5 master:1 - tmpfs cgroup2 rw\n"
                "51 22 0:46 / /mnt/cg rw,relatime shared:6 master:2 propagate_from:1 - cgroup2 "
                "none rw\n";
        char mnt[256] = "";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(text, mnt, sizeof(mnt), &err), 0);
        assert_string_equal(mnt, "/mnt/cg");
}

static void test_find_mount_escaped(void **state)
{
        static const char text[] =
                "60 22 0:50 / /run/my\\040cgroups\\134x rw - cgroup2 cgroup2 rw\n";
        char mnt[256] = "";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(text, mnt, sizeof(mnt), &err), 0);
        assert_string_equal(mnt, "/run/my cgroups\\x");
}

static void test_find_mount_none(void **state)
{
        static const char text[] =
                "31 24 0:27 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
                "32 31 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
        char mnt[256] = "unchanged";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(text, mnt, sizeof(mnt), &err), -ENOENT);
        assert_int_equal(err.code, ENOENT);
        assert_string_equal(mnt, "unchanged");
        assert_int_equal(vps_cgroup_find_mount("", mnt, sizeof(mnt), &err), -ENOENT);
}

static void test_find_mount_too_small(void **state)
{
        char mnt[8] = "";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(hybrid_mountinfo, mnt, sizeof(mnt), &err),
                         -ENAMETOOLONG);
        /* exactly fits: "/sys/fs/cgroup" is 14 characters */
        char fits[15] = "";
        assert_int_equal(vps_cgroup_find_mount(v2_mountinfo, fits, sizeof(fits), &err), 0);
        assert_string_equal(fits, "/sys/fs/cgroup");
}

static void test_parse_self(void **state)
{
        char path[128] = "";
        vps_error err = {0};
        assert_int_equal(vps_cgroup_parse_self("0::/\n", path, sizeof(path), &err), 0);
        assert_string_equal(path, "/");

        static const char hybrid[] = "12:memory:/system.slice/vpsd.service\n"
                                     "11:cpu,cpuacct:/system.slice/vpsd.service\n"
                                     "1:name=systemd:/system.slice/vpsd.service\n"
                                     "0::/system.slice/vpsd.service\n";
        assert_int_equal(vps_cgroup_parse_self(hybrid, path, sizeof(path), &err), 0);
        assert_string_equal(path, "/system.slice/vpsd.service");

        /* No trailing newline. */
        assert_int_equal(vps_cgroup_parse_self("0::/user.slice/x", path, sizeof(path), &err), 0);
        assert_string_equal(path, "/user.slice/x");
}

static void test_parse_self_none(void **state)
{
        char path[128] = "unchanged";
        vps_error err = {0};
        static const char v1only[] = "12:memory:/a\n1:name=systemd:/a\n10::/b\n2::/c\n";
        assert_int_equal(vps_cgroup_parse_self(v1only, path, sizeof(path), &err), -ENOENT);
        assert_int_equal(err.code, ENOENT);
        assert_int_equal(vps_cgroup_parse_self("", path, sizeof(path), &err), -ENOENT);
        assert_string_equal(path, "unchanged");

        char small[4];
        assert_int_equal(vps_cgroup_parse_self("0::/abcd\n", small, sizeof(small), &err),
                         -ENAMETOOLONG);
}

/* The default parent keeps "vps" for the default root; any other root gets a name of its own. */
static void test_default_name(void **state)
{
        (void)state;
        char a[16], b[16], c[16];
        vps_cgroup_default_name("/var/lib/vps", a, sizeof(a));
        assert_string_equal(a, "vps");
        vps_cgroup_default_name("/srv/vps-a", b, sizeof(b));
        vps_cgroup_default_name("/srv/vps-b", c, sizeof(c));
        assert_int_equal(strlen(b), 12);
        assert_memory_equal(b, "vps-", 4);
        assert_string_not_equal(b, c);
}

static void test_claim_conflicts(void **state)
{
        (void)state;
        assert_true(vps_claim_conflicts(VPS_CLAIM_BRIDGE, "vpsbr0", "vpsbr0"));
        assert_false(vps_claim_conflicts(VPS_CLAIM_BRIDGE, "vpsbr0", "vpsbr1"));
        assert_true(vps_claim_conflicts(VPS_CLAIM_SUBNET, "10.88.0.0/16", "10.88.5.0/24"));
        assert_true(vps_claim_conflicts(VPS_CLAIM_SUBNET, "10.88.5.0/24", "10.88.0.0/16"));
        assert_false(vps_claim_conflicts(VPS_CLAIM_SUBNET, "10.88.0.0/24", "10.88.1.0/24"));
        assert_true(
                vps_claim_conflicts(VPS_CLAIM_CGROUP, "/sys/fs/cgroup/vps", "/sys/fs/cgroup/vps"));
        assert_true(vps_claim_conflicts(VPS_CLAIM_CGROUP, "/sys/fs/cgroup/vps",
                                        "/sys/fs/cgroup/vps/x"));
        assert_false(vps_claim_conflicts(VPS_CLAIM_CGROUP, "/sys/fs/cgroup/vps",
                                         "/sys/fs/cgroup/vps-1"));
}

/* The default bridge keeps the old names; another one tags them, within IFNAMSIZ. */
static void test_veth_names(void **state)
{
        (void)state;
        struct vps_netconf d, o;
        vps_error err;
        assert_int_equal(vps_net_configure(&d, VPS_DEFAULT_BRIDGE, "10.88.0.0/16", &err), 0);
        assert_int_equal(vps_net_configure(&o, "vpsbr7", "10.89.0.0/16", &err), 0);
        char n[IFNAMSIZ], m[IFNAMSIZ];
        vps_net_veth_name(&d, "203", n);
        assert_string_equal(n, "veth203.0");
        vps_net_veth_name(&o, "203", m);
        assert_string_not_equal(n, m);
        assert_int_equal(strlen(m), 10);
        assert_true(m[0] == 'v' && strcmp(m + 5, "203.0") == 0);
        vps_net_veth_name(&o, "a-very-long-vps-name", m);
        assert_true(strlen(m) < IFNAMSIZ && m[5] == '.');
        vps_net_veth_name(&o, "12345678", m);
        assert_int_equal(strlen(m), 15);
}

static void test_parse_v1(void **state)
{
        /* This host's /proc/cgroups: a hybrid boot, controllers on v1 hierarchies. */
        static const char hybrid[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                                     "cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\n"
                                     "blkio\t7\t1\t1\nmemory\t4\t28\t1\n"
                                     "net_cls\t0\t39\t1\npids\t0\t39\t1\n";
        char v1[64];
        vps_cgroup_parse_v1(hybrid, v1, sizeof(v1));
        /* pids on hierarchy 0 is v2's (or nobody's); blkio is v1's name of io. */
        assert_string_equal(v1, "cpuset cpu io memory");
        static const char unified[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                                      "memory\t0\t80\t1\npids\t0\t80\t1\nio\t0\t80\t1\n";
        vps_cgroup_parse_v1(unified, v1, sizeof(v1));
        assert_string_equal(v1, "");
        vps_cgroup_parse_v1("", v1, sizeof(v1));
        assert_string_equal(v1, "");
        char small[8];
        vps_cgroup_parse_v1(hybrid, small, sizeof(small));
        assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_name),
                cmocka_unit_test(test_claim_conflicts),
                cmocka_unit_test(test_veth_names),
                cmocka_unit_test(test_find_mount_hybrid),
                cmocka_unit_test(test_find_mount_v2),
                cmocka_unit_test(test_find_mount_optional_fields),
                cmocka_unit_test(test_find_mount_escaped),
                cmocka_unit_test(test_find_mount_none),
                cmocka_unit_test(test_find_mount_too_small),
                cmocka_unit_test(test_parse_self),
                cmocka_unit_test(test_parse_self_none),
                cmocka_unit_test(test_parse_v1),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
