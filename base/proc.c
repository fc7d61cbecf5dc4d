/* libvpsbase: what vpsd learns of a guest's process without waiting on it. A process held in
 * an execve (closing a file whose FUSE daemon never answers its FLUSH) holds its exec locks,
 * and every ptrace-mode check on it waits (Linux 6.18: /proc/PID/stat, wchan, ns/N, fd/N), as
 * do syscall, stack, io and mem; status and cgroup do not. So identity comes from the pidfd,
 * plain facts from status, and the rest is read by a detached grandchild with a deadline. */
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PIDFS_MAGIC 0x50494446

int vps_pidfd_ino(int pidfd, uint64_t *ret)
{
        struct statfs sfs;
        struct stat st;
        if (fstatfs(pidfd, &sfs) < 0 || fstat(pidfd, &st) < 0)
                return -errno;
        if ((unsigned long)sfs.f_type != PIDFS_MAGIC)
                return -EOPNOTSUPP;
        *ret = (uint64_t)st.st_ino;
        return 0;
}

ssize_t vps_call_detached_upto(ssize_t (*fn)(void *arg, void *out, size_t size), void *arg,
                               void *out, size_t size, int timeout_ms, bool *ret_timed_out)
{
        *ret_timed_out = false;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int rd = p[0];
        pid_t c = fork();
        if (c < 0) {
                int e = errno;
                close(p[1]);
                return -e;
        }
        if (c == 0) {
                /* The grandchild is nobody's child to wait for: if fn waits for good, it is
                 * left to the host's reaper, and ends when the guest lets it go. */
                pid_t g = fork();
                if (g != 0)
                        _exit(g < 0);
                /* Nothing of the caller's kept but the pipe: a grandchild left waiting must
                 * not hold a caller's stdout (a shell's $(...) would wait for it) or socket. */
                if (dup2(p[1], 3) < 0)
                        _exit(1);
                (void)vps_sys_close_range(0, 2, 0);
                (void)vps_sys_close_range(4, ~0U, 0);
                ssize_t n = fn(arg, out, size);
                if (n > 0)
                        (void)!write(3, out, (size_t)n);
                _exit(0);
        }
        close(p[1]);
        int status;
        while (waitpid(c, &status, 0) < 0 && errno == EINTR)
                ;
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t got = 0;
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
                struct pollfd pfd = {.fd = rd, .events = POLLIN};
                int r = spent >= timeout_ms ? 0 : poll(&pfd, 1, timeout_ms - (int)spent);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0) {
                        *ret_timed_out = true;
                        return (ssize_t)got;
                }
                ssize_t n = read(rd, (char *)out + got, size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || (got += (size_t)n) == size)
                        return n < 0 ? -errno : (ssize_t)got;
        }
}

ssize_t vps_call_detached(ssize_t (*fn)(void *arg, void *out, size_t size), void *arg, void *out,
                          size_t size, int timeout_ms)
{
        bool timed_out;
        ssize_t n = vps_call_detached_upto(fn, arg, out, size, timeout_ms, &timed_out);
        return timed_out ? -ETIMEDOUT : n;
}

struct read_arg {
        char path[64];
};

/* In the grandchild: open, read, nothing that takes a lock of this process. */
static ssize_t read_path(void *arg, void *out, size_t size)
{
        const struct read_arg *a = arg;
        int fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, out, size);
        close(fd);
        return n;
}

int vps_proc_starttime_within(pid_t pid, unsigned long long *ret, int timeout_ms, vps_error *err)
{
        struct read_arg a;
        (void)snprintf(a.path, sizeof(a.path), "/proc/%d/stat", (int)pid);
        char buf[1024];
        ssize_t n = vps_call_detached(read_path, &a, buf, sizeof(buf) - 1, timeout_ms);
        if (n == -ETIMEDOUT)
                return vps_err(err, ETIMEDOUT, "%s was not read within %d ms", a.path, timeout_ms);
        if (n < 0)
                return vps_err_sys(err, (int)-n, "reading %s", a.path);
        if (n == 0)
                return vps_err(err, ESRCH, "process %d is gone", (int)pid);
        buf[n] = '\0';
        return vps_proc_parse_starttime(buf, ret) < 0
                       ? vps_err(err, EBADMSG, "cannot parse %s", a.path)
                       : 0;
}

/* "KEY:\tVALUE..." of /proc/PID/status (which waits on nothing of the process). */
static int status_line(pid_t pid, const char *key, char *ret, size_t size)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        _cleanup_free_ char *text = NULL;
        vps_error e;
        if (vps_read_file_at(AT_FDCWD, path, &text, NULL, &e) < 0)
                return -e.code;
        size_t kl = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (strncmp(l, key, kl) != 0 || l[kl] != ':')
                        continue;
                l += kl + 1;
                size_t n = strcspn(l, "\n");
                if (n >= size)
                        n = size - 1;
                memcpy(ret, l, n);
                ret[n] = '\0';
                return 0;
        }
        return -ENOENT;
}

pid_t vps_proc_ppid(pid_t pid)
{
        char v[32];
        return status_line(pid, "PPid", v, sizeof(v)) < 0 ? -1 : (pid_t)atoi(v);
}

int vps_proc_ns_depth_init(pid_t pid, int *ret_depth)
{
        char v[256];
        if (status_line(pid, "NSpid", v, sizeof(v)) < 0)
                return -1;
        int depth = 0;
        long last = 0;
        for (char *s = v, *end;; s = end) {
                long x = strtol(s, &end, 10);
                if (end == s)
                        break;
                last = x;
                depth++;
        }
        if (ret_depth)
                *ret_depth = depth;
        return depth >= 2 && last == 1;
}

int vps_init_identify(pid_t pid, int pidfd, unsigned long long starttime, uint64_t ino,
                      int timeout_ms)
{
        uint64_t got = 0;
        if (ino && vps_pidfd_ino(pidfd, &got) == 0)
                return got == ino;
        unsigned long long st;
        vps_error e;
        int r = vps_proc_starttime_within(pid, &st, timeout_ms, &e);
        if (r == 0)
                return st == starttime;
        /* Held in an execve: an init is PID 1 of a namespace below ours (the caller checks
         * its cgroup too, which no process outside the VPS's pid namespace but vpsd's and
         * vpsctl's own helpers is in). */
        return r == -ETIMEDOUT && vps_proc_ns_depth_init(pid, NULL) == 1;
}
