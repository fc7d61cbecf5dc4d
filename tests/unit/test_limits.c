/* Unit tests: VPS limits (config.h): parsing, JSON, and the cgroup files that enforce them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"

static void test_parse(void **state)
{
        vps_error err = {0};
        uint64_t v = 0;
        assert_int_equal(vps_limit_parse(VPS_LIM_RAM, "1G", &v, &err), 0);
        assert_true(v == 1073741824ULL);
        assert_int_equal(vps_limit_parse(VPS_LIM_RAM, "unlimited", &v, &err), 0);
        assert_true(v == VPS_LIMIT_NONE);
        assert_int_equal(vps_limit_parse(VPS_LIM_SWAP, "0", &v, &err), 0);
        assert_true(v == 0);
        assert_int_equal(vps_limit_parse(VPS_LIM_NUMPROC, "100", &v, &err), 0);
        assert_true(v == 100);
        /* Too small a RAM limit would only make the VPS unusable. */
        assert_int_equal(vps_limit_parse(VPS_LIM_RAM, "1K", &v, &err), -ERANGE);
        assert_int_equal(vps_limit_parse(VPS_LIM_NUMPROC, "0", &v, &err), -ERANGE);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUUNITS, "10001", &v, &err), -ERANGE);
        assert_int_equal(vps_limit_parse(VPS_LIM_NUMPROC, "12x", &v, &err), -EINVAL);
        assert_int_equal(vps_limit_parse(VPS_LIM_NUMPROC, "-1", &v, &err), -EINVAL);
        assert_int_equal(vps_limit_parse(VPS_LIM_RAM, "64Q", &v, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "'ram'"));
}

static void test_update_and_json(void **state)
{
        struct vps_limits l;
        vps_limits_init(&l);
        vps_error err = {0};
        json_t *ch = json_pack("{s:s, s:i, s:n}", "ram", "512M", "numproc", 64, "swap");
        assert_int_equal(vps_limits_update(&l, ch, &err), 0);
        json_decref(ch);
        assert_true(l.v[VPS_LIM_RAM] == 512ULL << 20);
        assert_true(l.v[VPS_LIM_NUMPROC] == 64);
        assert_true(l.v[VPS_LIM_SWAP] == VPS_LIMIT_NONE);
        json_t *j = vps_limits_to_json(&l);
        struct vps_limits back;
        assert_int_equal(vps_limits_from_json(&back, j, &err), 0);
        assert_memory_equal(&back, &l, sizeof(l));
        json_decref(j);
        /* All or nothing: one bad key leaves the limits untouched. */
        struct vps_limits before = l;
        ch = json_pack("{s:s, s:s}", "ram", "1G", "bogus", "1");
        assert_int_equal(vps_limits_update(&l, ch, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "bogus"));
        json_decref(ch);
        assert_memory_equal(&before, &l, sizeof(l));
}

/* --diskspace SOFT[:HARD], vzctl's barrier:limit. */
static void test_pairs(void **state)
{
        vps_error err = {0};
        uint64_t s = 0, h = 0;
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "10G", &s, &h, &err), 0);
        assert_true(s == 10ULL << 30 && h == 10ULL << 30);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "10G:11G", &s, &h, &err), 0);
        assert_true(s == 10ULL << 30 && h == 11ULL << 30);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKINODES, "unlimited:5000", &s, &h, &err),
                         0);
        assert_true(s == VPS_LIMIT_NONE && h == 5000);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "unlimited", &s, &h, &err), 0);
        assert_true(s == VPS_LIMIT_NONE && h == VPS_LIMIT_NONE);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "2G:1G", &s, &h, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "soft limit 2G is above the hard limit 1G"));
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "1G:unlimited", &s, &h, &err),
                         -EINVAL);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "1G:", &s, &h, &err), -EINVAL);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, ":1G", &s, &h, &err), -EINVAL);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "1G:2G:3G", &s, &h, &err),
                         -EINVAL);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKSPACE, "1K", &s, &h, &err), -ERANGE);
        assert_int_equal(vps_limit_parse_pair(VPS_LIM_DISKINODES, "99", &s, &h, &err), -ERANGE);

        /* JSON both ways: a string pair, an object, and back through config JSON. */
        struct vps_limits l;
        vps_limits_init(&l);
        assert_false(vps_limits_have_disk(&l));
        json_t *ch = json_pack("{s:s, s:{s:i, s:s}}", "diskspace", "1G:2G", "diskinodes", "soft",
                               1000, "hard", "2000");
        assert_int_equal(vps_limits_update(&l, ch, &err), 0);
        json_decref(ch);
        assert_true(vps_limits_have_disk(&l));
        assert_true(l.soft[VPS_LIM_DISKSPACE] == 1ULL << 30 &&
                    l.v[VPS_LIM_DISKSPACE] == 2ULL << 30);
        assert_true(l.soft[VPS_LIM_DISKINODES] == 1000 && l.v[VPS_LIM_DISKINODES] == 2000);
        json_t *j = vps_limits_to_json(&l);
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(j, "diskspace"), "hard")),
                2LL << 30);
        struct vps_limits back;
        assert_int_equal(vps_limits_from_json(&back, j, &err), 0);
        assert_memory_equal(&back, &l, sizeof(l));
        json_decref(j);
        /* A misspelt key is refused, not read as "no soft limit"; nothing changes. */
        ch = json_pack("{s:{s:s, s:s}}", "diskspace", "sofd", "1G", "hard", "2G");
        assert_int_equal(vps_limits_update(&l, ch, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "takes {\"soft\": N, \"hard\": N}"));
        json_decref(ch);
        assert_true(l.soft[VPS_LIM_DISKSPACE] == 1ULL << 30);
        /* Disk limits are not cgroup files. */
        const char *f[VPS_LIMIT_FILES_MAX], *c[VPS_LIMIT_FILES_MAX];
        char v[VPS_LIMIT_FILES_MAX][VPS_LIMIT_VALUE_MAX];
        struct vps_limit_host host = {4, "8:0"};
        assert_int_equal(vps_limits_files(&l, NULL, &host, f, v, c), 0);
        /* A config with a bare number where a pair belongs is refused. */
        j = json_pack("{s:i}", "diskspace", 5);
        assert_int_equal(vps_limits_from_json(&back, j, &err), -EBADMSG);
        json_decref(j);
}

static const char *value_of(const struct vps_limits *l, const struct vps_limits *old,
                            unsigned int ncpu, const char *file, char out[VPS_LIMIT_VALUE_MAX])
{
        const char *f[VPS_LIMIT_FILES_MAX], *c[VPS_LIMIT_FILES_MAX];
        char v[VPS_LIMIT_FILES_MAX][VPS_LIMIT_VALUE_MAX];
        struct vps_limit_host host = {ncpu, "8:0"};
        int n = vps_limits_files(l, old, &host, f, v, c);
        for (int i = 0; i < n; i++)
                if (strcmp(f[i], file) == 0) {
                        strcpy(out, v[i]);
                        return out;
                }
        return NULL;
}

static void test_files(void **state)
{
        struct vps_limits l, old;
        vps_limits_init(&l);
        char buf[VPS_LIMIT_VALUE_MAX];
        assert_null(value_of(&l, NULL, 4, "memory.max", buf)); /* nothing set, nothing written */
        l.v[VPS_LIM_RAM] = 50 << 20;
        l.v[VPS_LIM_SWAP] = 0;
        assert_string_equal(value_of(&l, NULL, 4, "memory.max", buf), "52428800");
        assert_string_equal(value_of(&l, NULL, 4, "memory.swap.max", buf), "0");
        l.v[VPS_LIM_CPUS] = 100;    /* hundredths */
        l.v[VPS_LIM_CPULIMIT] = 50; /* half a CPU wins over one CPU */
        assert_string_equal(value_of(&l, NULL, 4, "cpu.max", buf), "50000 100000");
        l.v[VPS_LIM_CPULIMIT] = 250; /* 2.5 CPUs: --cpus 1 wins */
        assert_string_equal(value_of(&l, NULL, 4, "cpu.max", buf), "100000 100000");
        l.v[VPS_LIM_CPUS] = 800; /* more than the host has: no quota from --cpus */
        assert_string_equal(value_of(&l, NULL, 4, "cpu.max", buf), "250000 100000");
        l.v[VPS_LIM_CPULIMIT] = VPS_LIMIT_NONE;
        l.v[VPS_LIM_CPUS] = 50; /* --cpus 0.5 */
        assert_string_equal(value_of(&l, NULL, 4, "cpu.max", buf), "50000 100000");
        l.v[VPS_LIM_CPUMASK] = 1;
        strcpy(l.cpumask, "0-1,3");
        assert_string_equal(value_of(&l, NULL, 4, "cpuset.cpus", buf), "0-1,3");
        l.v[VPS_LIM_IOLIMIT] = 10 << 20;
        assert_string_equal(value_of(&l, NULL, 4, "io.max", buf),
                            "8:0 rbps=10485760 wbps=10485760 riops=max wiops=max");
        l.v[VPS_LIM_IOPSLIMIT] = 300;
        assert_string_equal(value_of(&l, NULL, 4, "io.max", buf),
                            "8:0 rbps=10485760 wbps=10485760 riops=300 wiops=300");
        l.v[VPS_LIM_IOPRIO] = 7;
        assert_string_equal(value_of(&l, NULL, 4, "io.weight", buf), "default 800");
        l.v[VPS_LIM_OOMPOLICY] = 1;
        assert_string_equal(value_of(&l, NULL, 4, "memory.oom.group", buf), "1");
        /* Removing limits writes "max" and the default weight back. */
        old = l;
        old.v[VPS_LIM_NUMPROC] = 10;
        old.v[VPS_LIM_CPUUNITS] = 500;
        vps_limits_init(&l);
        assert_string_equal(value_of(&l, &old, 4, "pids.max", buf), "max");
        assert_string_equal(value_of(&l, &old, 4, "memory.max", buf), "max");
        assert_string_equal(value_of(&l, &old, 4, "cpu.weight", buf), "100");
        assert_string_equal(value_of(&l, &old, 4, "cpu.max", buf), "max 100000");
        assert_string_equal(value_of(&l, &old, 4, "cpuset.cpus", buf), "0-3");
        assert_string_equal(value_of(&l, &old, 4, "io.max", buf),
                            "8:0 rbps=max wbps=max riops=max wiops=max");
        assert_string_equal(value_of(&l, &old, 4, "io.weight", buf), "default 100");
        assert_string_equal(value_of(&l, &old, 4, "memory.oom.group", buf), "0");
}

/* The new kinds: decimal CPUs, CPU lists, words, and their JSON both ways. */
static void test_kinds(void **state)
{
        vps_error err = {0};
        uint64_t v = 0;
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "0.5", &v, &err), 0);
        assert_true(v == 50);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "2", &v, &err), 0);
        assert_true(v == 200);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "1.25", &v, &err), 0);
        assert_true(v == 125);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "0.001", &v, &err), -EINVAL);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "0", &v, &err), -ERANGE);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "-1", &v, &err), -EINVAL);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUS, "1.", &v, &err), -EINVAL);
        assert_int_equal(vps_limit_parse(VPS_LIM_OOMPOLICY, "restart", &v, &err), 0);
        assert_true(v == 1);
        assert_int_equal(vps_limit_parse(VPS_LIM_OOMPOLICY, "reboot", &v, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "process or restart"));
        assert_int_equal(vps_limit_parse(VPS_LIM_IOPRIO, "8", &v, &err), -ERANGE);
        assert_int_equal(vps_limit_parse(VPS_LIM_IOLIMIT, "10M", &v, &err), 0);
        assert_true(v == 10 << 20);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUMASK, "0", &v, &err), 0);
        static const char *const bad_masks[] = {"", "a", "1-0", "0,", ",0", "0-", "0--1", "0 1"};
        for (size_t i = 0; i < sizeof(bad_masks) / sizeof(bad_masks[0]); i++)
                if (vps_limit_parse(VPS_LIM_CPUMASK, bad_masks[i], &v, &err) != -EINVAL)
                        fail_msg("cpumask '%s' accepted", bad_masks[i]);
        assert_int_equal(vps_limit_parse(VPS_LIM_CPUMASK, "0-99999", &v, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "does not exist on this host"));

        struct vps_limits l;
        vps_limits_init(&l);
        json_t *ch = json_pack("{s:f, s:s, s:s, s:i}", "cpus", 1.5, "cpumask", "0,0", "oompolicy",
                               "restart", "ioprio", 6);
        assert_int_equal(vps_limits_update(&l, ch, &err), 0);
        json_decref(ch);
        assert_true(l.v[VPS_LIM_CPUS] == 150);
        assert_string_equal(l.cpumask, "0"); /* canonical */
        assert_true(l.v[VPS_LIM_OOMPOLICY] == 1 && l.v[VPS_LIM_IOPRIO] == 6);
        json_t *j = vps_limits_to_json(&l);
        assert_true(json_real_value(json_object_get(j, "cpus")) == 1.5);
        assert_string_equal(json_string_value(json_object_get(j, "cpumask")), "0");
        assert_string_equal(json_string_value(json_object_get(j, "oompolicy")), "restart");
        struct vps_limits back;
        assert_int_equal(vps_limits_from_json(&back, j, &err), 0);
        assert_memory_equal(&back, &l, sizeof(l));
        json_decref(j);
        /* Whole CPUs stay integers in config.json (as older configs have them). */
        j = json_pack("{s:i}", "cpus", 2);
        assert_int_equal(vps_limits_from_json(&back, j, &err), 0);
        assert_true(back.v[VPS_LIM_CPUS] == 200);
        json_decref(j);
        char text[64];
        vps_limit_format(&l, VPS_LIM_CPUS, text, sizeof(text));
        assert_string_equal(text, "1.50");
        ch = json_pack("{s:s}", "cpumask", "unlimited");
        assert_int_equal(vps_limits_update(&l, ch, &err), 0);
        json_decref(ch);
        assert_true(l.v[VPS_LIM_CPUMASK] == VPS_LIMIT_NONE && l.cpumask[0] == '\0');
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse), cmocka_unit_test(test_update_and_json),
                cmocka_unit_test(test_files), cmocka_unit_test(test_pairs),
                cmocka_unit_test(test_kinds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
