/* Unit tests: base/proc.c, what vpsd learns of a process without waiting on it. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vps/util.h"

static ssize_t echo(void *arg, void *out, size_t size)
{
        size_t n = strlen(arg) < size ? strlen(arg) : size;
        memcpy(out, arg, n);
        return (ssize_t)n;
}

/* Stands for a read a guest holds: half a second (the grandchild has no fd of the test's). */
static ssize_t held(void *arg, void *out, size_t size)
{
        (void)arg;
        struct timespec t = {0, 500 * 1000 * 1000};
        while (nanosleep(&t, &t) < 0 && errno == EINTR)
                ;
        if (size < 1)
                return 0;
        ((char *)out)[0] = 'x';
        return 1;
}

static void test_call_detached(void **state)
{
        (void)state;
        char buf[16] = "";
        assert_int_equal(vps_call_detached(echo, "hello", buf, sizeof(buf), 2000), 5);
        assert_memory_equal(buf, "hello", 5);
        /* Held: the caller gets -ETIMEDOUT at its deadline, not later. */
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(vps_call_detached(held, NULL, buf, sizeof(buf), 100), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &b);
        long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
        assert_true(ms >= 90 && ms < 1000);
        /* The grandchild left waiting holds none of the caller's fds: the write end of a
         * pipe the caller closes reads EOF although the grandchild still waits. */
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(vps_call_detached(held, NULL, buf, sizeof(buf), 50), -ETIMEDOUT);
        close(p[1]);
        assert_int_equal(read(p[0], buf, 1), 0);
        close(p[0]);
}

static void test_proc_facts(void **state)
{
        (void)state;
        assert_int_equal(vps_proc_ppid(getpid()), getppid());
        int depth = 0;
        /* The test runs in some pid namespace; its PID there is not 1. */
        assert_int_equal(vps_proc_ns_depth_init(getpid(), &depth), 0);
        assert_true(depth >= 1);
        assert_int_equal(vps_proc_ppid(0x7ffffff0), -1);
        unsigned long long st = 0, st2 = 0;
        vps_error err;
        assert_int_equal(vps_proc_starttime(getpid(), &st, &err), 0);
        assert_int_equal(vps_proc_starttime_within(getpid(), &st2, 2000, &err), 0);
        assert_true(st == st2 && st > 0);
        assert_int_equal(vps_proc_starttime_within(0x7ffffff0, &st2, 2000, &err), -ESRCH);
}

static void test_identify(void **state)
{
        (void)state;
        int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (pidfd < 0)
                skip();
        unsigned long long st;
        vps_error err;
        assert_int_equal(vps_proc_starttime(getpid(), &st, &err), 0);
        uint64_t ino = 0;
        int r = vps_pidfd_ino(pidfd, &ino);
        assert_true(r == 0 || r == -EOPNOTSUPP);
        if (r == 0) {
                /* The inode decides when known: a start time that does not match is not read. */
                assert_int_equal(vps_init_identify(getpid(), pidfd, st + 1, ino, 1000), 1);
                assert_int_equal(vps_init_identify(getpid(), pidfd, st, ino + 1, 1000), 0);
                /* One per process: the parent's differs. */
                int ppidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
                uint64_t pino = 0;
                assert_int_equal(vps_pidfd_ino(ppidfd, &pino), 0);
                assert_true(pino != ino);
                close(ppidfd);
        }
        /* Without it, the start time. */
        assert_int_equal(vps_init_identify(getpid(), pidfd, st, 0, 1000), 1);
        assert_int_equal(vps_init_identify(getpid(), pidfd, st + 1, 0, 1000), 0);
        close(pidfd);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_call_detached),
                cmocka_unit_test(test_proc_facts),
                cmocka_unit_test(test_identify),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
