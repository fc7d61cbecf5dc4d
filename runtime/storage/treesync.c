/* libvps: the catch-up pass of a live copy (vps_tree_copy_catch_up), run while the VPS is
 * frozen: the first pass copied its upper layer while it ran and recorded, for each inode,
 * what stat said before the copy began. Here every entry of the source is compared with that
 * record and with its copy; only what differs is done again: new entries, entries whose
 * ctime (moved by any change of data, metadata, xattrs or links; the guest cannot set it),
 * mtime, size, type or mode differ or whose copy is not the one recorded, and entries of the
 * copy the source no longer has, which are removed. The cost follows what changed while the
 * first pass ran, plus a stat of every entry on both sides. The names of one inode end on one
 * copy, whichever of them the first pass met first or linked. */
#include "storage/treecopy.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static bool ts_eq(struct timespec a, struct timespec b)
{
        return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The copy d of the source entry st is what the first pass made of it, and st unchanged. */
static bool current(const struct copy *c, const struct stat *st, const struct stat *d)
{
        const struct seen *s = tc_seen_find(c, st->st_ino);
        return s && s->dst_ino == d->st_ino && ts_eq(s->ctime, st->st_ctim) &&
               ts_eq(s->mtime, st->st_mtim) && s->size == st->st_size && s->mode == st->st_mode &&
               (d->st_mode & S_IFMT) == (st->st_mode & S_IFMT);
}

static int remove_entry(int dir, const char *name, const struct stat *d, vps_error *err)
{
        if (S_ISDIR(d->st_mode))
                return vps_rm_rf_at(dir, name, err);
        if (unlinkat(dir, name, 0) < 0)
                return vps_err_sys(err, errno, "removing the stale copy of %s", name);
        return 0;
}

/* Entries of the copy f->dst that the source directory no longer has: removed. None when
 * the directory is unchanged since the first pass read it (adding, removing or renaming an
 * entry moves its ctime), and its copy is the one made then. */
static int prune(struct copy *c, struct frame *f, vps_error *err)
{
        struct stat self;
        if (fstat(f->dst, &self) < 0)
                return vps_err_sys(err, errno, "stat a directory's copy");
        if (current(c, &f->st, &self))
                return 0;
        int fd = openat(f->dst, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return vps_err_sys(err, errno, "reading a directory of the copy");
        }
        int r = 0;
        struct dirent *de;
        while (r == 0 && (errno = 0, de = readdir(d))) {
                struct stat st;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    fstatat(f->src_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                if (errno != ENOENT) {
                        r = vps_err_sys(err, errno, "stat %s", de->d_name);
                        break;
                }
                if (fstatat(f->dst, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = vps_err_sys(err, errno, "stat the copy of %s", de->d_name);
                else
                        r = remove_entry(f->dst, de->d_name, &st, err);
                f->changed = true;
        }
        if (r == 0 && !de && errno)
                r = vps_err_sys(err, errno, "reading a directory of the copy");
        closedir(d);
        return r;
}

/* xattrs of the copy dst that the source src no longer has (a directory's, whose copy is
 * kept): removed, before the source's are written again. */
static int drop_xattrs(struct copy *c, int src, int dst, vps_error *err)
{
        char sp[40], dp[40];
        tc_fd_path(src, sp, sizeof(sp));
        tc_fd_path(dst, dp, sizeof(dp));
        ssize_t n = listxattr(dp, c->buf, sizeof(c->buf));
        if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
                return 0;
        if (n < 0)
                return vps_err_sys(err, errno, "listing the xattrs of a directory's copy");
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(c->buf + i) + 1) {
                const char *name = c->buf + i;
                if (getxattr(sp, name, NULL, 0) >= 0 || errno != ENODATA)
                        continue;
                if (removexattr(dp, name) < 0)
                        return vps_err_sys(err, errno, "removing xattr %s", name);
        }
        return 0;
}

/* The end of a directory: its metadata again when it or its copy changed. */
static int dir_done(struct copy *c, struct frame *f, vps_error *err)
{
        struct stat d;
        if (fstat(f->dst, &d) < 0)
                return vps_err_sys(err, errno, "stat a directory's copy");
        if (!f->changed && current(c, &f->st, &d) &&
            ts_eq(tc_seen_find(c, f->st.st_ino)->atime, f->st.st_atim))
                return 0;
        int r = drop_xattrs(c, f->src_fd, f->dst, err);
        return r < 0 ? r : tc_copy_meta(c, f->src_fd, f->dst, &f->st, "a directory", err);
}

/* The copy of name is kept: its atime brought up to date; when group is set, the copy is
 * remembered as the one further names of that source inode link to. */
static int keep(struct copy *c, struct frame *f, const char *name, const struct stat *st,
                const struct stat *group, vps_error *err)
{
        const struct seen *s = tc_seen_find(c, st->st_ino);
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        if (s && !ts_eq(s->atime, st->st_atim) &&
            utimensat(f->dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return vps_err_sys(err, errno, "setting the times of %s", name);
        if (group) {
                _cleanup_close_ int fd = openat(f->dst, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return vps_err_sys(err, errno, "opening the copy of %s", name);
                int r = tc_link_remember(c, group, fd, err);
                if (r < 0)
                        return r;
        }
        c->stats->files++;
        if (S_ISREG(st->st_mode))
                c->stats->bytes += (uint64_t)st->st_blocks * 512;
        return 0;
}

/* One entry of the source directory f. */
static int entry(struct copy *c, struct frame *stack, size_t *depth, const char *name,
                 vps_error *err)
{
        struct frame *f = &stack[*depth - 1];
        struct stat st, d;
        if (fstatat(f->src_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return vps_err_sys(err, errno, "stat %s", name);
        bool have = fstatat(f->dst, name, &d, AT_SYMLINK_NOFOLLOW) == 0;
        if (!have && errno != ENOENT)
                return vps_err_sys(err, errno, "stat the copy of %s", name);
        int r;
        if (S_ISDIR(st.st_mode)) {
                if (have && !S_ISDIR(d.st_mode)) {
                        if ((r = remove_entry(f->dst, name, &d, err)) < 0)
                                return r;
                        have = false;
                }
                f->changed |= !have;
                if ((r = tc_push_dir(c, stack, depth, f->src_fd, f->dst, name, &st, err)) < 0)
                        return r;
                return prune(c, &stack[*depth - 1], err);
        }
        /* The names of one source inode end on one copy: the first name met in this pass
         * decides which (its copy kept when current, else a new one), and every further name
         * links to that copy unless it is on it already. */
        struct link_seen *l = st.st_nlink > 1 ? tc_link_find(c, &st) : NULL;
        if (l && have && d.st_ino == l->dst_ino)
                return keep(c, f, name, &st, NULL, err);
        if (!l && have && current(c, &st, &d))
                return keep(c, f, name, &st, st.st_nlink > 1 ? &st : NULL, err);
        if (have && (r = remove_entry(f->dst, name, &d, err)) < 0)
                return r;
        f->changed = true;
        return tc_copy_leaf(c, f->src_fd, f->dst, name, &st, err);
}

int tc_catch_up(struct copy *c, vps_error *err)
{
        struct frame *stack = calloc(VPS_COPY_DEPTH_MAX, sizeof(*stack));
        if (!stack)
                return vps_err(err, ENOMEM, "out of memory");
        c->catching_up = true;
        c->stats->files = c->stats->bytes = 0;
        int r = tc_root_frame(c->src_root, c->dst_root, &stack[0], err);
        if (r < 0) {
                free(stack);
                return r;
        }
        size_t depth = 1;
        r = prune(c, &stack[0], err);
        while (depth > 0 && r == 0) {
                struct frame *f = &stack[depth - 1];
                errno = 0;
                struct dirent *de = readdir(f->src);
                if (!de && errno) {
                        r = vps_err_sys(err, errno, "reading a directory");
                } else if (!de) {
                        r = dir_done(c, f, err);
                        tc_frame_drop(f);
                        depth--;
                } else if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        r = entry(c, stack, &depth, de->d_name, err);
                }
        }
        while (depth > 0)
                tc_frame_drop(&stack[--depth]);
        free(stack);
        return r;
}
