/* libvps: whether a VPS's init can take its halt signal yet (sandbox.h), read from /proc. */
#include "sandbox/sandbox.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The hex mask after "\nKEY:" (or at the start), as /proc/PID/status prints it. */
static bool status_mask(const char *status, const char *key, uint64_t *ret)
{
        size_t klen = strlen(key);
        for (const char *l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, klen) != 0 || l[klen] != ':')
                        continue;
                char *end;
                errno = 0;
                unsigned long long v = strtoull(l + klen + 1, &end, 16);
                if (errno || end == l + klen + 1)
                        return false;
                *ret = v;
                return true;
        }
        return false;
}

static bool has_sig(uint64_t mask, int sig)
{
        return sig >= 1 && sig <= 64 && (mask >> (sig - 1)) & 1;
}

bool vps_halt_status_ready(const char *status, int sig)
{
        uint64_t cgt, blk, ign;
        if (!status_mask(status, "SigCgt", &cgt) || !status_mask(status, "SigBlk", &blk) ||
            !status_mask(status, "SigIgn", &ign))
                return false;
        return has_sig(cgt, sig) || (has_sig(blk, sig) && !has_sig(ign, sig));
}

bool vps_halt_syscall_sigwait(const char *text, uint64_t *ret_set)
{
        /* "NR ARG1 ... ARG6 SP PC" while the task sleeps in a system call; "running", or
         * "-1 SP PC" otherwise. */
        char *end;
        errno = 0;
        long nr = strtol(text, &end, 10);
        if (errno || end == text || nr != SYS_rt_sigtimedwait || *end != ' ')
                return false;
        unsigned long long set = strtoull(end + 1, &end, 16);
        if (errno || set == 0)
                return false;
        *ret_set = set;
        return true;
}

static int read_proc(pid_t pid, const char *what, char *buf, size_t size, vps_error *err)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return vps_err_sys(err, errno, "reading %s", path);
        buf[n] = '\0';
        return 0;
}

/* "/proc/PID/" then what, without stdio (the grandchild of a threaded vpsd). */
static void proc_path(char *buf, pid_t pid, const char *what)
{
        char digits[16];
        int k = 0;
        for (unsigned int v = (unsigned int)pid; k == 0 || v; v /= 10)
                digits[k++] = (char)('0' + v % 10);
        char *q = buf;
        for (const char *s = "/proc/"; *s; s++)
                *q++ = *s;
        while (k)
                *q++ = digits[--k];
        *q++ = '/';
        for (const char *s = what; *s; s++)
                *q++ = *s;
        *q = '\0';
}

static ssize_t read_small(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return n;
}

/* In a detached grandchild (base/proc.c): both reads wait while the guest holds the init in
 * an execve (they take its exec lock). The set the init waits for, or false. */
static bool sigwait_set(pid_t pid, uint64_t *ret_set)
{
        char path[48], text[512];
        uint64_t set_addr, set;
        proc_path(path, pid, "syscall");
        if (read_small(path, text, sizeof(text)) <= 0 || !vps_halt_syscall_sigwait(text, &set_addr))
                return false;
        /* Only 8 bytes at an address the guest chose are read; a guest that lies only changes
         * how its own halt is sent. */
        proc_path(path, pid, "mem");
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n = fd < 0 ? -1 : pread(fd, &set, sizeof(set), (off_t)set_addr);
        if (fd >= 0)
                close(fd);
        if (n != (ssize_t)sizeof(set))
                return false;
        *ret_set = set;
        return true;
}

/* Whether the init takes sig: waiting for it in sigtimedwait, or (woken between the caller's
 * look at its status and this one's, its set blocked again) as its status says. An init
 * caught awake is looked at again a few times: one awake is not one booting. */
static bool takes_sig(pid_t pid, int sig, int *tries_left)
{
        for (;;) {
                uint64_t set;
                char path[48], status[2048];
                if (sigwait_set(pid, &set))
                        return has_sig(set, sig);
                proc_path(path, pid, "status");
                if (read_small(path, status, sizeof(status)) <= 0)
                        return false;
                if (vps_halt_status_ready(status, sig))
                        return true;
                if (*tries_left <= 0)
                        return false;
                --*tries_left;
                struct timespec ts = {0, 2 * 1000 * 1000};
                (void)nanosleep(&ts, NULL);
        }
}

struct sigwait_many_arg {
        const pid_t *pid;
        const int *sig;
        size_t n;
};

/* One answer byte per PID, in order, written as each is known: a read the guest holds stops
 * the rest, and the caller knows which one held it. */
static ssize_t read_sigwait_many(void *arg, void *out, size_t size)
{
        const struct sigwait_many_arg *a = arg;
        (void)out;
        (void)size;
        int tries_left = 10; /* 20 ms in all, whatever the count */
        for (size_t i = 0; i < a->n; i++) {
                char c = takes_sig(a->pid[i], a->sig[i], &tries_left) ? '1' : '0';
                if (write(3, &c, 1) != 1)
                        break;
        }
        return 0;
}

ssize_t vps_halt_sigwait_many(const pid_t *pid, const int *sig, size_t n, int timeout_ms, char *ret,
                              bool *ret_timed_out)
{
        struct sigwait_many_arg a = {pid, sig, n};
        *ret_timed_out = false;
        if (n == 0)
                return 0;
        return vps_call_detached_upto(read_sigwait_many, &a, ret, n, timeout_ms, ret_timed_out);
}

int vps_halt_sigwait(pid_t pid, int sig, int timeout_ms)
{
        char ans;
        bool timed_out;
        ssize_t n = vps_halt_sigwait_many(&pid, &sig, 1, timeout_ms, &ans, &timed_out);
        if (timed_out)
                return -ETIMEDOUT;
        return n == 1 && ans == '1';
}

int vps_halt_ready_status(pid_t pid, int sig, vps_error *err)
{
        char text[2048];
        int r = read_proc(pid, "status", text, sizeof(text), err);
        return r < 0 ? r : vps_halt_status_ready(text, sig);
}

int vps_halt_ready(pid_t pid, int sig, vps_error *err)
{
        int r = vps_halt_ready_status(pid, sig, err);
        if (r != 0)
                return r;
        /* busybox init blocks its signals and sleeps in sigtimedwait(), which unblocks them
         * while it sleeps: the set it waits for is in its memory. */
        return vps_halt_sigwait(pid, sig, VPS_HALT_SIGWAIT_MS) == 1;
}
