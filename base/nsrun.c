/* libvpsbase: helpers that enter a running VPS, with a deadline (see vps/nsrun.h). */
#include "vps/cleanup.h"
#include "vps/nsrun.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000ull
/* What a step started past the deadline still gets: an undo that does not touch the guest's
 * files (eth0's addresses, the hostname) takes milliseconds. */
#define GRACE_NS (NSEC_PER_SEC)

static uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: each helper gets `timeout_s` */
static unsigned int timeout_s = VPS_GUEST_TIMEOUT_DEFAULT;

static uint64_t now_ns(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void vps_helper_deadline(unsigned int seconds)
{
        timeout_s = seconds;
        deadline_ns = now_ns() + (uint64_t)seconds * NSEC_PER_SEC;
}

/* Waits for the child's exit until `until`; 0 once reaped, -ETIMEDOUT. */
static int wait_until(pid_t pid, int pidfd, uint64_t until, int *status)
{
        for (;;) {
                uint64_t now = now_ns();
                int ms = now >= until ? 0 : (int)((until - now + 999999) / 1000000);
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                int n = poll(&p, 1, ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ETIMEDOUT;
                while (waitpid(pid, status, 0) < 0)
                        if (errno != EINTR)
                                return -errno;
                return 0;
        }
}

/* Runs fn(arg) in a child that keeps none of this process's fds but keep_fd; fn's error
 * comes back whole through a pipe. Past the deadline the child is killed. */
static int helper_run(const char *id, const char *what, int keep_fd,
                      int (*fn)(void *arg, vps_error *err), void *arg, vps_error *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "pipe");
        _cleanup_close_ int rd = p[0];
        pid_t child = fork();
        if (child < 0) {
                close(p[1]);
                return vps_err_sys(err, errno, "fork");
        }
        if (child == 0) {
                /* Nothing of the daemon's (its API connections, consoles, listeners) stays
                 * open in a helper that the guest may hold for long. */
                (void)vps_close_all_but(3, (const int[]){keep_fd, p[1]}, 2);
                vps_error e = {0};
                int r = fn(arg, &e);
                if (r < 0)
                        (void)!write(p[1], &e, sizeof(e));
                _exit(r < 0 ? 1 : 0);
        }
        close(p[1]);
        (void)fcntl(rd, F_SETFL, O_NONBLOCK);
        _cleanup_close_ int pidfd = vps_sys_pidfd_open(child, 0);
        if (pidfd < 0) {
                int e = errno;
                (void)kill(child, SIGKILL);
                (void)waitpid(child, NULL, 0);
                return vps_err_sys(err, e, "pidfd_open");
        }
        uint64_t start = now_ns(), until = start + (uint64_t)timeout_s * NSEC_PER_SEC;
        if (deadline_ns)
                until = deadline_ns > start + GRACE_NS ? deadline_ns : start + GRACE_NS;
        int status = 0;
        int r = wait_until(child, pidfd, until, &status);
        if (r == -ETIMEDOUT) {
                /* It dies at once, unless the guest's FUSE daemon has read its request and
                 * holds it unanswered: then it is left behind, holding none of our fds, and
                 * its new parent reaps it once the request ends (at the latest when the
                 * VPS stops and its FUSE daemon dies). */
                (void)vps_sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void)wait_until(child, pidfd, now_ns() + NSEC_PER_SEC / 5, &status);
                unsigned int s = (unsigned int)((until - start + NSEC_PER_SEC / 2) / NSEC_PER_SEC);
                return vps_err(err, ETIMEDOUT,
                               "VPS %s: %s did not finish within %u s (the guest's files do not "
                               "answer: a stalled FUSE mount?): stopped",
                               id, what, s ? s : 1);
        }
        if (r < 0)
                return vps_err_sys(err, -r, "VPS %s: waiting for %s", id, what);
        vps_error e;
        if (read(rd, &e, sizeof(e)) == (ssize_t)sizeof(e)) {
                e.msg[sizeof(e.msg) - 1] = '\0';
                *err = e;
                return -(e.code > 0 ? e.code : EIO);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vps_err(err, EIO, "VPS %s: %s failed", id, what);
        return 0;
}

struct ns_call {
        const char *id;
        int pidfd, nstypes;
        int (*fn)(void *arg, vps_error *err);
        void *arg;
};

int vps_ns_enter(const char *id, int pidfd, int nstypes, vps_error *err)
{
        char what[VPS_ID_MAX + 8] = "the VPS";
        if (id)
                (void)snprintf(what, sizeof(what), "VPS %s", id);
        if (setns(pidfd, nstypes) < 0)
                return vps_err_sys(err, errno, "entering %s", what);
        /* Host root is nobody in the VPS's user namespace: its root, to act as the guest's,
         * with none of the host's supplementary groups. */
        if ((nstypes & CLONE_NEWUSER) &&
            (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0))
                return vps_err_sys(err, errno, "becoming root in %s", what);
        return 0;
}

static int enter_and_run(void *arg, vps_error *err)
{
        const struct ns_call *c = arg;
        int r = vps_ns_enter(c->id, c->pidfd, c->nstypes, err);
        return r < 0 ? r : c->fn(c->arg, err);
}

int vps_ns_run(const char *id, int pidfd, int nstypes, const char *what,
               int (*fn)(void *arg, vps_error *err), void *arg, vps_error *err)
{
        struct ns_call c = {id, pidfd, nstypes, fn, arg};
        return helper_run(id, what, pidfd, enter_and_run, &c, err);
}
