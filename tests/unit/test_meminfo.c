/* Unit tests: a VPS's memory figures and vpsd's /proc/meminfo view (sandbox.h), from a cgroup
 * directory of plain files. busybox free computes used = total - free - buffers - cached:
 * that must never go negative, whatever the cgroup and the host say. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sys/sysinfo.h>

#include "tmpdir.h"
#include "config/config.h"
#include "sandbox/sandbox.h"

static void put(struct tmpdir *t, const char *name, const char *text)
{
        int fd = openat(t->fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static struct sysinfo host(void)
{
        /* 1 GiB host, 900 MiB free, 50 MiB buffers, 512 MiB swap all free */
        struct sysinfo si = {.totalram = 1u << 30,
                             .freeram = 900u << 20,
                             .bufferram = 50u << 20,
                             .totalswap = 512u << 20,
                             .freeswap = 512u << 20,
                             .mem_unit = 1};
        return si;
}

static void sane(const struct vps_mem *f)
{
        assert_true(f->free <= f->total);
        assert_true(f->free + f->buffers + f->cached <= f->total);
        assert_true(f->swap_free <= f->swap_total);
}

static void test_cgroup(void **state)
{
        struct tmpdir *t = *state;
        put(t, "memory.max", "67108864\n");
        put(t, "memory.current", "20971520\n");
        put(t, "memory.stat", "anon 4194304\nfile 16777216\n");
        put(t, "memory.swap.max", "0\n");
        put(t, "memory.swap.current", "0\n");
        struct vps_limits l;
        vps_limits_init(&l);
        struct sysinfo si = host();
        struct vps_mem f;
        vps_mem_figures(t->path, &l, &si, &f);
        assert_int_equal(f.total, 64u << 20);
        assert_int_equal(f.free, 44u << 20);
        assert_int_equal(f.cached, 16u << 20);
        assert_int_equal(f.buffers, 0);
        assert_int_equal(f.swap_total, 0);
        sane(&f);
        /* Page cache above what memory.current says (read at different moments): capped. */
        put(t, "memory.stat", "file 999999999\n");
        vps_mem_figures(t->path, &l, &si, &f);
        assert_int_equal(f.cached, 20u << 20);
        sane(&f);
        /* Usage above the limit (just lowered): free is 0, not a wrap-around. */
        put(t, "memory.current", "100000000\n");
        vps_mem_figures(t->path, &l, &si, &f);
        assert_int_equal(f.free, 0);
        sane(&f);
        /* "max": the host's total. */
        put(t, "memory.max", "max\n");
        vps_mem_figures(t->path, &l, &si, &f);
        assert_int_equal(f.total, 1u << 30);
        sane(&f);
}

static void test_no_controller(void **state)
{
        /* No memory files (the host's cgroup2 tree has no memory controller): the VPS's --ram
         * bounds everything, the host's free and buffers included. */
        struct tmpdir *t = *state;
        struct vps_limits l;
        vps_limits_init(&l);
        l.v[VPS_LIM_RAM] = 64u << 20;
        l.v[VPS_LIM_SWAP] = 0;
        struct sysinfo si = host();
        struct vps_mem f;
        vps_mem_figures(t->path, &l, &si, &f);
        assert_int_equal(f.total, 64u << 20);
        assert_int_equal(f.swap_total, 0);
        sane(&f);
        vps_limits_init(&l);
        vps_mem_figures(t->path, &l, &si, &f);
        assert_int_equal(f.total, 1u << 30);
        sane(&f);
}

static void test_text(void **state)
{
        (void)state;
        struct vps_mem a = {.total = 64u << 20, .free = 1u << 20, .cached = 1024},
                       b = {.total = 1ULL << 50,
                            .free = 1ULL << 49,
                            .cached = 1ULL << 40,
                            .swap_total = 1ULL << 45};
        char ta[VPS_MEMINFO_TEXT_MAX], tb[VPS_MEMINFO_TEXT_MAX];
        size_t na = vps_meminfo_text(&a, ta, sizeof(ta)), nb = vps_meminfo_text(&b, tb, sizeof(tb));
        assert_true(na > 0);
        assert_int_equal(na, nb); /* a rewrite in place never changes the length */
        assert_non_null(strstr(ta, "MemTotal:              65536 kB\n"));
        assert_non_null(strstr(ta, "Cached:                    1 kB\n"));
        unsigned long long kb = 0;
        const char *c = strstr(tb, "\nCached:");
        assert_non_null(c);
        assert_int_equal(sscanf(c, "\nCached: %llu kB", &kb), 1);
        assert_int_equal(kb, 1ULL << 30);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cgroup, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_no_controller, setup_dir, teardown_dir),
                cmocka_unit_test(test_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
