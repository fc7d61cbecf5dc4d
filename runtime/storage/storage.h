/* Snapshots of a VPS's upper layer (storage/snapshot.c), the freeze-and-capture primitive
 * they and backups share (storage/capture.c), and the exact tree copy under both
 * (storage/treecopy.c).
 *
 * On disk: ROOT/vps/ID/snapshots/NAME/{meta.json,upper/}, root's alone (0700). A snapshot
 * is made in snapshots/.tmp-NAME and published by one rename; a delete renames it to
 * .del-NAME; a switch copies into ID/.switch-upper and exchanges it with upper/
 * (RENAME_EXCHANGE), the old layer then renamed to ID/.del-upper; a mount is recorded in
 * NAME/mount.json. The .del-* names (VPS_TRASH_PREFIX, .N added while one is there) hold a
 * guest's files of any size and depth: these functions never remove them, the caller does,
 * off its loop (vpsd: trash.c, a child process), and looks for them at start-up.
 * vps_snapshot_recover removes the other debris at start-up, and thaws a VPS a crash left
 * frozen. Snapshot files carry no project id: they
 * do not count toward the VPS's --diskspace; their size is in meta.json. */
#pragma once

/* Disk limits of a VPS (--diskspace, --diskinodes) through project quotas (quota/). */

#include <stdint.h>

#include "config/config.h"
#include "vps/error.h"

struct vps_manager;
struct json_t;

/* At open: can the storage root enforce project quotas? Sets m->quota_ok, m->quota_fs or
 * m->quota_why. */
void vps_disk_probe(struct vps_manager *m);
/* Refuses disk limits the root cannot enforce (or, in warn mode, adds to m->warning). */
int vps_disk_check(struct vps_manager *m, const struct vps_limits *l, vps_error *err);
/* At create, in the new VPS's dir dir_fd: a project id for upper/ and work/ (saved in
 * cfg->projid) with cfg's limits. Nothing when the root has no project quotas. */
int vps_disk_setup(struct vps_manager *m, int dir_fd, struct vps_config *cfg, vps_error *err);
/* Writes cfg's disk limits when they differ from old (on a VPS without a project yet, puts
 * its tree into one first). Adds a warning when usage is already above a new limit. */
int vps_disk_apply(struct vps_manager *m, int dir_fd, struct vps_config *cfg,
                   const struct vps_limits *old, vps_error *err);
/* Puts back the limits old after a later step of a change failed. */
void vps_disk_restore(struct vps_manager *m, uint32_t projid, const struct vps_limits *old);
/* After the VPS's files are gone: the project's limits removed, the id free again. */
void vps_disk_release(struct vps_manager *m, uint32_t projid);
/* Sets "diskspace" and "diskinodes" of obj to {"used", "soft", "hard"} or null. */
void vps_disk_usage_json(const struct vps_manager *m, const struct vps_config *cfg,
                         struct json_t *obj);

#include <stdbool.h>
#include <stdint.h>

#include "inst/inst.h"

struct json_t;

/* ------------------------------------------------------------------ tree copy */
#define VPS_COPY_DEPTH_MAX 1024

struct vps_copy_stats {
        uint64_t files;     /* entries copied, directories and links included */
        uint64_t bytes;     /* allocated bytes of the source's regular files */
        uint64_t reflinked; /* regular files reflinked rather than copied */
};

/* How far a copy has come, for its caller to show: fn gets the figures so far (bytes: those of
 * the files done, and the data copied of the one under way) every 256 entries or 8 MiB of
 * data, and once at the end of the walk; never during the catch-up of a live copy (the VPS is
 * frozen then). */
struct vps_copy_progress {
        void (*fn)(void *arg, const struct vps_copy_stats *done);
        void *arg;
};

struct vps_copy_opts {
        bool no_reflink; /* always copy the data (benchmarks, tests) */
        /* Owners in [shift_from, shift_from + shift_count) move to shift_to + the offset
         * (a clone's new id range); shift_count 0: owners kept. */
        uint32_t shift_from, shift_to, shift_count;
        const struct vps_copy_progress *progress; /* NULL: none */
};

/* Copies what is in the directory src_fd into the existing, empty directory dst_fd (whose
 * owner, mode, xattrs and times become src_fd's). Nothing is followed; holes kept. */
int vps_tree_copy(int src_fd, int dst_fd, const struct vps_copy_opts *o, struct vps_copy_stats *ret,
                  vps_error *err);

/* A copy of a tree that changes meanwhile (a running VPS's upper layer), in two passes:
 * vps_tree_copy_live copies src_fd into the empty dst_fd while the source may change (entries
 * that vanish meanwhile are skipped) and records what each inode was before its copy began;
 * once the source is still (its VPS frozen), vps_tree_copy_catch_up makes dst an exact copy
 * of it by doing again only what differs (new, changed and removed entries), *ret then
 * describing the whole copy. vps_live_copy_free after either. */
struct vps_live_copy;
int vps_tree_copy_live(int src_fd, int dst_fd, const struct vps_copy_opts *o,
                       struct vps_live_copy **ret, vps_error *err);
int vps_tree_copy_catch_up(struct vps_live_copy *lc, struct vps_copy_stats *ret, vps_error *err);
void vps_live_copy_free(struct vps_live_copy *lc);
static inline void vps_live_copy_freep(struct vps_live_copy **p)
{
        vps_live_copy_free(*p);
}

/* Entries and the allocated bytes of the regular files under dir_fd, as a copy counts them
 * (the figures of a layer moved, not copied; the total a copy's progress goes to). */
int vps_tree_usage(int dir_fd, struct vps_copy_stats *ret, vps_error *err);
/* The same, p (NULL: none) told the figures so far every 256 entries and at the end. */
int vps_tree_usage_progress(int dir_fd, const struct vps_copy_progress *p,
                            struct vps_copy_stats *ret, vps_error *err);

/* ------------------------------------------------------------------ freeze and capture */
/* (The freeze itself is cgroup/cgroup.h's vps_cgroup_freeze.) */

struct vps_capture {
        uint64_t frozen_us; /* the VPS was frozen this long (0: it was not running) */
        uint64_t total_us;
        struct vps_copy_stats copy;
};

/* THE primitive for consistent copies of a VPS (snapshots, backups): copies vi's upper/
 * into the empty directory dst_fd, flushed (syncfs). A running VPS is copied while it runs,
 * then frozen while the copy catches up with what it changed meanwhile and is flushed, and
 * thawed whatever happens (vps_tree_copy_live): frozen_us follows what changed. On failure
 * dst_fd holds debris the caller removes. A VPS that is stopping is refused (EBUSY). */
int vps_capture_upper(struct vps_manager *m, struct vps_inst *vi, int dst_fd,
                      const struct vps_copy_opts *o, struct vps_capture *ret, vps_error *err);

/* ------------------------------------------------------------------ snapshots */
#define VPS_SNAPSHOT_NAME_MAX 64
#define VPS_SNAPSHOT_DESC_MAX 256

/* [A-Za-z0-9][A-Za-z0-9._-]{0,63}, no "..": refused with a one-line reason. */
int vps_snapshot_name_check(const char *name, vps_error *err);
/* name NULL or "": one from the time (UTC), "YYYYmmdd-HHMMSS". *ret: the snapshot's object
 * (as in the list, with "frozen_ms"). pr (or NULL): the copy's progress. */
int vps_snapshot_create(struct vps_manager *m, struct vps_inst *vi, const char *name,
                        const char *description, const struct vps_copy_progress *pr,
                        struct json_t **ret, vps_error *err);
/* [{name, description, created_at, size, files, frozen_ms, ostemplate, mounted}...],
 * oldest first. */
int vps_snapshot_list(struct vps_manager *m, struct vps_inst *vi, struct json_t **ret,
                      vps_error *err);
/* Renamed to snapshots/.del-NAME (.N): gone from the list at once, its files the caller's. */
int vps_snapshot_delete(struct vps_manager *m, struct vps_inst *vi, const char *name,
                        vps_error *err);
/* The upper layer of a stopped VPS replaced by a copy of the snapshot's (EBUSY when it
 * runs); the old one left as ID/.del-upper (.N) for the caller to remove. pr (or NULL): the
 * copy's progress; *ret: its figures. */
int vps_snapshot_switch(struct vps_manager *m, struct vps_inst *vi, const char *name,
                        const struct vps_copy_progress *pr, struct vps_copy_stats *ret,
                        vps_error *err);
/* What would refuse that switch, other than the VPS running (nothing changed). */
int vps_snapshot_switch_check(struct vps_inst *vi, const char *name, vps_error *err);
/* The snapshot's directory (name checked, ENOENT when missing); *ret_snaps: ID/snapshots. */
int vps_snapshot_open(struct vps_inst *vi, int *ret_snaps, const char *name, vps_error *err);

/* storage/snapshot_mount.c: the snapshot read-only (nosuid, nodev, noexec) on dir, an empty
 * host directory given as an absolute path with no symlink and no "..", outside the state
 * root: an overlay of its upper layer over its template. */
int vps_snapshot_mount(struct vps_manager *m, struct vps_inst *vi, const char *name,
                       const char *dir, vps_error *err);
/* Unmounts it (when its directory still holds that mount) and forgets it; ret_dir: where. */
int vps_snapshot_umount(struct vps_manager *m, struct vps_inst *vi, const char *name, char *ret_dir,
                        size_t size, vps_error *err);
/* Every mounted snapshot of vi unmounted (before a destroy). */
void vps_snapshot_umount_all(struct vps_manager *m, struct vps_inst *vi);
/* Where the snapshot (its directory fd) is mounted now, or NULL. */
const char *vps_snapshot_mounted_at(int snap_fd, char *buf, size_t size);
/* {"count": N, "size": BYTES} of vi's snapshots, for stats. */
struct json_t *vps_snapshot_usage(struct vps_inst *vi);
/* At start-up, per VPS: removes the debris of snapshot operations a crash cut short and
 * thaws a running VPS left frozen. */
void vps_snapshot_recover(struct vps_manager *m, struct vps_inst *vi);

/* ------------------------------------------------------------------ reinstall */
/* storage/reinstall.c: a stopped VPS gets a fresh, empty upper layer over ostemplate (NULL or
 * "": its own), its ID, limits, addresses and hostname kept; keep: the old layer becomes the
 * snapshot "reinstall-YYYYmmdd-HHMMSS" (its name in ret_snapshot, "" without); without keep
 * it is left as ID/.del-upper (.N) for the caller to remove. Done or not begun after a
 * crash (a journal, finished at start-up by vps_reinstall_recover). The old layer is walked
 * for the kept snapshot's figures (the step that takes time): progress (NULL: none) follows
 * that walk. */
int vps_reinstall(struct vps_manager *m, struct vps_inst *vi, const char *ostemplate, bool keep,
                  const struct vps_copy_progress *progress, char *ret_snapshot, size_t size,
                  vps_error *err);
void vps_reinstall_recover(struct vps_manager *m, struct vps_inst *vi);
