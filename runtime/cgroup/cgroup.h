/* cgroup v2: where VPS cgroups live, creating, killing and removing them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vps/error.h"
#include "config/config.h"

/* A running VPS has three cgroups. Its top one, PARENT/ID (the run state's "cgroup"), is host
 * root's: limits, the device program, memory.oom.group and the features xattr live there and
 * hold for everything below; it holds no process. Below it, like systemd-nspawn's payload and
 * supervisor: VPS_CG_GUEST, delegated to the VPS's root, where the init is born and which is
 * the root of the guest's cgroup namespace; and VPS_CG_EXEC, a leaf of host root's where
 * vpsctl exec's commands are born, out of the guest's reach (it can neither remove, replace
 * nor freeze it). No leading dot in either name: they are plain cgroups. */
#define VPS_CG_GUEST "guest"
#define VPS_CG_EXEC  "vpsd-exec"
/* Defaults of vpsd.conf cgroup_max_depth and cgroup_max_descendants: a systemd guest uses 2 to 5
 * levels (user@.service/app.slice/...) and a few dozen cgroups; containers inside it add a few
 * levels and cgroups each. */
#define VPS_CG_MAX_DEPTH_DEFAULT       16
#define VPS_CG_MAX_DESCENDANTS_DEFAULT 1000
/* Default of vpsd.conf cgroup_remove_ms: how long a stop may spend in vpsd's loop removing a
 * guest's cgroups; what is left then is removed by a child of vpsd. */
#define VPS_CG_REMOVE_MS_DEFAULT 1000

struct vps_cgroups {
        char mount[256];            /* the cgroup2 mount point, from /proc/self/mountinfo */
        char parent[512];           /* absolute host path of the parent of all VPS cgroups */
        struct vps_limit_host host; /* CPUs, and the disk of the storage root for io.max */
        /* cgroup.max.depth and cgroup.max.descendants of each VPS's guest cgroup (-1: max) */
        long long max_depth, max_descendants;
        /* How long vps_cgroup_remove may take (ms; 0: no bound) */
        unsigned int remove_ms;
        /* The controllers (memory, pids, cpu, io, cpuset: "memory pids") that a cgroup v1
         * hierarchy holds, from /proc/cgroups at init (VPS_TEST_PROC_CGROUPS: another file). */
        char v1_bound[64];
};

/* Hint for a controller a cgroup v1 hierarchy holds: only a boot can give it to cgroup v2. */
#define VPS_CG_V1_HINT                                                                             \
        "boot the host with the unified hierarchy (kernel command line "                           \
        "systemd.unified_cgroup_hierarchy=1, or cgroup_no_v1=all)"

/* Of the controllers vpsd uses, those a /proc/cgroups text shows bound to a cgroup v1
 * hierarchy (a hierarchy ID other than 0), space-separated into ret ("" when none). */
void vps_cgroup_parse_v1(const char *proc_cgroups, char *ret, size_t size);
/* For vpsd's start-up log: "memory pids cpu io cpuset under PARENT", or what is missing and
 * why ("missing under PARENT: memory (held by cgroup v1: boot ...), io; available: pids"). */
void vps_cgroup_describe(const struct vps_cgroups *cg, char *ret, size_t size);

/* Finds the cgroup2 mount point in a mountinfo text (testable without /proc). */
int vps_cgroup_find_mount(const char *mountinfo, char *ret, size_t size, vps_error *err);
/* The v2 path ("0::/x") from a /proc/PID/cgroup text. */
int vps_cgroup_parse_self(const char *proc_cgroup, char *ret, size_t size, vps_error *err);

/* The state root vpsd uses when none is given; its VPS cgroup parent keeps the name "vps". */
#define VPS_DEFAULT_ROOT "/var/lib/vps"
/* The default parent's name for a state root: "vps" for VPS_DEFAULT_ROOT (hosts set up before
 * keep theirs), else "vps-" and 8 hex digits of a hash of the root's path. */
void vps_cgroup_default_name(const char *root, char *ret, size_t size);
/* The parent's absolute host path (and the cgroup2 mount, and vpsd's own cgroup as in
 * /proc/self/cgroup), without creating anything: parent_rel is a path relative to the cgroup2
 * mount ("/vps-test"), or NULL for "<vpsd's own cgroup>/" + vps_cgroup_default_name(root). */
int vps_cgroup_parent_path(const char *parent_rel, const char *root, char *ret_mount,
                           size_t mount_size, char *ret, size_t size, char *ret_own,
                           size_t own_size, vps_error *err);
/* Locates the cgroup2 tree and the parent (vps_cgroup_parent_path) and creates the parent. */
int vps_cgroups_init(struct vps_cgroups *cg, const char *parent_rel, const char *root,
                     vps_error *err);

/* Creates the cgroups of VPS id (an empty one left by a crash is replaced): returns the top's
 * path and fd, and the fd of its guest cgroup, delegated to owner, for CLONE_INTO_CGROUP. */
int vps_cgroup_create(const struct vps_cgroups *cg, const char *id, uid_t owner, char *ret_path,
                      size_t size, int *ret_fd, int *ret_guest_fd, vps_error *err);
/* Enables in dir_fd's subtree_control the controllers of ours it has. */
void vps_cgroup_hand_down(int dir_fd);
bool vps_cgroup_populated(const char *path);
/* A cgroup file holding one number, or "max" (-1); -2 when it cannot be read. */
long long vps_cgroup_read_number(const char *path, const char *file);
/* The number after "key " in a flat keyed file of the cgroup (memory.events), -1 if none. */
long long vps_cgroup_read_key(const char *path, const char *file, const char *key);
/* Kills every process in the cgroup (cgroup.kill). */
int vps_cgroup_kill(const char *path, vps_error *err);
/* Removes the cgroup and any sub-cgroups the guest made, at any depth, within cg->remove_ms:
 * -ETIMEDOUT then, what is left in place for a later vps_cgroup_remove or a removal off the
 * caller's loop (vps_rm_start with VPS_RM_CGROUP on the parent's fd). ENOENT is not an
 * error. */
int vps_cgroup_remove(const struct vps_cgroups *cg, const char *path, vps_error *err);
/* Is pid a member of path (or of a cgroup below it)? */
bool vps_cgroup_has_pid(const struct vps_cgroups *cg, const char *path, int pid);

/* Freezing (runtime/cgroup/freeze.c, cgroup.freeze). vps_cgroup_freeze_begin only asks (the
 * kernel stops each task at its next return to user space); vps_cgroup_is_frozen reads
 * cgroup.events (an fd of vps_cgroup_events_open, which raises POLLPRI when it changes): 1
 * once every task has stopped. vps_cgroup_freeze does both and waits, at most timeout_ms; on a
 * timeout it thaws again and returns EBUSY: for a child, never for an event loop (a guest can
 * put "frozen 1" off for good). vps_cgroup_freeze_asked: cgroup.freeze as written (1, 0; -1
 * when it cannot be read). */
int vps_cgroup_freeze_begin(const char *cgroup, vps_error *err);
int vps_cgroup_thaw(const char *cgroup, vps_error *err);
int vps_cgroup_freeze_asked(const char *cgroup);
int vps_cgroup_events_open(const char *cgroup, vps_error *err);
int vps_cgroup_is_frozen(int events_fd, vps_error *err);
int vps_cgroup_freeze(const char *cgroup, unsigned int timeout_ms, vps_error *err);

/* Enables the memory, pids, cpu, io and cpuset controllers from vpsd's own cgroup (own, as in
 * /proc/self/cgroup) down to the parent, moving vpsd into a "vpsd" leaf when its cgroup must
 * hand out controllers. Controllers the host does not have are left alone. */
void vps_cgroups_delegate(const struct vps_cgroups *cg, const char *own);
/* Finds the disk (a whole disk: io.max refuses partitions) that holds the directory
 * storage_fd, for --iolimit and --iopslimit; none on a filesystem without a block device. */
void vps_cgroups_find_iodev(struct vps_cgroups *cg, int storage_fd);
/* Can l be enforced under the parent? strict: an error naming the missing controller;
 * otherwise the problems go to warn (empty when none). */
int vps_cgroup_check_limits(const struct vps_cgroups *cg, const struct vps_limits *l, bool strict,
                            char *warn, size_t warn_size, vps_error *err);
/* Writes l into the VPS cgroup at path (old: the limits in force, for removals). */
int vps_cgroup_apply_limits(const struct vps_cgroups *cg, const char *path,
                            const struct vps_limits *l, const struct vps_limits *old, bool strict,
                            char *warn, size_t warn_size, vps_error *err);

/* The host's kernel limits that VPSes draw on (runtime/cgroup/hostlimits.c). */

#include <stdbool.h>
#include <stddef.h>

#define VPS_HOST_LIMIT_LINE 200

/* Reads the limits that matter to many VPSes, raises those below what many VPSes need
 * (inotify, keys, aio, map count, neighbours; each VPS is one host user to the per-user
 * ones: spawn.c), and describes each in one line for vpsd's log. Returns the number of
 * lines (at most max; 11 today). */
size_t vps_host_limits(char (*ret)[VPS_HOST_LIMIT_LINE], size_t max, unsigned int devpts_max);
