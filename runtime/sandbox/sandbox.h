/* Starting a VPS's init in fresh namespaces (the hot path: syscalls only, no processes). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"
#include "config/config.h"
#include "net/net.h"

/* vpsd --starter: a small process vpsd starts before it grows, to which starts are handed
 * (starter.c). A clone copies its parent's page tables, and vpsd's grow with its running VPSes;
 * the starter's do not, so a start costs the same with 1 or 1000 VPSes running. It clones
 * each start's setup process with CLONE_PARENT: the setup, maker and init are vpsd's
 * children as when vpsd clones them. */
struct vps_starter {
        int fd;    /* vpsd's end of its socket (SOCK_SEQPACKET), -1: none */
        pid_t pid; /* vpsd's child */
        int pidfd;
};
/* vpsd --starter's loop on fd (its end of the socket): returns when the socket ends. */
int vps_starter_main(int fd);

struct vps_spawn_params {
        const char *hostname;
        const char *vps_dir;    /* ROOT/vps/ID: holds upper/, work/, lower/, rootfs/. A path,
                                 * not an fd: the child must resolve it in its own mount
                                 * namespace (an fd would point into vpsd's). */
        const char *lower_path; /* the template's rootfs on the host */
        const char *init_path;  /* inside the guest, e.g. /sbin/init */
        uint32_t uid_base;
        uint32_t uid_count;
        int cgroup_fd;                   /* the VPS's guest cgroup, for CLONE_INTO_CGROUP */
        int console_fd;                  /* pty slave: the init's stdio and /dev/console */
        const struct vps_net_child *net; /* eth0 settings, NULL for loopback only */
        const struct vps_config *cfg;    /* for /etc/hostname, hosts, resolv.conf */
        const char *lxcfs;               /* LXCFS mount whose views go over /proc, or NULL */
        unsigned int devpts_max;         /* ptys the guest may hold (its devpts max=) */
        /* Called in the parent once the child's namespaces exist, before it builds its root
         * (for networking). May be NULL. */
        int (*parent_hook)(pid_t pid, void *userdata, vps_error *err);
        void *userdata;
        /* Takes the pidfd of a child of the caller's that has exited or soon will (the
         * setup, the maker, a killed init) to reap it without waiting; NULL: waited for. */
        void (*reap)(int pidfd, void *reap_data);
        void *reap_data;
        /* Clones the setup process in vpsd's place when set and alive; NULL: vpsd does. */
        const struct vps_starter *starter;
};

struct vps_spawn_result {
        pid_t pid;
        int pidfd;
        unsigned long long starttime; /* read by the setup while the init waited for it */
        uint64_t pidfd_ino;           /* vps_pidfd_ino of pidfd, 0 on kernels without pidfs */
        int notify_fd;                /* the init's sysinfo listener (sandbox.h), -1 without one */
};

int vps_spawn(const struct vps_spawn_params *p, struct vps_spawn_result *ret, vps_error *err);
/* The same in steps, for a loop that runs several starts at once (spawn_parent.c): begin
 * clones the setup process and returns; once vps_spawn_fd is readable, step goes on: 1 while
 * it waits for that again, 0 when the init has exec'd (ret filled), <0 when it failed. kill
 * ends an unfinished one's processes; free closes the fd (a loop stops watching it first: a
 * fork of the caller may still hold it) and kills what kill would. p's pointers must
 * outlive the start. */
struct vps_spawn;
int vps_spawn_begin(const struct vps_spawn_params *p, struct vps_spawn **ret, vps_error *err);
int vps_spawn_fd(const struct vps_spawn *s);
int vps_spawn_step(struct vps_spawn *s, struct vps_spawn_result *ret, vps_error *err);
void vps_spawn_kill(struct vps_spawn *s);
void vps_spawn_free(struct vps_spawn *s);

/* What the start child takes from the host while it still acts as the host's uid 0 (its
 * fsuid, before it becomes the VPS's root): the state root is host root's alone (0700), so
 * the VPS's root could not walk to any of these. Everything later goes through these fds. */
struct vps_host_dirs {
        int lower, upper, work, rootfs; /* of ROOT/vps/ID */
        int devnodes[VPS_MAX_DEVNODES]; /* detached clones of ROOT/vps/ID/devnodes/NAME, */
        unsigned int n_dev;             /* in vps_devnodes_effective()'s order */
        /* vpsd's /proc/meminfo view (sandbox.h), a read-only detached clone of
         * ROOT/vps/ID/meminfo when has_meminfo (vpsd writes it only when LXCFS is not serving) */
        int meminfo;
        bool has_meminfo;
};

/* Child side (runtime/sandbox/mounts.c); the steps are described there. */
/* Binds a boot id of this start, read-only, over the root's /proc/sys/kernel/random/boot_id
 * (bootid.c; as host root, in step 2), from a file kept in the state root's run directory
 * (vps_dir: ROOT/vps/ID). */
int vps_child_own_boot_id(int root_fd, const char *vps_dir, vps_error *err);
int vps_child_open_host(const char *vps_dir, const struct vps_config *cfg,
                        struct vps_host_dirs *ret, vps_error *err);
void vps_host_dirs_close(struct vps_host_dirs *h);
/* Step 1, the maker, root of the VPS's user namespace: returns the overlay's fs context. */
int vps_child_make_overlay(const struct vps_host_dirs *h, int lower_mnt_fd, vps_error *err);
/* Step 2's first part: the overlay from fs_fd attached on h's rootfs/; returns its root. */
int vps_child_mount_overlay(const struct vps_host_dirs *h, int fs_fd, vps_error *err);
/* Step 2, the init as host root: returns the root, with what the guest must not remove. */
int vps_child_lock_root(const struct vps_host_dirs *h, const char *vps_dir, int fs_fd, int pidns_fd,
                        const char *lxcfs, vps_error *err);
/* Step 3, the init as the VPS's root in its own mount namespace (locked_root_fd: the root
 * there): the rest of the mounts, then pivot_root. */
int vps_child_build_root(int locked_root_fd, const struct vps_host_dirs *h, int console_fd,
                         unsigned int devpts_max, const struct vps_config *cfg, vps_error *err);

/* What a start binds into a guest's tree from the host's file systems (mounts.c: the device
 * nodes, the masks over /proc, the boot id, the /proc views, the console): a checkpoint names
 * them to criu as external mounts, and a restore binds each one's source there again
 * (runtime/checkpoint/, hostbinds.c). */
enum vps_bind_kind {
        VPS_BIND_PATH,    /* source: a host path, the same for every run */
        VPS_BIND_CONSOLE, /* the console pty's slave of the run */
};
struct vps_host_bind {
        char target[64];  /* inside the guest: "/proc/kcore" */
        char key[72];     /* criu's name for it: "m_proc_kcore" */
        char source[400]; /* VPS_BIND_PATH: the host path a restore binds again */
        enum vps_bind_kind kind;
};
#define VPS_HOST_BINDS_MAX 48
/* The binds a start of a VPS with config cfg makes: vps_dir is ROOT/vps/ID (its meminfo
 * view), run_dir the state root's run directory (its boot id), lxcfs LXCFS's mount when it
 * serves the views, else NULL. Fills ret, returns how many. */
unsigned int vps_host_binds(const struct vps_config *cfg, const char *vps_dir, const char *run_dir,
                            const char *lxcfs, struct vps_host_bind *ret, unsigned int max);

/* A restore's root, built as a start builds it, in the caller's own mount namespace (a slave
 * of the host's it unshared): the template at lower_path idmapped to uid_base..+uid_count
 * on vps_dir's lower/, an overlay of it with upper/ and work/ on rootfs/. */
int vps_restore_root(const char *vps_dir, const char *lower_path, uint32_t uid_base,
                     uint32_t uid_count, const struct vps_config *cfg, vps_error *err);
/* The sources of binds, bound in the caller's own mount namespace onto files of a tmpfs
 * (mode 0755) it mounts on stage, so that criu, which restores mounts as the VPS's root,
 * reaches them: stage/KEY. console: the new console's slave. The sources are taken first, so
 * stage may cover some of them. */
int vps_restore_stage(const char *stage, const struct vps_host_bind *b, unsigned int n, int console,
                      vps_error *err);

/* The default security profile applied to every VPS init and to every process vpsctl puts
 * into a VPS: a reduced capability bounding set, empty inheritable and ambient sets, and a
 * seccomp filter. The user namespace (a disjoint id range per VPS) is the main wall; this is
 * the second one. Masked and read-only /proc and /sys paths are mounted in mounts.c. */

/* Capabilities no VPS keeps, even in its own user namespace. CAP_SYS_BOOT stays: reboot(2)
 * in a VPS only ends its pid namespace, which vpsd turns into a restart. */
extern const int vps_dropped_caps[];
extern const unsigned int vps_n_dropped_caps;

/* System calls the filter denies with EPERM, unless the VPS has one of the --features bits
 * in allowed_by (VPS_FEAT_NESTING lets the keyring calls through, VPS_FEAT_IO_URING the
 * io_uring ones). docs/security.md compares the list with Docker's and LXC's. */
struct vps_denied_syscall {
        const char *name;
        unsigned int allowed_by;
};
extern const struct vps_denied_syscall vps_denied_syscalls[];
extern const unsigned int vps_n_denied_syscalls;

/* ioctl requests the filter denies with EPERM on every fd, whatever the features: TIOCSTI
 * (pushes bytes into a terminal's input, as if typed) and TIOCLINUX (the virtual console's
 * multiplexer, whose selection paste does the same). No host terminal reaches a VPS
 * (attach.c); this is the second wall. */
extern const unsigned long vps_denied_ioctls[];
extern const unsigned int vps_n_denied_ioctls;

/* Drops the capabilities from the bounding set, clears the inheritable and ambient sets, and
 * loads the seccomp filter for a VPS with these --features (VPS_FEAT_* bits), without
 * no_new_privs, so setuid programs inside still work.
 * With ret_listener, sysinfo(2) goes to a seccomp user-notification listener returned there
 * (-1 when the kernel cannot), which vpsd answers (sandbox.h); its holder must keep serving
 * it, or the calls fail. Call last before execve. */
int vps_security_apply(unsigned int features, int *ret_listener, vps_error *err);

/* The features a VPS was started with, recorded on its cgroup at start (the xattr
 * trusted.vps.features, "tun,nesting"), so that a command vps_attach_run() puts into the VPS
 * gets the filter its init has. Only host root may read or write trusted.* attributes: the
 * guest cannot grant itself a feature through its own cgroup. Recording may fail without
 * harm when features is 0. */
int vps_security_record(int cgroup_fd, unsigned int features, vps_error *err);
/* What vps_security_record() left on the cgroup at this host path; 0 (the default profile)
 * when nothing can be read. */
unsigned int vps_security_recorded(const char *cgroup);

/* The VPS console: a pty whose master vpsd keeps and whose slave is the init's stdio. */

#include <stddef.h>
#include <stdint.h>

/* Opens a pty pair on the host; the slave is owned by the VPS's root (uid) and tty group. */
int vps_console_open(uint32_t uid_base, int *ret_master, int *ret_slave, vps_error *err);

/* Appends data to dir_fd/console.log, rotating to console.log.1 past max_bytes. */
int vps_console_log(int dir_fd, const void *data, size_t len, size_t max_bytes, vps_error *err);

/* Whether a VPS's init can take its halt signal yet. The kernel drops a signal sent to the
 * init of a pid namespace while its handler is SIG_DFL and it is not blocked, so a halt sent
 * early in a boot (before systemd blocks SIGRTMIN+3 for its signalfd, before busybox init
 * blocks SIGUSR2 for its sigtimedwait) is lost; vpsd sends it again until the init is ready. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* From the text of /proc/PID/status: sig has a handler (SigCgt), or is blocked (SigBlk: it
 * stays pending for a signalfd or sigwait) and not ignored. False when a line is missing. */
bool vps_halt_status_ready(const char *status, int sig);
/* From the text of /proc/PID/syscall: true when the task sleeps in rt_sigtimedwait (which
 * unblocks the signals it waits for while it sleeps, so SigBlk does not show them); *ret_set
 * gets the address of the set it waits for. */
bool vps_halt_syscall_sigwait(const char *syscall_text, uint64_t *ret_set);
/* 1: process pid (a host PID) takes sig now, 0: not yet, or a negative errno (vps_error).
 * vps_halt_ready_status: from its status alone, which waits on nothing of the process.
 * vps_halt_sigwait: whether it sleeps in sigtimedwait() for sig (1, 0), from its syscall and
 * memory: reads a guest can hold (an init held in an execve, base/proc.c), so done by a
 * detached grandchild, -ETIMEDOUT past timeout_ms. vps_halt_ready: both, the second within
 * VPS_HALT_SIGWAIT_MS. */
#define VPS_HALT_SIGWAIT_MS 100
int vps_halt_ready(pid_t pid, int sig, vps_error *err);
int vps_halt_ready_status(pid_t pid, int sig, vps_error *err);
int vps_halt_sigwait(pid_t pid, int sig, int timeout_ms);
/* vps_halt_sigwait for n inits at once, in one detached grandchild: ret[i] '1' or '0' for the
 * first ones answered (the count returned, or -errno) within timeout_ms; *ret_timed_out when
 * the deadline passed first: the read of pid[count] is held (or slow), the rest not tried. */
ssize_t vps_halt_sigwait_many(const pid_t *pid, const int *sig, size_t n, int timeout_ms, char *ret,
                              bool *ret_timed_out);

/* Running a process inside a running VPS (vpsctl exec / enter). */

#include <stdbool.h>
#include <sys/types.h>

struct vps_attach_target {
        pid_t pid;                    /* host PID of the VPS init */
        unsigned long long starttime; /* its /proc/PID/stat start time, to refuse a reused PID */
        uint64_t pidfd_ino;           /* its pidfs inode number (API pid_ino), 0 if unknown */
        const char *cgroup;           /* absolute host path of the VPS cgroup, or NULL */
};

struct vps_attach_opts {
        char *const *argv;         /* command and arguments; argv[0] is looked up in PATH */
        bool pty;                  /* give the command a new pty inside the VPS and relay
                                    * the caller's terminal to it (enter, exec -t); without it, its
                                    * stdin, stdout and stderr are pipes relayed to the caller's */
        const char *cwd;           /* working directory inside; NULL means "/" or $HOME */
        int sysinfo_sock;          /* connected to vpsd's sysinfo socket: the command's sysinfo(2)
                                    * is answered by vpsd (its listener is handed over); -1: the
                                    * command sees the host's sysinfo */
        char *const *env;          /* "NAME=value" entries over the default environment, or NULL */
        unsigned short cols, rows; /* the pty's size before the command starts (0: unset) */
};

/* Connects to vpsd's sysinfo socket (its path, as GET /v1/vps/ID gives it), checking that
 * host root listens there: the command's seccomp listener goes to no one else. */
int vps_attach_sysinfo_connect(const char *path, vps_error *err);

/* Runs argv inside the VPS and waits for it. On success returns 0 and stores in
 * *ret_status the command's exit code as a shell reports it (128 + N when killed by
 * signal N). No fd of the caller's enters the VPS: the command runs in a session of its own
 * with pipes (or a pty of the guest's) as its stdio, which this call relays to and from the
 * caller's stdin, stdout and stderr; SIGINT, SIGTERM, SIGHUP and SIGQUIT that the caller
 * receives meanwhile go to the command's process group. */
int vps_attach_run(const struct vps_attach_target *target, const struct vps_attach_opts *opts,
                   int *ret_status, vps_error *err);

/* A command started in the VPS for a caller that relays its stdio itself (vpsd's remote
 * exec, vpsd/exec_child.c). */
struct vps_attach_proc {
        pid_t pid;        /* the joining child: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to it go
                           * to the command's process group as vps_attach_run forwards them (a
                           * second one kills it), SIGUSR1 kills the group (SIGKILL); its exit
                           * status is the command's */
        int pidfd;        /* of the joining child: readable when it has exited */
        int in, out, err; /* our non-blocking ends of the command's stdin (write), stdout and
                           * stderr (read) pipes; with a pty, the command has the pty instead */
        int master;       /* the pty master (opts.pty), or -1 */
};
/* Starts argv inside the VPS as vps_attach_run does, without relaying or waiting. */
int vps_attach_spawn(const struct vps_attach_target *target, const struct vps_attach_opts *opts,
                     struct vps_attach_proc *ret, vps_error *err);
/* Waits for the joining child: the command's exit code (128 + N when killed by signal N). */
int vps_attach_wait(const struct vps_attach_proc *p);
void vps_attach_proc_close(struct vps_attach_proc *p);

/* sysinfo(2) inside a VPS, answered by vpsd: the VPS's processes get their seccomp filter's
 * sysinfo calls sent to vpsd (sandbox.h), which fills the struct from the VPS's cgroup, so
 * free, uptime and top show the plan (RAM, swap, uptime since the VPS started), not the host.
 * LXCFS does the same for the /proc files (mounts.c). */

struct sysinfo;
struct vps_mem;

/* What a sysinfo(2) answer of a running VPS takes, copied out of its vps_inst so that a thread
 * other than vpsd's loop can answer from it. */
struct vps_sysinfo_plan {
        char id[VPS_ID_MAX + 1];
        char cgroup[512];   /* the VPS's cgroup, absolute */
        uint64_t ram, swap; /* --ram, --swap: used where the cgroup has no memory controller */
        int64_t started_at;
};
void vps_sysinfo_plan_of(const struct vps_inst *vi, struct vps_sysinfo_plan *ret);
/* Is the absolute cgroup path cg the plan's cgroup or below it? */
bool vps_sysinfo_plan_holds(const struct vps_sysinfo_plan *p, const char *cg);
/* The absolute cgroup2 path of pid (mount: where cgroup2 is mounted): 0 or a negative errno. */
int vps_sysinfo_caller_cgroup(pid_t pid, const char *mount, char *buf, size_t size);
/* The VPS's figures, and its memory as its /proc/meminfo view shows it (ret_mem, when not
 * NULL): 0 or a negative errno. */
int vps_sysinfo_fill(const struct vps_sysinfo_plan *p, struct sysinfo *si, struct vps_mem *ret_mem);
/* Rewrites the VPS's /proc/meminfo view (dir_fd: ROOT/vps/ID) with the figures of an answer,
 * so busybox free's Cached follows them; -ENOENT when the VPS has none (LXCFS serves it). */
int vps_sysinfo_view_update(int dir_fd, const struct vps_mem *f);

/* One notification of a listener. */
struct vps_sysinfo_call {
        uint64_t id;
        pid_t pid;
        uint64_t addr; /* sysinfo's buffer in the caller */
        bool is_sysinfo;
};
/* Receives one: 0, or a negative errno (-ENOENT: its caller died first). */
int vps_sysinfo_receive(int listener, struct vps_sysinfo_call *ret);
/* 0 while the call waits for its answer (so its PID is still the caller's). */
int vps_sysinfo_pending(int listener, uint64_t id);
/* Answers it: error 0 success, > 0 that errno, < 0 the call runs as the kernel would. */
int vps_sysinfo_respond(int listener, uint64_t id, int error);

/* Is fd a seccomp user-notification listener? (For listeners handed over by vpsctl.) */
int vps_sysinfo_is_listener(int fd);

/* LXCFS, and what stands in for it: whether the LXCFS vpsd.conf names is serving (probed at
 * vpsd's start-up, by `vpsctl version` and at each VPS start), and the memory figures of a VPS
 * that sysinfo(2) answers and, when LXCFS is not serving, vpsd's own /proc/meminfo view show
 * alike: a file on a tmpfs of vpsd's (VPS_RUN_DIR/meminfo-DEV-INO/ID, host root's, 0644) that
 * ROOT/vps/ID/meminfo links to, bound read-only and locked over the guest's /proc/meminfo
 * (mounts.c), rewritten in place at each sysinfo call and every few seconds. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct sysinfo;
struct vps_limits;
struct vps_inst;
struct vps_manager;

enum vps_lxcfs_state { VPS_LXCFS_OFF, VPS_LXCFS_SERVING, VPS_LXCFS_DOWN };

struct vps_lxcfs_status {
        enum vps_lxcfs_state state;
        char dir[256]; /* the LXCFS mount vpsd.conf names, "" when off */
        char why[400]; /* when down: what the probe found ("DIR/proc/meminfo: No such file...") */
};

/* Probes dir ("" for lxcfs = off): serving when DIR/proc/meminfo can be opened and read. */
void vps_lxcfs_probe(const char *dir, struct vps_lxcfs_status *ret);
/* "off", "serving", "not serving" */
const char *vps_lxcfs_state_name(enum vps_lxcfs_state s);
/* {"state": "serving"|"not serving"|"off", "serving": bool, "dir": DIR|null,
 *  "detail": WHY|null, "meminfo": "lxcfs"|"vpsd"} */
struct json_t *vps_lxcfs_status_json(const struct vps_lxcfs_status *s);

/* A VPS's memory in bytes, as sysinfo(2) and the meminfo view show it. */
struct vps_mem {
        uint64_t total, free, available, buffers, cached, shared, swap_total, swap_free;
};

/* The figures of the VPS whose cgroup is cg: the total is the least of the host's RAM,
 * memory.max and (where the host has no memory controller) the VPS's --ram; free is the total
 * less memory.current; cached is its page cache (memory.stat file), never above what it
 * uses: total - free - buffers - cached is never negative. Swap likewise. host: the host's
 * own sysinfo. */
void vps_mem_figures(const char *cg, const struct vps_limits *own, const struct sysinfo *host,
                     struct vps_mem *ret);
/* The text of the meminfo view: always the same length, so an in-place rewrite never leaves
 * a reader a shorter or longer file. Returns its length. */
size_t vps_meminfo_text(const struct vps_mem *f, char *buf, size_t size);
#define VPS_MEMINFO_TEXT_MAX 1024
/* Writes the view of vi into its directory's "meminfo": created (create true) or only
 * rewritten in place when it is there (-ENOENT when not: the VPS runs with LXCFS's). */
int vps_meminfo_update(const struct vps_inst *vi, bool create, vps_error *err);
/* The same for the VPS directory dir_fd, cgroup cg and limits own (at start, before vi has
 * its run state). */
int vps_meminfo_write(int dir_fd, const char *cg, const struct vps_limits *own, bool create,
                      vps_error *err);
int vps_meminfo_write_at(int dir_fd, const char *name, const char *cg, const struct vps_limits *own,
                         bool create, vps_error *err);
/* The same with the figures already read. */
int vps_meminfo_write_figures(int dir_fd, const char *name, const struct vps_mem *f, bool create,
                              vps_error *err);
/* At start: the view of vi (cgroup cg) written on vpsd's tmpfs of views,
 * VPS_RUN_DIR/meminfo-DEV-INO/ID (mounted there once), and ROOT/vps/ID/meminfo linked to it. */
int vps_meminfo_create(const struct vps_manager *m, const struct vps_inst *vi, const char *cg,
                       vps_error *err);
/* Unmounts and removes the tmpfs of views (when no VPS runs). */
void vps_meminfo_views_drop(const struct vps_manager *m);
/* Removes the view (a VPS started with LXCFS serving uses LXCFS's). */
void vps_meminfo_remove(const struct vps_inst *vi);
/* Rewrites the view of every running VPS that has one. */
void vps_meminfo_refresh_all(struct vps_manager *m);
