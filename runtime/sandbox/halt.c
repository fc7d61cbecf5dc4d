/* libvps: whether a VPS's init can take its halt signal yet (sandbox.h), read from /proc. */
#include "sandbox/sandbox.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

int vps_halt_ready(pid_t pid, int sig, vps_error *err)
{
        char text[2048];
        int r = read_proc(pid, "status", text, sizeof(text), err);
        if (r < 0)
                return r;
        if (vps_halt_status_ready(text, sig))
                return 1;
        /* busybox init blocks its signals and sleeps in sigtimedwait(), which unblocks them
         * while it sleeps: the set it waits for is in its memory. Only 8 bytes at an address
         * the guest chose are read; a guest that lies only changes how its own halt is sent. */
        uint64_t set_addr, set = 0;
        vps_error e;
        if (read_proc(pid, "syscall", text, sizeof(text), &e) < 0 ||
            !vps_halt_syscall_sigwait(text, &set_addr))
                return 0;
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || pread(fd, &set, sizeof(set), (off_t)set_addr) != (ssize_t)sizeof(set))
                return 0;
        return has_sig(set, sig);
}
