/* Unit tests: whether an init takes its halt signal, from /proc/PID/status and
 * /proc/PID/syscall (sandbox.h), and the answer for this very process. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"

/* systemd after it set up its signalfd: SIGRTMIN+3 (37) blocked, nothing caught. */
static const char systemd_ready[] = "Name:\tsystemd\nSigQ:\t0/7823\nSigPnd:\t0000000000000000\n"
                                    "ShdPnd:\t0000000000000000\nSigBlk:\t7be3c0fe28014a03\n"
                                    "SigIgn:\t0000000000001000\nSigCgt:\t00000000000004ec\n";
/* Early in its boot: nothing blocked yet. */
static const char systemd_early[] = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000001000\n"
                                    "SigCgt:\t00000000000004ec\n";

static void test_status(void **state)
{
        assert_true(vps_halt_status_ready(systemd_ready, SIGRTMIN + 3));
        assert_false(vps_halt_status_ready(systemd_early, SIGRTMIN + 3));
        /* Caught (bit 11 is SIGUSR2, 12). */
        assert_true(vps_halt_status_ready("SigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0000000000000800\n",
                                          SIGUSR2));
        assert_false(vps_halt_status_ready("SigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0000000000000400\n",
                                           SIGUSR2));
        /* Blocked but ignored: dropped when unblocked. */
        assert_false(vps_halt_status_ready("SigBlk:\t800\nSigIgn:\t800\nSigCgt:\t0\n", SIGUSR2));
        assert_true(vps_halt_status_ready("SigBlk:\t800\nSigIgn:\t0\nSigCgt:\t0\n", SIGUSR2));
        /* A line missing or garbled: not ready. */
        assert_false(vps_halt_status_ready("SigBlk:\t800\nSigCgt:\t0\n", SIGUSR2));
        assert_false(vps_halt_status_ready("SigBlk:\tzz\nSigIgn:\t0\nSigCgt:\t0\n", SIGUSR2));
        assert_false(vps_halt_status_ready("", SIGUSR2));
        /* A key that only starts like another. */
        assert_false(vps_halt_status_ready("SigBlkX:\t800\nSigIgn:\t0\nSigCgt:\t0\n", SIGUSR2));
}

static void test_syscall(void **state)
{
        char text[128];
        uint64_t set = 0;
        (void)snprintf(text, sizeof(text), "%d 0x7ffd1234 0x0 0x7ffd5678 0x8 0x0 0x0 0x7ffd0 0x4f",
                       (int)SYS_rt_sigtimedwait);
        assert_true(vps_halt_syscall_sigwait(text, &set));
        assert_int_equal(set, 0x7ffd1234);
        assert_false(vps_halt_syscall_sigwait("running", &set));
        assert_false(vps_halt_syscall_sigwait("-1 0x7ffd0 0x4f", &set));
        (void)snprintf(text, sizeof(text), "%d 0x3 0x0 0x0", (int)SYS_wait4);
        assert_false(vps_halt_syscall_sigwait(text, &set));
        (void)snprintf(text, sizeof(text), "%d 0x0 0x0", (int)SYS_rt_sigtimedwait);
        assert_false(vps_halt_syscall_sigwait(text, &set));
}

static void test_this_process(void **state)
{
        vps_error err;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
        (void)signal(SIGUSR2, SIG_DFL);
        assert_int_equal(vps_halt_ready(getpid(), SIGUSR2, &err), 0);
        assert_int_equal(sigprocmask(SIG_BLOCK, &set, NULL), 0);
        assert_int_equal(vps_halt_ready(getpid(), SIGUSR2, &err), 1);
        assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
        (void)signal(SIGUSR2, SIG_IGN);
        assert_int_equal(vps_halt_ready(getpid(), SIGUSR2, &err), 0);
        (void)signal(SIGUSR2, SIG_DFL);
        assert_true(vps_halt_ready(999999999, SIGUSR2, &err) < 0);
}

/* Several at once, in one grandchild: a child asleep in sigtimedwait() for SIGUSR2 takes it,
 * this process (not waiting) does not, nor does the child for a signal outside its set. */
static void test_many(void **state)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        pid_t c = fork();
        assert_true(c >= 0);
        if (c == 0) {
                (void)sigprocmask(SIG_BLOCK, &set, NULL);
                struct timespec ts = {30, 0};
                (void)sigtimedwait(&set, NULL, &ts);
                _exit(0);
        }
        for (int i = 0; i < 200 && vps_halt_sigwait(c, SIGUSR2, 1000) != 1; i++)
                usleep(10000);
        pid_t pid[] = {c, getpid(), c};
        int sig[] = {SIGUSR2, SIGUSR2, SIGUSR1};
        char ans[3];
        bool timed_out = true;
        assert_int_equal(vps_halt_sigwait_many(pid, sig, 3, 2000, ans, &timed_out), 3);
        assert_false(timed_out);
        assert_memory_equal(ans, "100", 3);
        assert_int_equal(vps_halt_sigwait_many(pid, sig, 0, 2000, ans, &timed_out), 0);
        (void)kill(c, SIGKILL);
        (void)waitpid(c, NULL, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_syscall),
                cmocka_unit_test(test_this_process),
                cmocka_unit_test(test_many),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
