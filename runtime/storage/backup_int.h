/* libvps: what the files of the backup reader (backup_read.c, backup_check.c,
 * backup_restore.c) share; not part of the library's interface. */
#pragma once

#include "storage/backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#define VPS_BK_META_MAX   (64 * 1024)
#define VPS_BK_CONFIG_MAX (1024 * 1024)

/* An archive's bytes from a vps_backup_reader, for libarchive: first pre[0] and pre[1]
 * (bytes already read from rd, when they are set), then rd. */
struct src {
        vps_backup_reader rd;
        void *arg;
        const void *pre[2];
        size_t pre_len[2];
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

/* The pages of len bytes at p, about to be written, made present at once (one madvise, not
 * a fault per page; nothing done below 64 KiB or where the kernel lacks it). */
static inline void vps_prefault(void *p, size_t len)
{
        uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
        uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)4095;
        if (e > a + (64u << 10))
                (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

/* --- the MANIFEST's text (backup_manifest.c, backup_manifest_fmt.c) --- */
#define VPS_MF_HEADER "vpsbackup-manifest %d\n"
/* A path's byte written as it is (else as %XX). */
static inline bool vps_mf_plain_byte(unsigned char c)
{
        return c > 0x20 && c < 0x7f && c != '%';
}
/* The text of m, put out in pieces of about 64 KiB (put returns 0 or -errno), after its
 * length is known (vps_manifest_format_size): so a MANIFEST goes into the archive without
 * being held whole. 0, or put's -errno. */
size_t vps_manifest_format_size(const struct vps_manifest *m);
int vps_manifest_format_to(const struct vps_manifest *m,
                           int (*put)(void *arg, const void *buf, size_t len), void *arg);

/* --- a file's content hash by the format (backup_hash.c) --- */
struct vps_zhash {
        struct sha256_ctx h;
        int version;
        uint64_t done; /* format 1: the bytes hashed */
        uint64_t blk;  /* format 2: the block in b, when pending */
        bool pending;
        uint8_t b[4096];
};
void vps_zhash_init(struct vps_zhash *z, int version);
/* len bytes at off (at or past the end of the data before it; zeros in between). */
void vps_zhash_data(struct vps_zhash *z, uint64_t off, const void *buf, size_t len);
void vps_zhash_finish(struct vps_zhash *z, uint64_t size, char out[65]);

/* --- restore (backup_restore.c, backup_check.c) --- */
struct rctx {
        const struct vps_restore_opts *o;
        struct archive *in, *out;
        struct vps_manifest seen;
        struct vps_backup_progress p;
        bool full, want_root;
        int version; /* the archive's format: its content hashes */
        struct vps_zhash zh;
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
/* Everything about an entry that must hold before it is written; *ret_dfd: its parent
 * directory, reached as vps_bk_open_parent does (the caller closes it). */
int vps_bk_check_entry(struct rctx *c, struct archive_entry *e, const char *path, int *ret_dfd);

/* --- an incremental's walk (backup_walk.c) --- */

struct vps_bk_wnode; /* a directory's entries */
/* A file met by the walk: what lstat said, a symlink's target, a directory's entries. */
struct vps_bk_went {
        size_t name; /* its name: vps_bk_wnode_name */
        mode_t mode;
        uid_t uid;
        gid_t gid;
        uint64_t size, ino;
        int64_t mtime_ns, ctime_ns;
        char *link;               /* a symlink's target */
        struct vps_bk_wnode *sub; /* a directory walked into (not a mount point) */
};
struct vps_bk_walk {
        struct vps_bk_went top; /* the tree's top; top.sub its entries */
        struct vps_bk_wnode *root, *stack;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_t threads[4];
        int nthreads, top_fd, error;
        size_t pending, mem;
        unsigned open_fds;
        dev_t dev;
        bool skip_unstatable, started;
};
/* Starts walking top (lstat only) in threads; skip_unstatable: names that can't be
 * stat'ed are left out rather than failing the walk. 0 or -errno (nothing started). */
int vps_bk_walk_start(struct vps_bk_walk *w, const char *top, bool skip_unstatable);
/* Waits for the walk's end: 0, or the -errno that stopped it (the caller then walks as
 * before, without it). */
int vps_bk_walk_finish(struct vps_bk_walk *w);
void vps_bk_walk_free(struct vps_bk_walk *w);
const char *vps_bk_wnode_name(const struct vps_bk_wnode *n, const struct vps_bk_went *e);
size_t vps_bk_wnode_count(const struct vps_bk_wnode *n);
const struct vps_bk_went *vps_bk_wnode_entry(const struct vps_bk_wnode *n, size_t i);

/* --- an entry read again by a path the kernel takes (backup_src.c) --- */
struct vps_bk_src {
        const char *top; /* the tree's top (absolute) */
        int top_fd;      /* -1 until needed */
        char *dir;       /* the directory held, below the top */
        size_t dir_len, dir_cap;
        int dir_fd;
        char buf[64 + 256]; /* "/proc/self/fd/N/NAME" */
};
#define VPS_BK_SRC_INIT(t) ((struct vps_bk_src){.top = (t), .top_fd = -1, .dir_fd = -1})
/* src (top/...) as a path to read it by: src itself when shorter than PATH_MAX, else one
 * through its directory's fd (valid until the next call). 0 or -errno. */
int vps_bk_src_path(struct vps_bk_src *s, const char *src, const char **ret);
void vps_bk_src_free(struct vps_bk_src *s);

/* --- writing (backup.c, backup_visit.c) --- */

/* A backup being written. */
struct vps_bk_wctx {
        const struct vps_backup_opts *o;
        struct archive *out;
        struct vps_manifest mf, base;
        struct vps_backup_progress p;
        struct vps_backup_result *res;
        char *buf;
        struct vps_zhash *zh;
        void *zeros;            /* a read-only mapping of zeros, for holes */
        struct vps_bk_src *src; /* the tree being walked */
        vps_error *err;
};

/* A link resolver, in a struct so that a pointer to it can be passed on. */
struct archive_linkresolver_pair {
        struct archive_entry_linkresolver *lr;
};
static inline void linkresolver_freep(struct archive_linkresolver_pair *l)
{
        if (l->lr)
                archive_entry_linkresolver_free(l->lr);
}

/* The MANIFEST's entry of a file as lstat describes it (no hash yet). */
void vps_bk_mf_of_stat(const struct vps_bk_wctx *c, const struct stat *st, char *name,
                       struct vps_mf_entry *m);
/* b (the base's entry, or NULL) and now agree on everything lstat tells. */
bool vps_bk_unchanged(const struct vps_mf_entry *b, const struct vps_mf_entry *now);
/* e (read by disk, its name set) unchanged from b, or into the archive with its content. */
int vps_bk_put_entry(struct vps_bk_wctx *c, struct archive *disk,
                     struct archive_linkresolver_pair *lp, struct archive_entry *e, const char *src,
                     struct vps_mf_entry *m, const struct vps_mf_entry *b);
/* A disk reader as the backup uses it (lstat_only: no xattrs, ACLs or sparse maps). */
struct archive *vps_bk_disk_new(bool lstat_only);
/* One tree (upper/ or root/) into the archive under prefix, walked by libarchive. */
int vps_bk_add_tree(struct vps_bk_wctx *c, const char *path, const char *prefix);
/* An incremental's tree: from the threaded walk w (started on path), or by libarchive
 * where that walk could not go; w is freed. */
int vps_bk_add_tree_incr(struct vps_bk_wctx *c, struct vps_bk_walk *w, const char *path,
                         const char *prefix);

/* --- zstd frames (backup_frames.c) --- */

/* The writer's tar (pax, unfiltered) into zstd frames, written by write(arg). */
struct vps_bk_frames {
        ssize_t (*write)(void *arg, const void *buf, size_t len);
        void *arg;
        struct ZSTD_CCtx_s *z; /* every frame's compressor (libzstd's) */
        uint8_t *zout;         /* its output buffer (ZSTD_CStreamOutSize bytes) */
        uint8_t *small;        /* the frame's bytes so far, while it is small */
        size_t small_len;
        bool streaming;      /* past small: compressed as it comes */
        size_t manifest_len; /* the MANIFEST's length, set before its frame: its jobs' size */
};
/* Opens tar (its format set) onto the first frame. */
int vps_bk_frames_open(struct vps_bk_frames *f, struct archive *tar, vps_error *err);
/* Ends the current frame after the current entry; with manifest_next, the mark of the
 * MANIFEST's frame follows. */
int vps_bk_frames_cut(struct vps_bk_frames *f, struct archive *tar, bool manifest_next,
                      vps_error *err);
int vps_bk_frames_close(struct vps_bk_frames *f, struct archive *tar, vps_error *err);
void vps_bk_frames_free(struct vps_bk_frames *f);

/* --- frames walked undecompressed, the MANIFEST's mark (backup_marks.c) --- */

/* The raw bytes of an archive, walked frame by frame without decompressing. */
#define VPS_BK_CAP_MAX (2u << 20)
struct vps_bk_rawin {
        vps_backup_reader rd;
        void *arg;
        uint8_t buf[1024 * 1024];
        size_t pos, len;
        bool capturing; /* keep what is consumed in cap (at most VPS_BK_CAP_MAX bytes) */
        uint8_t cap[VPS_BK_CAP_MAX];
        size_t cap_len;
};
enum vps_bk_frame { VPS_BK_END, VPS_BK_FRAME, VPS_BK_SKIPPABLE, VPS_BK_MARK };
/* Consumes the next frame and says what it was (VPS_BK_END: the stream ended between
 * frames). -EBADMSG on anything that is not a zstd frame, -E2BIG when a capture is full. */
int vps_bk_frame_next(struct vps_bk_rawin *r, enum vps_bk_frame *ret);
/* The last mark of a MANIFEST's frame in the final limit bytes of the file fd (size bytes):
 * 1 and the offset just after it, 0 when there is none, or -errno. */
int vps_bk_mark_find_tail(int fd, off_t size, off_t limit, off_t *ret_after);
/* Up to n bytes of buf from *pos (to len) into *out, both moved past them (*out NULL: they
 * are skipped); how many. */
size_t vps_bk_give(const uint8_t *buf, size_t *pos, size_t len, void **out, size_t n);
/* The mark's skippable frame whole: its header, then the mark's text. */
#define VPS_BK_MARK_LEN (8 + 21)
void vps_bk_mark_frame(uint8_t out[VPS_BK_MARK_LEN]);

/* --- vpsbackup.json checked (backup_peek.c) --- */
int vps_bk_parse_info(const char *text, struct vps_backup_info *ret, vps_error *err);
