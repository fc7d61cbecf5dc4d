/* libvps, private to storage/treecopy.c and storage/treesync.c: the state of a tree copy,
 * shared by the first pass of a live copy (taken while the VPS runs) and the catch-up pass
 * that brings it up to date while the VPS is frozen. */
#pragma once

#include "storage/storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

/* One inode met with more than one link: where its first copy is, as a file handle. */
struct link_seen {
        dev_t dev;
        ino_t ino;
        ino_t dst_ino; /* of the copy */
        struct file_handle *fh;
};

struct frame {
        DIR *src;
        int dst;
        struct stat st; /* of the source dir, applied to the copy once its entries are in */
        int src_fd;
        bool changed;           /* catch-up: an entry of the copy was added or removed */
        struct tc_names *names; /* catch-up: the entries of dst, read once on entering it */
};

/* What an inode was when the first pass began to copy it (stat taken before the copy):
 * its copy is current while ctime (which any change of data or metadata moves, and the
 * guest cannot set) and the rest are the same and the copy is still dst_ino. */
struct seen {
        ino_t ino; /* 0: a free slot */
        ino_t dst_ino;
        struct timespec ctime, mtime, atime; /* atime: a read moves it, not ctime */
        off_t size;
        mode_t mode;
};

struct copy {
        const struct vps_copy_opts *o;
        struct vps_copy_stats *stats;
        struct link_seen *links;
        size_t n_links, cap_links;
        int mount_fd;     /* for open_by_handle_at of the copies */
        bool no_clone;    /* FICLONE refused once: this file system has no reflinks */
        bool live;        /* first pass of a live copy: entries that vanish are skipped, and
                           * every entry copied is recorded in seen */
        bool catching_up; /* the catch-up pass: a directory may be there already */
        struct seen *seen;
        size_t n_seen, cap_seen;
        uint64_t pr_files, pr_bytes; /* the figures o->progress was last given */
        int src_root, dst_root;
        char buf[1 << 16];
};

void tc_fd_path(int fd, char *buf, size_t size);
int tc_copy_xattrs(struct copy *c, int src, int dst, const char *what, vps_error *err);
int tc_copy_meta(struct copy *c, int src, int dst, const struct stat *st, const char *what,
                 vps_error *err);
struct link_seen *tc_link_find(struct copy *c, const struct stat *st);
/* The copy dst (an fd of it) of the source inode st: further names of st link to it. */
int tc_link_remember(struct copy *c, const struct stat *st, int dst, vps_error *err);
void tc_links_clear(struct copy *c);
int tc_copy_leaf(struct copy *c, int src_dir, int dst_dir, const char *name, const struct stat *st,
                 vps_error *err);
void tc_frame_drop(struct frame *f);
/* The first frame of a walk: the directories src_fd and dst_fd opened anew. */
int tc_root_frame(int src_fd, int dst_fd, struct frame *f, vps_error *err);
int tc_push_dir(struct copy *c, struct frame *stack, size_t *depth, int src_dir, int dst_dir,
                const char *name, const struct stat *st, vps_error *err);
/* The record of ino, NULL when the first pass did not copy it. */
const struct seen *tc_seen_find(const struct copy *c, ino_t ino);
/* storage/treeprogress.c: the figures so far (partial: data copied of the file under way) to
 * o->progress when due (every 256 entries or 8 MiB) or at once (now); none while catching up. */
void tc_progress(struct copy *c, uint64_t partial, bool now);
/* The most copy_file_range copies at once while a caller follows the progress. */
#define TC_PROGRESS_CHUNK ((size_t)8 << 20)
/* storage/treesync.c: the catch-up pass. */
int tc_catch_up(struct copy *c, vps_error *err);
void tc_names_free(struct tc_names *n);
