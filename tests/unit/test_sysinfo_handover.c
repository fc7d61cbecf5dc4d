/* Unit tests: what vpsd's loop hands its sysinfo thread (vpsd/sysinfo_handover.h): listeners
 * come out in the order given and wake the thread; the plans follow the running VPSes (a
 * start, a stop, a --ram change) and a caller's cgroup finds its VPS's plan, never a
 * neighbour whose ID shares a prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sysinfo_handover.h"
#include "inst/inst.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool readable(int fd)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        return poll(&p, 1, 0) == 1;
}

static void test_give_take(void **state)
{
        (void)state;
        struct vpsd_sysinfo_shared s;
        vps_error err;
        assert_int_equal(vpsd_sysinfo_shared_init(&s, &err), 0);
        assert_false(readable(s.wake));
        int fds[40];
        for (int i = 0; i < 40; i++) {
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(fds[i] >= 0);
                vpsd_sysinfo_give(&s, fds[i]);
        }
        assert_true(readable(s.wake));
        int got[64];
        /* Fewer than were given: the rest wake the thread again. */
        assert_int_equal(vpsd_sysinfo_take(&s, got, 32), 32);
        assert_memory_equal(got, fds, 32 * sizeof(int));
        assert_true(readable(s.wake));
        assert_int_equal(vpsd_sysinfo_take(&s, got, 32), 8);
        assert_memory_equal(got, fds + 32, 8 * sizeof(int));
        assert_false(readable(s.wake));
        assert_int_equal(vpsd_sysinfo_take(&s, got, 32), 0);
        for (int i = 0; i < 40; i++)
                close(fds[i]);
        vpsd_sysinfo_shared_free(&s);
}

static void vps(struct vps_inst *vi, const char *id, enum vps_status st, int64_t started)
{
        memset(vi, 0, sizeof(*vi));
        (void)snprintf(vi->cfg.id, sizeof(vi->cfg.id), "%s", id);
        (void)snprintf(vi->st.cgroup, sizeof(vi->st.cgroup), "/sys/fs/cgroup/vps/%s", id);
        vps_limits_init(&vi->cfg.limits);
        vi->cfg.limits.v[VPS_LIM_RAM] = 512ULL << 20;
        vi->st.started_at = started;
        vi->status = st;
        vi->dir_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int find(struct vpsd_sysinfo_shared *s, const char *cg, struct vps_sysinfo_plan *p)
{
        int dir_fd = -1;
        int r = vpsd_sysinfo_find(s, cg, p, &dir_fd);
        /* A copy of the directory's fd comes with a plan, none without. */
        if (r == 0)
                assert_true(dir_fd >= 0);
        else
                assert_int_equal(dir_fd, -1);
        if (dir_fd >= 0)
                close(dir_fd);
        return r;
}

/* The fd number of vi's row's directory copy, -1 without a row. */
static int row_fd(const struct vpsd_sysinfo_shared *s, const struct vps_inst *vi)
{
        for (size_t i = 0; i < s->n_rows; i++)
                if (s->rows[i]->owner == vi)
                        return s->rows[i]->dir_fd;
        return -1;
}

static void test_plans(void **state)
{
        (void)state;
        struct vpsd_sysinfo_shared s;
        vps_error err;
        assert_int_equal(vpsd_sysinfo_shared_init(&s, &err), 0);
        struct vps_inst a, b, c;
        vps(&a, "101", VPS_RUNNING, 1000);
        vps(&b, "1010", VPS_STOPPED, 0);
        vps(&c, "102", VPS_RUNNING, 2000);
        struct vps_inst *v[] = {&a, &b, &c};
        struct vps_manager m = {0};
        m.v = v;
        m.n = 3;
        struct vps_sysinfo_plan p;
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/101", &p), -ENOENT); /* not published */
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(s.n_rows, 2);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/101/guest/sub", &p), 0);
        assert_string_equal(p.id, "101");
        assert_int_equal(p.started_at, 1000);
        assert_int_equal(p.ram, 512ULL << 20);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/102", &p), 0);
        assert_string_equal(p.id, "102");
        /* 1010 is stopped, and 101's plan is not its. */
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/1010/guest", &p), -ENOENT);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps", &p), -ENOENT);
        /* Without a touch the rows are not looked at again: a round costs no walk over
         * every VPS (the change below is not seen). */
        a.cfg.limits.v[VPS_LIM_RAM] = 1ULL << 30;
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/101", &p), 0);
        assert_int_equal(p.ram, 512ULL << 20);
        /* A --ram or --swap change alone is seen at the next publish. */
        vps_inst_touch(&m, &a);
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/101", &p), 0);
        assert_int_equal(p.ram, 1ULL << 30);
        c.cfg.limits.v[VPS_LIM_SWAP] = 256ULL << 20;
        vps_inst_touch(&m, &c);
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/102", &p), 0);
        assert_int_equal(p.swap, 256ULL << 20);
        /* So are a start and a stop; the VPSes running before keep their directory fd's copy
         * (a start costs one copy, not one per running VPS). */
        int a_fd = row_fd(&s, &a);
        assert_true(a_fd >= 0);
        b.status = VPS_RUNNING;
        b.st.started_at = 3000;
        c.status = VPS_STOPPED;
        vps_inst_touch(&m, &b);
        vps_inst_touch(&m, &c);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/102", &p), 0); /* not yet */
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/1010/guest", &p), 0);
        assert_string_equal(p.id, "1010");
        assert_int_equal(p.started_at, 3000);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/102", &p), -ENOENT);
        assert_int_equal(row_fd(&s, &a), a_fd);
        assert_true(row_fd(&s, &b) >= 0 && row_fd(&s, &b) != a_fd);
        /* A restart (a new start time) too. */
        a.st.started_at = 4000;
        vps_inst_touch(&m, &a);
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(find(&s, "/sys/fs/cgroup/vps/101", &p), 0);
        assert_int_equal(p.started_at, 4000);
        for (size_t i = 0; i < 3; i++)
                close(v[i]->dir_fd);
        vpsd_sysinfo_shared_free(&s);
}

/* Many VPSes: stops of half of them, new starts and a destroy's move of the last VPS to
 * the hole, all between two publishes: each running VPS found with its own plan, none of the
 * stopped ones, and the rows that still hold kept (their directory copy the same fd). */
static void test_many(void **state)
{
        (void)state;
        enum { N = 48 };
        struct vpsd_sysinfo_shared s;
        vps_error err;
        assert_int_equal(vpsd_sysinfo_shared_init(&s, &err), 0);
        static struct vps_inst vs[N];
        struct vps_inst *v[N];
        char id[16], cg[64];
        for (int i = 0; i < N; i++) {
                (void)snprintf(id, sizeof(id), "%d", 200 + i);
                vps(&vs[i], id, i < N - 8 ? VPS_RUNNING : VPS_STOPPED, 1000 + i);
                v[i] = &vs[i];
        }
        struct vps_manager m = {0};
        m.v = v;
        m.n = N;
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(s.n_rows, N - 8);
        int fd7 = row_fd(&s, &vs[7]);
        assert_true(fd7 >= 0);
        for (int i = 0; i < N - 8; i += 2) { /* half of the running ones stop */
                vs[i].status = VPS_STOPPED;
                vps_inst_touch(&m, &vs[i]);
        }
        for (int i = N - 8; i < N; i++) { /* the stopped ones start */
                vs[i].status = VPS_RUNNING;
                vps_inst_touch(&m, &vs[i]);
        }
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(s.n_rows, (N - 8) / 2 + 8);
        assert_int_equal(row_fd(&s, &vs[7]), fd7);
        /* A destroy of VPS 200 (stopped): the last VPS moves to its place. */
        m.v[0] = m.v[--m.n];
        vps_inst_touch(&m, m.v[0]);
        vpsd_sysinfo_publish(&s, &m);
        assert_int_equal(row_fd(&s, &vs[7]), fd7);
        struct vps_sysinfo_plan p;
        for (int i = 1; i < N; i++) {
                (void)snprintf(cg, sizeof(cg), "/sys/fs/cgroup/vps/%d/guest", 200 + i);
                int want = vs[i].status == VPS_STOPPED ? -ENOENT : 0;
                assert_int_equal(find(&s, cg, &p), want);
                if (want == 0) {
                        (void)snprintf(id, sizeof(id), "%d", 200 + i);
                        assert_string_equal(p.id, id);
                        assert_int_equal(p.started_at, 1000 + i);
                }
        }
        assert_int_equal(s.n_rows, (N - 8) / 2 + 8);
        for (int i = 0; i < N; i++)
                close(vs[i].dir_fd);
        vpsd_sysinfo_shared_free(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_give_take),
                cmocka_unit_test(test_plans),
                cmocka_unit_test(test_many),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
