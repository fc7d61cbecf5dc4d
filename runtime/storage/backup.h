/* libvps: backups of a VPS (runtime/storage/backup*.c). One archive, tar (pax) through zstd:
 *
 *   vpsbackup.json  format, architecture, VPS id, template name and version, kind
 *                   ("upper" or "full"), and for an incremental its base's backup id
 *   config.json     the VPS's configuration as it was
 *   upper/...       the VPS's upper layer (owners relative to the VPS's id range)
 *   root/...        --full only: the merged root, so it restores without the template
 *   MANIFEST        last: one line per path (backup_manifest.c), a SHA-256 per file
 *
 * in zstd frames (backup_frames.c): the two first entries, the trees, then a skippable
 * frame marking the MANIFEST's own frame, so vps_backup_peek reaches it without
 * decompressing the trees (an archive of one frame, from an older vpsd, reads as well).
 *
 * An incremental archive holds only what changed since its base (the base archive's
 * MANIFEST); its MANIFEST describes the whole tree, marking what is inherited and what was
 * deleted, so the next incremental can follow it and a chain restores exactly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"

/* The format written (vpsbackup.json's "format", the MANIFEST's first line): 2 since its
 * content hashes skip zero blocks (backup_hash.c); 1 is read too, and an incremental whose
 * base is of format 1 is written in it (its hashes are those of the chain). */
#define VPS_BACKUP_FORMAT   2
#define VPS_BACKUP_META     "vpsbackup.json"
#define VPS_BACKUP_CONFIG   "config.json"
#define VPS_BACKUP_MANIFEST "MANIFEST"
/* Refused as a restore's input: a MANIFEST or a vpsbackup.json larger than this. */
#define VPS_BACKUP_MANIFEST_MAX (256u << 20)

/* --- manifest (backup_manifest.c) ------------------------------------------------------ */

enum vps_mf_kind {
        VPS_MF_HERE = '+',    /* its content is in this archive */
        VPS_MF_SAME = '=',    /* unchanged since the base: in an earlier archive */
        VPS_MF_DELETED = '-', /* was in the base, gone now */
};

struct vps_mf_entry {
        char kind;               /* enum vps_mf_kind */
        char type;               /* f d l p c b s */
        bool seen;               /* a base's: its path was met by the incremental's walk */
        uint32_t mode, uid, gid; /* uid, gid relative to the VPS's range */
        uint64_t size, ino;
        int64_t mtime_ns, ctime_ns;
        char hash[65]; /* SHA-256 hex of a file's content or a symlink's target, "-" else */
        char *path;    /* "upper/etc/x", raw bytes */
        /* Parsed: its line in the manifest's arena (its '\n' made a NUL; valid while the
         * arena is), which vps_manifest_format copies for an entry of the same fields (SAME or
         * DELETED, its kind written anew) instead of formatting it; NULL else (and for a path
         * that was escaped, unescaped in place). */
        const char *line;
        size_t line_len;
};

/* Entries stay in the order they were added (a walk's, or the text's); lookups go through
 * a hash table of the paths, filled up to date on a lookup, and first try the entry after
 * the last one found (a walk of the same tree meets the paths in the base's order). */
struct vps_manifest {
        struct vps_mf_entry *e;
        size_t n, cap;
        size_t *idx, idx_cap, nidx; /* the table (e's indices + 1); the first nidx in it */
        size_t next;                /* the entry after the last one found */
        char *arena;                /* parsed text the paths point into */
        size_t arena_len;
        bool own_arena; /* freed with it (vps_manifest_parse's copy), else the caller's */
        const struct vps_manifest *lender; /* paths in its arena are borrowed, not freed */
        int version;                       /* its format (0: VPS_BACKUP_FORMAT) */
};

void vps_manifest_free(struct vps_manifest *m);
/* Room for n entries in all (an incremental's walk holds about its base's count). */
int vps_manifest_reserve(struct vps_manifest *m, size_t n, vps_error *err);
/* Appends a copy of *e (path duplicated). */
int vps_manifest_add(struct vps_manifest *m, const struct vps_mf_entry *e, vps_error *err);
/* Appends a copy of *e whose path is m->lender's (not duplicated). */
int vps_manifest_add_lent(struct vps_manifest *m, const struct vps_mf_entry *e, vps_error *err);
/* Parses MANIFEST text; every line checked. */
int vps_manifest_parse(const char *text, size_t len, struct vps_manifest *ret, vps_error *err);
/* The same without a copy: text (len bytes) becomes the arena, changed where it is (each
 * line's '\n' made a NUL, escaped paths unescaped); it must outlive *ret and is not freed by
 * vps_manifest_free. */
int vps_manifest_parse_in_place(char *text, size_t len, struct vps_manifest *ret, vps_error *err);
/* The text of m (malloc'd). */
int vps_manifest_format(const struct vps_manifest *m, char **ret, size_t *ret_len, vps_error *err);
/* The entry for path; NULL when absent. */
struct vps_mf_entry *vps_manifest_find(struct vps_manifest *m, const char *path);
/* The lookups' table made now rather than at the first lookup (an incremental: while its walk
 * runs). */
void vps_manifest_index(struct vps_manifest *m);
/* The TYPE letter of a file of mode m (S_IFMT part; libarchive's AE_IF* are the same). */
char vps_mf_type_of(mode_t m);
/* The hex digest of a nettle SHA-256 context (which it resets). */
struct sha256_ctx;
void vps_sha256_finish_hex(struct sha256_ctx *h, char out[65]);
/* Hex of a SHA-256 over data (for a symlink's target). */
void vps_sha256_hex(const void *data, size_t len, char out[65]);

/* --- writing (backup.c) ----------------------------------------------------------------- */

struct vps_backup_progress {
        uint64_t files, bytes; /* so far: paths looked at, bytes of content read */
};

struct vps_backup_opts {
        const char *vps_id;
        const char *config_json;                         /* config.json's text */
        const char *tpl_name, *tpl_version, *tpl_distro; /* the VPS's template */
        const char *upper_path;                          /* absolute: the upper layer to read */
        const char *root_path;        /* --full: the merged root (mounted), else NULL */
        uint32_t uid_base, uid_count; /* the VPS's host id range */
        /* Incremental: the base archive's MANIFEST text (parsed in place: changed, see
         * vps_manifest_parse_in_place) and its backup id, else NULL. */
        char *base_manifest;
        size_t base_manifest_len;
        const char *base_id;
        /* Incremental: the walk of upper_path begun early (vps_backup_walk_begin), or NULL
         * (one is begun here); still the caller's to free. */
        struct vps_bk_walk *upper_walk;
        /* Where the archive's bytes go; returns len, or -errno. */
        ssize_t (*write)(void *arg, const void *buf, size_t len);
        void (*progress)(void *arg, const struct vps_backup_progress *p);
        void *arg;
};

struct vps_backup_result {
        char backup_id[33];
        uint64_t files, bytes, in_archive, deleted;
};

int vps_backup_write(const struct vps_backup_opts *o, struct vps_backup_result *ret,
                     vps_error *err);

/* An incremental's walk of upper_path (lstat of every entry, in threads: most of the cost of
 * an incremental of a tree that hardly changed) begun before the base's MANIFEST is at hand,
 * so that the walk runs while it arrives; given to vps_backup_write as opts.upper_walk. NULL
 * when out of memory (vps_backup_write walks then). */
struct vps_bk_walk *vps_backup_walk_begin(const char *upper_path);
void vps_backup_walk_free(struct vps_bk_walk *w);
static inline void vps_backup_walk_freep(struct vps_bk_walk **w)
{
        vps_backup_walk_free(*w);
}

/* --- reading (backup_read.c) ------------------------------------------------------------ */

struct vps_backup_info {
        int format;
        char arch[32], id[64], tpl_name[64], tpl_version[128], tpl_distro[32], kind[8];
        char backup_id[33], base_id[33]; /* base_id "" for a complete backup */
};

/* Reads the bytes of an archive from arg: returns the count, 0 at its end, or -errno. */
typedef ssize_t (*vps_backup_reader)(void *arg, void *buf, size_t len);

/* Reads just vpsbackup.json of an archive (the first entry) and, when ret_manifest is not
 * NULL, its MANIFEST (reading to the end, skipping the trees' frames undecompressed). */
int vps_backup_peek(vps_backup_reader rd, void *arg, struct vps_backup_info *ret_info,
                    char **ret_manifest, size_t *ret_manifest_len, vps_error *err);
/* The same from a file: the MANIFEST read from the file's end (its frame found by the mark,
 * the frames of the trees neither read nor decompressed), else read through as above. */
int vps_backup_peek_fd(int fd, struct vps_backup_info *ret_info, char **ret_manifest,
                       size_t *ret_manifest_len, vps_error *err);

struct vps_restore_opts {
        int staging_fd;    /* an empty directory: upper/ and root/ land in it */
        uint32_t uid_base; /* the new VPS's first host id */
        uint32_t uid_count;
        bool want_root; /* extract root/ of a --full backup (the template is absent) */
        /* Called with the archive's vpsbackup.json before any file: may refuse it (-errno,
         * err set) or change *want_root. */
        int (*on_info)(void *arg, const struct vps_backup_info *info, bool *want_root,
                       vps_error *err);
        uint64_t max_file_size; /* a larger claim (sparse or not) is refused */
        /* Device nodes allowed besides overlay whiteouts (0:0): major, minor pairs. */
        const unsigned int (*devs)[2];
        size_t n_devs;
        const char *expect_base; /* the backup id the archive must follow, "" for a full one */
        void (*progress)(void *arg, const struct vps_backup_progress *p);
        void *arg;
};

/* Extracts one archive (the first of a chain, or the next incremental) into the staging
 * directory; checks every entry and, at the end, everything against the MANIFEST. On error
 * the caller removes the staging directory. ret_info: the archive's vpsbackup.json;
 * ret_config: its config.json text (malloc'd). */
int vps_restore_apply(vps_backup_reader rd, void *rd_arg, const struct vps_restore_opts *o,
                      struct vps_backup_info *ret_info, char **ret_config, vps_error *err);

/* --- the stream between vpsctl and vpsd (backup_stream.c) --------------------------------
 * After the HTTP Upgrade (vps-backup, vps-restore) both ways carry frames: a type byte, a
 * 32-bit big-endian length, the payload (at most VPS_FRAME_MAX bytes).
 *   vpsd -> vpsctl: 'D' archive bytes, 'P' progress (docs/api.md), 'E' {"error","errno"}
 *                   (the end, failed), 'K' the result object (the end, done)
 *   vpsctl -> vpsd: backup: 'M' the base's MANIFEST (in pieces), 'Z' the end;
 *                   restore: 'D' archive bytes, 'N' the end of one archive of the chain,
 *                   'Z' the end of the last
 * The exec stream (vps-exec, vpsd/exec_child.c) carries its own: 'I' stdin, 'C' its end, 'W'
 * a window size, 'S' a signal; 'O' stdout, 'R' stderr, 'X' the exit status, 'E'. */
#define VPS_FRAME_MAX (1u << 20)
int vps_frame_write(int fd, char type, const void *buf, size_t len, vps_error *err);
/* Reads one frame into buf (at least VPS_FRAME_MAX bytes): its type in *ret_type and its
 * length; -ECONNRESET at a clean end of the stream between frames. */
int vps_frame_read(int fd, char *ret_type, void *buf, size_t *ret_len, vps_error *err);
/* The same in two steps, the payload read where the caller wants it: a frame's head (its type
 * and length, checked as above), then its len bytes. */
int vps_frame_read_head(int fd, char *ret_type, size_t *ret_len, vps_error *err);
int vps_frame_read_body(int fd, void *buf, size_t len, vps_error *err);
