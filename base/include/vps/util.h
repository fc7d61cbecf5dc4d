/* Small helpers shared by libvps, vpsd and vpsctl: IDs, sizes, files written atomically. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"

#define VPS_ID_MAX       63
#define VPS_HOSTNAME_MAX 253 /* a whole name, RFC 1035 */
#define VPS_LABEL_MAX    63  /* each of its labels */
#define VPS_UTSNAME_MAX  64  /* what the kernel's hostname holds (HOST_NAME_MAX) */

/* [A-Za-z0-9][A-Za-z0-9_-]{0,62} */
bool vps_id_valid(const char *id);
int vps_id_check(const char *id, vps_error *err);
/* Template names follow the same rule, with '.' also allowed after the first character. */
int vps_template_name_check(const char *name, vps_error *err);
/* RFC 1123 host name: up to 253 characters, labels of 1 to 63 of [A-Za-z0-9-], not starting
 * or ending with '-'; the message names the first problem (an empty label, a '-' at a
 * label's edge, a character, a label or the name too long). */
int vps_hostname_check(const char *hostname, vps_error *err);
/* The kernel's hostname (uname -n) for a checked hostname h: all of it when it fits in
 * VPS_UTSNAME_MAX, else its first label. */
void vps_hostname_kernel(const char *h, char ret[VPS_UTSNAME_MAX + 1]);

/* "512M", "1G", "1.5G", "100", "unlimited" (UINT64_MAX). Binary units K M G T P. */
int vps_size_parse(const char *s, uint64_t *ret_bytes, vps_error *err);
/* Network rates as tc writes them: "100mbit", "1.5gbit", "500kbit", "10mbps" (bytes per
 * second); "unlimited" gives 0. From 8kbit to 400gbit; returned in bits per second. */
int vps_rate_parse(const char *s, uint64_t *ret_bits, vps_error *err);
/* Signal names as in meta.json: "SIGTERM", "SIGRTMIN+3", or a number. */
int vps_signal_parse(const char *s, int *ret_sig, vps_error *err);

/* Writes data to dir_fd/name atomically: temp file, fsync, rename, fsync of the directory. */
int vps_write_file_atomic(int dir_fd, const char *name, const void *data, size_t len, mode_t mode,
                          vps_error *err);
/* The same without the flushes, for files that describe running processes (run state):
 * whole after a crash of the writer (the rename), never meant to outlive a reboot. */
int vps_write_file_volatile(int dir_fd, const char *name, const void *data, size_t len, mode_t mode,
                            vps_error *err);
/* Reads a whole (small) file; *ret is NUL terminated. */
int vps_read_file_at(int dir_fd, const char *name, char **ret, size_t *ret_len, vps_error *err);
/* A regular file named in a directory a running guest may change, read-only: no symlink
 * followed, no wait on a fifo put in its place (O_NONBLOCK), -EAGAIN when it is no longer a
 * regular file, else -errno. flags: more (O_NOATIME). */
int vps_open_file_at(int dir_fd, const char *name, int flags);
/* Removes dir_fd/name and everything below it without following symlinks or crossing
 * mount points, at any depth: no recursion, two fds (rmtree.c). ENOENT is not an error. */
int vps_rm_rf_at(int dir_fd, const char *name, vps_error *err);
/* VPS_RM_CGROUP: a cgroup subtree (cgroupfs): only directories are removed, a busy one
 * (tasks still exiting) is waited for up to a second. */
#define VPS_RM_CGROUP 1u
int vps_rm_tree_at(int dir_fd, const char *name, unsigned int flags, vps_error *err);
/* The same, stopped with -ETIMEDOUT ("out of time", what is left in place, the caller can
 * remove it later) once CLOCK_MONOTONIC passes deadline (ns; 0: none, as vps_rm_tree_at). */
int vps_rm_tree_until(int dir_fd, const char *name, unsigned int flags, uint64_t deadline,
                      vps_error *err);
/* That deadline ms from now (0 for 0: none). */
uint64_t vps_deadline_after_ms(unsigned int ms);
/* vps_rm_tree_at (flags) in a child process, for a caller whose loop must not wait for a
 * guest's tree: the child dies with its parent; pidfd becomes readable when it is done, then
 * vps_rm_finish reaps it and gives its outcome. */
struct vps_rm_job {
        pid_t pid;
        int pidfd;
        int err_fd;
};
int vps_rm_start(int dir_fd, const char *name, unsigned int flags, struct vps_rm_job *ret,
                 vps_error *err);
int vps_rm_finish(struct vps_rm_job *job, vps_error *err);
/* Moves dir_fd/name out of sight in one step, for removal off the caller's loop: renamed
 * (RENAME_NOREPLACE) in the same directory to VPS_TRASH_PREFIX TAG, or TAG.N while an earlier
 * one of that name is still there; the new name in ret. -ENOENT (no message) when name is
 * not there. Whoever removes it later (vps_rm_start) finds it by the prefix after a crash. */
#define VPS_TRASH_PREFIX ".del-"
int vps_trash_rename(int dir_fd, const char *name, const char *tag, char *ret, size_t size,
                     vps_error *err);
/* openat2(dfd, path, how) for a relative path of any length: a path longer than the kernel
 * takes (PATH_MAX) is opened in pieces, each below PATH_MAX bytes and cut at a '/', each
 * with how's resolve flags from the one before it (O_PATH for all but the last), so
 * RESOLVE_BENEATH and the like hold for the whole path. The fd, or -errno. */
struct open_how;
int vps_openat2_long(int dfd, const char *path, const struct open_how *how);
/* mkdir -p with a mode for the directories it creates. */
int vps_mkdir_p(const char *path, mode_t mode, vps_error *err);

/* Moves a long-lived fd to 1024 or above (closing the old one; CLOEXEC set) and returns it,
 * or returns it unchanged when it cannot. Libraries that still use select(2) (libnftables'
 * netlink exchange) abort on an fd of 1024 or more: with thousands of VPSes, the per-VPS fds
 * must leave the low numbers free. */
int vps_fd_high(int fd);
/* Closes every fd from `from` up but the n in keep (any order; those under from and -1
 * ignored; at most 8), with close_range over the gaps. 0 or -errno. */
int vps_close_all_but(unsigned int from, const int *keep, size_t n);
/* Reads len bytes from fd, again after EINTR and short reads: returns how many it read (less
 * than len only at EOF), or -errno. */
ssize_t vps_read_full(int fd, void *buf, size_t len);

/* Sets this process's oom_score_adj (a child of vpsd whose memory follows what a guest made,
 * such as a backup's walk of its tree, gives up vpsd's -500). 0 or -errno. */
int vps_oom_score_self(int adj);
/* Writes len bytes (over short writes and EINTR); how many were written, or -errno. */
ssize_t vps_write_full(int fd, const void *buf, size_t len);
/* Appends n bytes of data to the NUL-terminated buffer *buf (*len bytes in *cap): grows it to
 * hint bytes when given, else by doubling (from 4096), never past max + 1. Returns 0, -EMSGSIZE
 * when it would hold more than max bytes (nothing appended), or -ENOMEM. */
int vps_buf_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t max,
                   size_t hint);
/* Makes *buf (of *cap bytes) hold at least n bytes, its content kept: doubles from 256.
 * Returns 0 or -ENOMEM (*buf as it was). */
int vps_grow(char **buf, size_t *cap, size_t n);

/* The 32-bit FNV-1a hash of a string: short stable names (interfaces, cgroups, claim files)
 * derived from longer ones. */
uint32_t vps_fnv1a(const char *s);

/* The len bytes at s as one line safe on a terminal and in a log: printable ASCII kept, every
 * other byte (control characters, escape sequences, a line's end, non-ASCII) and '\\' as "\\xHH",
 * cut at ret's end (never inside an escape). For text a guest chose, such as a path in a tool's
 * error message, that vpsd passes on to vpsctl or its log. */
void vps_printable(const char *s, size_t len, char *ret, size_t size);

/* Field 22 of /proc/PID/stat; -ESRCH when the process is gone. The read waits while the
 * process is held in an execve (base/proc.c): only for a process that runs none of a guest's
 * code yet. vps_proc_parse_starttime: the field of the file's text, or -EBADMSG. */
int vps_proc_starttime(pid_t pid, unsigned long long *ret, vps_error *err);
int vps_proc_parse_starttime(const char *stat, unsigned long long *ret);

/* A guest's processes, without waiting on them (base/proc.c). */
/* The pidfs inode number of a pidfd (Linux 6.9 and later): one per process for the boot, never
 * reused. -EOPNOTSUPP where pidfds are anonymous inodes. */
int vps_pidfd_ino(int pidfd, uint64_t *ret);
/* Runs fn in a grandchild that nobody waits for (fn must be async-signal-safe: vpsd has
 * threads), its output (up to size bytes, into out) read back within timeout_ms. Returns the
 * bytes read (0: fn gave none), -ETIMEDOUT (fn waits on: left behind, it ends when what it
 * waits for does) or -errno. */
ssize_t vps_call_detached(ssize_t (*fn)(void *arg, void *out, size_t size), void *arg, void *out,
                          size_t size, int timeout_ms);
/* The same, for an fn that writes its answers to fd 3 as it goes (returning 0): what came
 * before the deadline (*ret_timed_out then true) is returned, not -ETIMEDOUT. */
ssize_t vps_call_detached_upto(ssize_t (*fn)(void *arg, void *out, size_t size), void *arg,
                               void *out, size_t size, int timeout_ms, bool *ret_timed_out);
/* vps_proc_starttime through vps_call_detached: -ETIMEDOUT when the process holds the read. */
int vps_proc_starttime_within(pid_t pid, unsigned long long *ret, int timeout_ms, vps_error *err);
/* From /proc/PID/status: the parent's PID (-1 when unknown); whether the process is PID 1 of a
 * pid namespace below ours (1, 0, -1 when unknown), *ret_depth the levels of its NSpid. */
pid_t vps_proc_ppid(pid_t pid);
int vps_proc_ns_depth_init(pid_t pid, int *ret_depth);
/* Whether pidfd (opened from pid) is the process a VPS's state recorded: by the pidfs inode
 * when ino is known and the kernel has pidfs, else by its start time read within timeout_ms,
 * else (the read held) by being PID 1 of a pid namespace below ours. 1 yes, 0 no or gone. The
 * caller checks the process is in the VPS's cgroup as well. */
int vps_init_identify(pid_t pid, int pidfd, unsigned long long starttime, uint64_t ino,
                      int timeout_ms);
