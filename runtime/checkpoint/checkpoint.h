/* Checkpointing a VPS with CRIU (exec'd, never linked): whether this host can (criu.c: the
 * binary, its version and `criu check`, probed by a child off vpsd's loop), and a VPS's
 * suspend to disk and resume (suspend.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"
#include "vps/localsock.h"

struct json_t;

/* Where criu is looked for, in order, when VPS_CRIU (tests: a path, or "" for none) is not
 * set: scripts/install-criu's backport first. */
#define VPS_CRIU_PATHS                                                                             \
        "/usr/local/sbin/criu", "/usr/sbin/criu", "/usr/local/bin/criu", "/usr/bin/criu"

enum vps_criu_state { VPS_CRIU_PROBING, VPS_CRIU_AVAILABLE, VPS_CRIU_UNAVAILABLE };

struct vps_criu_status {
        enum vps_criu_state state;
        char path[256];   /* the binary ("" when none was found) */
        char version[32]; /* "4.1.1" ("" when unknown) */
        char why[512];    /* why not, when unavailable */
};

/* The criu binary to use: VPS_CRIU, else the first executable of VPS_CRIU_PATHS; ENOENT
 * naming where it looked. */
int vps_criu_find(char *ret, size_t size, vps_error *err);

/* The probe: a fork that runs `criu --version` and `criu check` (each with a deadline) and
 * writes a report on *ret_out, then exits; the caller watches *ret_pidfd and reads the
 * report (at most VPS_CRIU_REPORT_MAX bytes, so the child never blocks on the pipe) when it
 * has ended. No criu found: no child, *ret_pid is 0 and st says why. */
#define VPS_CRIU_REPORT_MAX 4096
int vps_criu_probe_start(struct vps_criu_status *st, pid_t *ret_pid, int *ret_pidfd, int *ret_out,
                         vps_error *err);
/* A probe's report (what the child wrote) into st: available when `criu check` passed and
 * vpsd has the capabilities criu needs, else why not (check's last error line, or the
 * capabilities missing); pure, for unit tests. */
void vps_criu_parse_report(const char *report, struct vps_criu_status *st);
/* The capabilities criu needs (of the process that runs it) that capeff lacks, as
 * "cap_sys_resource,..." ("" when none). */
void vps_criu_missing_caps(unsigned long long capeff, char *ret, size_t size);
/* One line for vpsd's log: "available (criu 4.1.1, /usr/local/sbin/criu)" or
 * "not available: ...". */
void vps_criu_describe(const struct vps_criu_status *st, char *ret, size_t size);
/* {"state": "probing"|"available"|"unavailable", "available", "criu", "version", "why"} */
struct json_t *vps_criu_status_json(const struct vps_criu_status *st);

/* Suspend to disk and resume (suspend.c). The images of VPS ID are ROOT/vps/ID/checkpoint
 * (VPS_CHECKPOINT_DIR: host root's, 0700; they hold the guest's memory); its file vpsd.json,
 * written once criu's dump has succeeded, says the images are whole: a VPS that has it is
 * suspended. Everything a restore binds, maps or joins comes from vpsd's state (the params
 * here); of the images it takes only the names criu gave the console and external mounts. */
#define VPS_CHECKPOINT_DIR  "checkpoint"
#define VPS_CHECKPOINT_META "vpsd.json"
/* Where a restore's own mount namespace stages the binds' sources: a tmpfs over vpsd's run
 * directory there (host root's 0700 one is not searchable by the VPS's root, as whom criu
 * restores mounts; criu needs nothing of it). */
#define VPS_CHECKPOINT_STAGE VPS_RUN_DIR

struct vps_config;

struct vps_checkpoint_params {
        const char *criu;    /* the binary (vps_criu_find) */
        const char *vps_dir; /* ROOT/vps/ID */
        const char *run_dir; /* the state root's run directory (the boot id's file) */
        const char *lxcfs;   /* LXCFS's mount (dump: when configured; restore: when serving) */
        const struct vps_config *cfg;
        pid_t pid;         /* dump: the init (host PID) */
        int console;       /* dump: a slave of the console (its tty); restore: the new one */
        const char *lower; /* restore: the template's rootfs */
        char veth[16];     /* restore: the host end criu makes for eth0, "" for none */
        /* restore: the VPS's guest cgroup vpsd made, relative to the cgroup2 mount
         * ("/vps-x/101/guest"): criu's --cgroup-root, so the tasks go there whatever path
         * they were dumped from (another host's parent) */
        char cgroup_root[512];
        /* restore: the VPS's cgroup (absolute), whose tasks' /proc and /sys are locked, and
         * the executable criu runs as its action script to lock them (vpsd's own: "post-restore"
         * with VPS_CHECKPOINT_LOCK_ENV in its environment); NULL: not locked */
        char cgroup_dir[512];
        const char *lock_helper;
        /* dump: pre-copy rounds (criu pre-dump --track-mem into pre-1..N of the images'
         * directory while the VPS runs; the dump then takes only what changed since) */
        unsigned int rounds;
};
#define VPS_CHECKPOINT_ROUNDS_MAX 8

/* The dump, run by a child of vpsd (it waits for criu): the images in a fresh (after the
 * pre-copy's rounds, if any: *ret_frozen_ns is CLOCK_MONOTONIC when the dump proper, the one
 * that freezes the VPS to its end, began)
 * VPS_CHECKPOINT_DIR, then criu kills the VPS, then the meta file is written. 0, or why not
 * in one line (criu's first error), the VPS left running by criu and no images left. */
int vps_checkpoint_dump(const struct vps_checkpoint_params *p, int64_t *ret_frozen_ns,
                        vps_error *err);
/* The restore, in a child of vpsd that becomes criu (so that the restored init, criu's
 * sibling with --restore-sibling, is vpsd's child): unshares its mount namespace, builds the
 * root and the binds' sources, and execs criu; returns only when it could not (why in err).
 * The init's host PID is then in VPS_CHECKPOINT_DIR/restored.pid. */
int vps_checkpoint_restore_exec(const struct vps_checkpoint_params *p, vps_error *err);
/* After criu's end: its first error line (from dump.log or restore.log, "log") into err. */
int vps_checkpoint_log_error(int vps_dir_fd, const char *log, int status, vps_error *err);
/* The restored init's PID (restored.pid), or a negative errno with err set. */
pid_t vps_checkpoint_restored_pid(int vps_dir_fd, vps_error *err);
/* Whether the VPS at vps_dir_fd has whole images (it is suspended). */
bool vps_checkpoint_exists(int vps_dir_fd);
/* A failed restore: the images given back to host root alone (a restore lends them to the
 * VPS's root, as whom criu reads them). */
void vps_checkpoint_reclaim(int vps_dir_fd);

/* --- the images as a migration carries them (images.c) ------------------------------------
 * The sender reads the images' directory and hands each piece to a sink as "NAME\0BYTES"
 * (at most VPS_CHECKPOINT_CHUNK bytes after the name; a file's pieces in order, an empty
 * file as one piece); only names vps_checkpoint_name_ok accepts go (criu's logs stay). The
 * receiver writes them into a fresh VPS_CHECKPOINT_DIR: root's, 0700, each file 0644 (criu's), made
 * with O_EXCL|O_NOFOLLOW, a name it already closed refused, VPS_CHECKPOINT_MAX in all; the
 * images are whole only with VPS_CHECKPOINT_META. What a restore takes from them is limited
 * as for a local resume (vps_checkpoint_restore_exec), and the user namespace's maps are
 * replaced by vpsd's (vps_checkpoint_own_userns). */
#define VPS_CHECKPOINT_CHUNK (1u << 19)
#define VPS_CHECKPOINT_MAX   (64ull << 30)
/* "NAME.img" or VPS_CHECKPOINT_META: 1-64 of [A-Za-z0-9._-], no leading dot. */
bool vps_checkpoint_name_ok(const char *name);
typedef int (*vps_checkpoint_sink)(void *arg, const void *piece, size_t len, vps_error *err);
/* The images of the VPS at vps_dir_fd, piece by piece into sink; *ret_bytes their size. */
int vps_checkpoint_send(int vps_dir_fd, vps_checkpoint_sink sink, void *arg, uint64_t *ret_bytes,
                        vps_error *err);
struct vps_checkpoint_rx {
        int dir, fd;
        char name[80];
        uint64_t bytes, files;
        unsigned int rounds; /* the highest pre-K seen */
};
/* Gives a pre-copy's round directories (pre-1..) in img_fd to uid (a restore lends them to the
 * VPS's root with the images' directory; 0 takes them back); -errno. */
int vps_checkpoint_lend_rounds(int img_fd, uid_t uid);
/* Creates dir_fd/VPS_CHECKPOINT_DIR (it must not exist) for the pieces. */
int vps_checkpoint_rx_begin(struct vps_checkpoint_rx *rx, int dir_fd, vps_error *err);
/* One piece ("NAME\0BYTES", NAME maybe "pre-K/NAME": a pre-copy round's), checked; EPERM
 * for a bad name, EEXIST for a file seen before. At the end the rounds' parent links are made
 * here (pre-K/parent -> ../pre-K-1, parent -> pre-N), never taken from the stream. */
int vps_checkpoint_rx_put(struct vps_checkpoint_rx *rx, const char *piece, size_t len,
                          vps_error *err);
/* The last piece came: the files synced and closed; EBADMSG without VPS_CHECKPOINT_META. */
int vps_checkpoint_rx_end(struct vps_checkpoint_rx *rx, vps_error *err);
/* Replaces the maps of every userns-*.img in the images' directory img_fd by one extent,
 * 0 -> base, count long (uid and gid); EBADMSG when there is none or one is not criu's. */
int vps_checkpoint_own_userns(int img_fd, uint32_t base, uint32_t count, vps_error *err);
/* The image written (header with the common magic or not, length, userns_entry): its size;
 * ret holds 128 bytes. For unit tests. */
size_t vps_checkpoint_userns_entry(uint8_t *ret, bool common, uint32_t base, uint32_t count);
/* The VPS's boot id as its run directory's file holds it ("" when none or damaged), which
 * the dump records; a restore recreates the file from it where it is missing (another host,
 * a host reboot), or with a fresh id when the images have none. */
void vps_checkpoint_boot_id_read(const char *run_dir, const char *id, char ret[40]);
int vps_checkpoint_boot_id_ensure(const char *run_dir, const char *id, const char *text,
                                  vps_error *err);

/* --- locking a restored VPS's /proc and /sys (lockmounts.c, mounttree.c) -------------------
 * criu makes a VPS's mounts as its root, after the root task joined the VPS's user namespace:
 * none is MNT_LOCKED, so the masks over /proc and /sys and the read-only binds there would be
 * the guest's to undo. criu runs vpsd as its action script (VPS_CHECKPOINT_LOCK_ENV names the
 * VPS's cgroup); at "post-restore", all tasks made and none yet running, it locks them as a
 * start does (docs/security.md "Suspend and resume"). A failure fails the restore. */
#define VPS_CHECKPOINT_LOCK_ENV "VPSD_CRIU_LOCK_CGROUP"
/* One mount of a mountinfo table; mountpoint unescaped, in the text parsed. */
struct vps_mnt {
        int id, parent;
        bool shared, slave; /* "shared:N", "master:N" */
        char fstype[32], dev[24];
        char *root; /* of the mount in its file system */
        char *mountpoint;
};
struct vps_mnt_table {
        struct vps_mnt *m;
        size_t n;
};
#define VPS_MNT_MAX 65536
/* text (modified: the table points into it) into ret; EBADMSG for a damaged line. */
int vps_mnt_table_parse(char *text, struct vps_mnt_table *ret, vps_error *err);
void vps_mnt_table_free(struct vps_mnt_table *t);
const struct vps_mnt *vps_mnt_find(const struct vps_mnt_table *t, int id);
/* The proc and sysfs mounts of t to lock: each with a mount over something in it, and under
 * no other proc or sysfs mount. Their indexes into ret (at most max); how many there are. */
size_t vps_mnt_lock_targets(const struct vps_mnt_table *t, size_t *ret, size_t max);
/* Where q's mount point is in its parent p: q's path below p's mount point ("." when q is on
 * p's root); NULL when q's is not below p's. */
const char *vps_mnt_rel_path(const struct vps_mnt *p, const struct vps_mnt *q);
/* The mount q is locked on: its parent; or, when that is a bind of its own parent's
 * directory at that very point with nothing on it but q (what a lock leaves under a copy:
 * dumped and restored with it), the parent's parent, the bind then in *ret_skip (else NULL).
 * NULL when q has no parent in t. */
const struct vps_mnt *vps_mnt_lock_parent(const struct vps_mnt_table *t, const struct vps_mnt *q,
                                          const struct vps_mnt **ret_skip);
/* How many mounts the tree of mount id holds, itself included (0: not in t). */
size_t vps_mnt_subtree_size(const struct vps_mnt_table *t, int id);
/* Locks each proc and sysfs mount, and every mount under it, of every mount namespace of the
 * tasks in cgroup_dir (recursively; and init's): each such tree is cloned and unmounted;
 * then, in a mount namespace of the host's user namespace, the clone is stacked on a bind of
 * the directory it was on and the two are moved onto a peer of its parent there, whence they
 * propagate back into the VPS's namespace, where the kernel locks every mount of the copy
 * but its top, the bind, which the proc or sysfs covers (fs/namespace.c attach_recursive_mnt,
 * lock_mnt_tree). Each parent's propagation is put back as it was. Must be host root,
 * single-threaded; changes its mount namespace and working directory. */
int vps_checkpoint_lock_mounts(pid_t init, const char *cgroup_dir, vps_error *err);

/* netlock.c: criu's network lock, an nftables table "inet CRIU-..." it makes in the VPS's
 * network namespace for a dump and deletes when the dump ends, but not when criu is killed. */
#define VPS_CRIU_LOCK_PREFIX "CRIU-"
#define VPS_CRIU_LOCKS_MAX   8
struct vps_criu_locks {
        size_t n;
        char name[VPS_CRIU_LOCKS_MAX][256]; /* NFT_TABLE_MAXNAMELEN */
};
/* Whether an nftables table of that name is criu's lock (or a guest's table named alike,
 * which is in the guest's own namespace: deleting it there is harmless). */
bool vps_criu_lock_table(const char *name);
/* Deletes every inet table named VPS_CRIU_LOCK_PREFIX... in the network namespace of the
 * process behind pidfd (the VPS's init), from a helper that joined it (vps_ns_run), and
 * never in vpsd's own (EPERM when the init's is the host's); *ret_removed lists what went. */
int vps_checkpoint_net_unlock(const char *id, int pidfd, struct vps_criu_locks *ret_removed,
                              vps_error *err);
/* tcprepair.c: every TCP socket in repair mode held by a process of the cgroup tree at
 * cgroup_dir (a VPS's) taken out of it, as criu does at the end of a dump but cannot when it
 * is killed; *ret_fixed counts them. Bounded (2 s, 2^20 descriptors: EAGAIN beyond). Must be
 * host root (pidfd_getfd). A guest's own socket in repair mode (its own checkpointing) is
 * taken out too: only called after a dump of the VPS failed. */
int vps_checkpoint_tcp_unrepair(const char *cgroup_dir, unsigned int *ret_fixed, vps_error *err);
