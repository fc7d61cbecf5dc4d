/* Raw system calls that glibc 2.36 does not wrap, in one place so they can be audited. */
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static inline pid_t vps_sys_clone3(struct clone_args *args)
{
        return (pid_t)syscall(SYS_clone3, args, sizeof(*args));
}

static inline int vps_sys_pidfd_open(pid_t pid, unsigned int flags)
{
        return (int)syscall(SYS_pidfd_open, pid, flags);
}

static inline int vps_sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
        return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

static inline int vps_sys_open_tree(int dfd, const char *path, unsigned int flags)
{
        return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static inline int vps_sys_mount_setattr(int dfd, const char *path, unsigned int flags,
                                        struct mount_attr *attr)
{
        return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr));
}

static inline int vps_sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to,
                                     unsigned int flags)
{
        return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

/* The new mount API: a filesystem configured and mounted through fds, so every path it
 * needs can be an fd opened earlier (runtime/sandbox/mounts.c). */
static inline int vps_sys_fsopen(const char *fsname, unsigned int flags)
{
        return (int)syscall(SYS_fsopen, fsname, flags);
}

static inline int vps_sys_fsconfig(int fd, unsigned int cmd, const char *key, const void *value,
                                   int aux)
{
        return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

static inline int vps_sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
        return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

static inline int vps_sys_pivot_root(const char *new_root, const char *put_old)
{
        return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static inline int vps_sys_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
        return (int)syscall(SYS_close_range, first, last, flags);
}

/* Tests set VPS_TEST_NO_OPENAT2=1 to exercise the checked fallback of vps_open_in_root. */
static inline long vps_sys_openat2(int dfd, const char *path, struct open_how *how)
{
        return syscall(SYS_openat2, dfd, path, how, sizeof(*how));
}
