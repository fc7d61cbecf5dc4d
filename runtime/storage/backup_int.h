/* libvps: what the files of the backup reader (backup_read.c, backup_check.c,
 * backup_restore.c) share; not part of the library's interface. */
#pragma once

#include "storage/backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>

#define VPS_BK_META_MAX   (64 * 1024)
#define VPS_BK_CONFIG_MAX (1024 * 1024)

/* An archive's bytes from a vps_backup_reader, for libarchive. */
struct src {
        vps_backup_reader rd;
        void *arg;
        char buf[128 * 1024];
};

/* A reader of tar through zstd over s (EBADMSG when it is not one). */
struct archive *vps_bk_open_reader(struct src *s, vps_error *err);
/* An entry's name, "" when it has none (a hostile header). */
const char *vps_bk_name_of(struct archive_entry *e);
/* The whole content of the current entry, at most max bytes (malloc'd, NUL added). */
int vps_bk_read_small(struct archive *a, struct archive_entry *e, size_t max, char **ret,
                      size_t *ret_len, vps_error *err);
/* The first entry, vpsbackup.json, read and checked. */
int vps_bk_read_info(struct archive *a, struct vps_backup_info *info, vps_error *err);

/* --- restore (backup_restore.c, backup_check.c) --- */
struct rctx {
        const struct vps_restore_opts *o;
        struct archive *in, *out;
        struct vps_manifest seen;
        struct vps_backup_progress p;
        bool full, want_root;
        vps_error *err;
};

/* Why path may not be written ("an absolute path", ...), or NULL. */
const char *vps_bk_escape_of(const char *p);
/* "upper", "upper/...", "root", "root/...": which tree, or NULL. */
const char *vps_bk_tree_of(const char *p);
/* The directory holding path (relative to the staging directory), reached without any
 * symlink and without leaving it; -ENOENT when a component is missing. */
int vps_bk_open_parent(int staging, const char *path, const char **ret_base);
/* Owners, ACL qualifiers and a capability's root id into the new range. */
int vps_bk_remap(struct rctx *c, struct archive_entry *e, bool upper, const char *path);
/* A path of an earlier archive of the chain in the way of an entry of another type. */
int vps_bk_clear_way(struct rctx *c, const char *path, mode_t type);
/* Everything about an entry that must hold before it is written. */
int vps_bk_check_entry(struct rctx *c, struct archive_entry *e, const char *path);
