/* libvps: a VPS's TCP connections taken out of repair mode after a dump that was killed.
 * criu (--tcp-established) puts every established socket of the dumped tree in repair mode
 * (TCP_REPAIR: the kernel neither sends nor acknowledges on it) while it reads the queues,
 * and takes them out when the dump ends, also when it fails on its own (cr-dump.c
 * cr_dump_finish: tcp_unlock_all). A criu that is killed leaves them so: the VPS runs on,
 * and the first read on each fails (EPERM), which ends it, so vpsd freezes the VPS before it
 * kills criu (vpsd/suspend_routes.c) and calls this before it thaws. The sockets are reached
 * through the processes that hold them (pidfd_getfd): those of the VPS's cgroup tree. */
#include "checkpoint/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vps/cleanup.h"
#include "vps/syscalls.h"

#ifndef TCP_REPAIR_OFF
#define TCP_REPAIR_OFF 0
#endif

/* A guest with very many processes or descriptors costs bounded work: after so many fds or
 * so long, what is left is said (EAGAIN). */
#define UNREPAIR_FDS_MAX (1u << 20)
#define UNREPAIR_NS_MAX  (2ull * 1000 * 1000 * 1000)
#define UNREPAIR_DEPTH   32

struct walk {
        unsigned int fds, fixed;
        unsigned long long deadline;
};

static unsigned long long now_ns(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static bool over(const struct walk *w)
{
        return w->fds >= UNREPAIR_FDS_MAX || now_ns() > w->deadline;
}

/* The socket behind the process's fd, if TCP and in repair mode: out of it. */
static void unrepair_fd(struct walk *w, int pidfd, int fd)
{
        _cleanup_close_ int s = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (s < 0)
                return;
        int v = 0;
        socklen_t len = sizeof(v);
        if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &len) < 0 || v != IPPROTO_TCP)
                return;
        len = sizeof(v);
        if (getsockopt(s, IPPROTO_TCP, TCP_REPAIR, &v, &len) < 0 || v != 1)
                return;
        /* As criu's own unlock: out of repair, with a window probe that restarts the flow. */
        v = TCP_REPAIR_OFF;
        if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &v, sizeof(v)) == 0)
                w->fixed++;
}

static void unrepair_pid(struct walk *w, pid_t pid)
{
        _cleanup_close_ int pidfd = vps_sys_pidfd_open(pid, 0);
        if (pidfd < 0)
                return;
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;
        while (d && !over(w) && (de = readdir(d))) {
                char *end;
                long fd = strtol(de->d_name, &end, 10);
                if (*end || end == de->d_name || fd < 0 || fd > INT32_MAX)
                        continue;
                w->fds++;
                char link[32];
                ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
                if (n < 8 || strncmp(link, "socket:[", 8) != 0)
                        continue;
                unrepair_fd(w, pidfd, (int)fd);
        }
}

/* The processes of a cgroup directory and of the cgroups below it. */
static void unrepair_cgroup(struct walk *w, int dfd, int depth)
{
        _cleanup_close_ int procs = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        _cleanup_fclose_ FILE *f = procs >= 0 ? fdopen(procs, "re") : NULL;
        if (f)
                procs = -1;
        long pid;
        while (f && !over(w) && fscanf(f, "%ld", &pid) == 1)
                if (pid > 0)
                        unrepair_pid(w, (pid_t)pid);
        if (depth >= UNREPAIR_DEPTH)
                return;
        _cleanup_close_ int dup_fd = dup(dfd);
        _cleanup_closedir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (d)
                dup_fd = -1;
        struct dirent *de;
        while (d && !over(w) && (de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                _cleanup_close_ int sub =
                        openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        unrepair_cgroup(w, sub, depth + 1);
        }
}

int vps_checkpoint_tcp_unrepair(const char *cgroup_dir, unsigned int *ret_fixed, vps_error *err)
{
        *ret_fixed = 0;
        _cleanup_close_ int dfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return vps_err_sys(err, errno, "its cgroup");
        struct walk w = {.deadline = now_ns() + UNREPAIR_NS_MAX};
        unrepair_cgroup(&w, dfd, 0);
        *ret_fixed = w.fixed;
        if (over(&w))
                return vps_err(err, EAGAIN,
                               "its TCP connections: gave up after %u descriptors (%u taken "
                               "out of repair mode)",
                               w.fds, w.fixed);
        return 0;
}
