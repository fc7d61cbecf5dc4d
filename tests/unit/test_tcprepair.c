/* Unit tests: a killed dump's TCP repair mode undone (checkpoint/tcprepair.c). As root: a
 * child in a cgroup of the test's own (under the cgroup2 mount) and a network namespace of
 * its own holds both ends of an established loopback connection and a listener, puts one
 * end in repair mode as criu does, and waits; the walk of that cgroup takes that socket out
 * of repair mode (counted once), leaves the others as they were, and the connection carries
 * data again. Skipped (77) without root. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup/cgroup.h"
#include "checkpoint/checkpoint.h"
#include "netsetup/netsetup.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"

static char cg[512];
static pid_t child = -1;
static int fds[3]; /* the child's: the end in repair mode, the other end, the listener */

static int repair_of(int pidfd, int fd)
{
        _cleanup_close_ int s = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        int v = -1;
        socklen_t len = sizeof(v);
        if (s < 0 || getsockopt(s, IPPROTO_TCP, TCP_REPAIR, &v, &len) < 0)
                return -1;
        return v;
}

/* The child: lo up, a connection to itself, one end in repair mode; then its fds to the
 * parent, and it waits to be killed. On the parent's word it reads what came. */
static void child_main(int out, int in)
{
        vps_error err = {0};
        if (unshare(CLONE_NEWNET) < 0 || ns_loopback_up(&err) < 0)
                _exit(2);
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *)&a, &alen) < 0)
                _exit(3);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
                _exit(4);
        int s = accept(l, NULL, NULL);
        int on = 1;
        if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
                _exit(5);
        int f[3] = {s, c, l};
        if (write(out, f, sizeof(f)) != sizeof(f))
                _exit(6);
        /* Once the parent says so: what the repaired end sends reaches the other. */
        char go;
        if (read(in, &go, 1) != 1 || write(s, "ping", 4) != 4)
                _exit(7);
        char buf[8] = "";
        ssize_t n = recv(c, buf, 4, MSG_WAITALL);
        if (write(out, n == 4 ? buf : "none", 4) != 4)
                _exit(8);
        for (;;)
                pause();
}

static void test_unrepair(void **state)
{
        (void)state;
        if (geteuid() != 0)
                skip();
        char mountinfo[1 << 16];
        _cleanup_close_ int mi = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        ssize_t n = mi >= 0 ? read(mi, mountinfo, sizeof(mountinfo) - 1) : -1;
        assert_true(n > 0);
        mountinfo[n] = '\0';
        char mnt[256];
        vps_error err = {0};
        assert_int_equal(vps_cgroup_find_mount(mountinfo, mnt, sizeof(mnt), &err), 0);
        (void)snprintf(cg, sizeof(cg), "%s/vpstest-tcprepair-%d", mnt, (int)getpid());
        assert_int_equal(mkdir(cg, 0700), 0);
        int up[2], down[2];
        assert_int_equal(pipe(up), 0);
        assert_int_equal(pipe(down), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0)
                child_main(up[1], down[0]);
        char procs[600];
        (void)snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
        _cleanup_fclose_ FILE *f = fopen(procs, "we");
        assert_non_null(f);
        assert_true(fprintf(f, "%d\n", (int)child) > 0);
        assert_int_equal(fflush(f), 0);
        assert_int_equal(read(up[0], fds, sizeof(fds)), (ssize_t)sizeof(fds));
        _cleanup_close_ int pidfd = vps_sys_pidfd_open(child, 0);
        assert_true(pidfd >= 0);
        assert_int_equal(repair_of(pidfd, fds[0]), 1);
        assert_int_equal(repair_of(pidfd, fds[1]), 0);

        unsigned int fixed = 99;
        assert_int_equal(vps_checkpoint_tcp_unrepair(cg, &fixed, &err), 0);
        assert_int_equal(fixed, 1);
        assert_int_equal(repair_of(pidfd, fds[0]), 0);
        assert_int_equal(repair_of(pidfd, fds[1]), 0);
        /* Nothing left in repair: a second walk finds nothing. */
        assert_int_equal(vps_checkpoint_tcp_unrepair(cg, &fixed, &err), 0);
        assert_int_equal(fixed, 0);
        /* The connection carries data again. */
        assert_int_equal(write(down[1], "g", 1), 1);
        char buf[8] = "";
        struct pollfd p = {.fd = up[0], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_int_equal(read(up[0], buf, 4), 4);
        assert_memory_equal(buf, "ping", 4);
        /* A cgroup that is not there: the error names it. */
        char gone[600];
        (void)snprintf(gone, sizeof(gone), "%s/none", cg);
        assert_int_equal(vps_checkpoint_tcp_unrepair(gone, &fixed, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "cgroup"));
}

static int teardown(void **state)
{
        (void)state;
        if (child > 0) {
                (void)kill(child, SIGKILL);
                (void)waitpid(child, NULL, 0);
        }
        for (int i = 0; cg[0] && i < 50 && rmdir(cg) < 0 && errno == EBUSY; i++)
                (void)usleep(20000);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_unrepair, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
