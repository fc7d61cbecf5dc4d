/* libvps: the catch-up pass of a live copy (vps_tree_copy_catch_up), run while the VPS is
 * frozen: the first pass copied its upper layer while it ran and recorded, for each inode,
 * what stat said before the copy began. Here every entry of the source is compared with that
 * record and with its copy; only what differs is done again: new entries, entries whose
 * ctime (moved by any change of data, metadata, xattrs or links; the guest cannot set it),
 * mtime, size, type or mode differ or whose copy is not the one recorded, and entries of the
 * copy the source no longer has, which are removed. The cost follows what changed while the
 * first pass ran, plus a stat of every entry of the source. The copy's side is read with
 * getdents64 (name, inode, type) once per directory instead of a stat per entry: a system
 * call costs microseconds, and the VPS is frozen while this runs. The names of one inode end
 * on one copy, whichever of them the first pass met first or linked. */
#include "storage/treecopy.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The entries of a directory of the copy, as getdents64 gave them, sorted by name. The
 * catch-up looks each name up before it changes that name, and no name twice, so the list
 * read on entering the directory stays true for every lookup. */
struct tc_names {
        char *raw;
        struct dirent64 **v;
        size_t n;
};

void tc_names_free(struct tc_names *n)
{
        if (!n)
                return;
        free(n->raw);
        free(n->v);
        free(n);
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp((*(struct dirent64 *const *)a)->d_name,
                      (*(struct dirent64 *const *)b)->d_name);
}

/* The raw records of the directory fd into n->raw (grown as needed), their length in *ret_len. */
static int names_fill(int fd, struct tc_names *n, size_t *ret_len, vps_error *err)
{
        size_t len = 0, cap = 0;
        for (;;) {
                if (cap - len < 4096) {
                        char *raw = realloc(n->raw, cap = cap ? 2 * cap : 1 << 15);
                        if (!raw)
                                return vps_err(err, ENOMEM, "out of memory");
                        n->raw = raw;
                }
                ssize_t k = getdents64(fd, n->raw + len, cap - len);
                if (k < 0)
                        return vps_err_sys(err, errno, "reading a directory of the copy");
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        *ret_len = len;
        return 0;
}

static int names_read(int dir, struct tc_names **ret, vps_error *err)
{
        _cleanup_close_ int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "reading a directory of the copy");
        struct tc_names *n = calloc(1, sizeof(*n));
        if (!n)
                return vps_err(err, ENOMEM, "out of memory");
        size_t len = 0, count = 0;
        int r = names_fill(fd, n, &len, err);
        for (size_t i = 0; r == 0 && i < len; i += ((struct dirent64 *)(n->raw + i))->d_reclen)
                count++;
        if (r == 0 && !(n->v = calloc(count ? count : 1, sizeof(*n->v))))
                r = vps_err(err, ENOMEM, "out of memory");
        if (r < 0) {
                tc_names_free(n);
                return r;
        }
        for (size_t i = 0; i < len; i += ((struct dirent64 *)(n->raw + i))->d_reclen) {
                struct dirent64 *de = (struct dirent64 *)(n->raw + i);
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n->v[n->n++] = de;
        }
        qsort(n->v, n->n, sizeof(*n->v), name_cmp);
        *ret = n;
        return 0;
}

/* What the copy of name is in the directory f->dst: its inode and type in d (from the list;
 * a stat where the file system gives no type); 1 when there, 0 when not. */
static int dst_lookup(struct frame *f, const char *name, struct stat *d, vps_error *err)
{
        struct dirent64 key_de, *key = &key_de, **hit = NULL;
        if (strlen(name) < sizeof(key_de.d_name)) {
                strcpy(key_de.d_name, name);
                hit = bsearch(&key, f->names->v, f->names->n, sizeof(*f->names->v), name_cmp);
        }
        if (!hit)
                return 0;
        if ((*hit)->d_type == DT_UNKNOWN) {
                if (fstatat(f->dst, name, d, AT_SYMLINK_NOFOLLOW) < 0)
                        return vps_err_sys(err, errno, "stat the copy of %s", name);
                return 1;
        }
        *d = (struct stat){.st_ino = (ino_t)(*hit)->d_ino, .st_mode = DTTOIF((*hit)->d_type)};
        return 1;
}

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

/* On entering a directory: the list of its copy's entries; and the entries of the copy that
 * the source directory no longer has, removed. None when the directory is unchanged since
 * the first pass read it (adding, removing or renaming an entry moves its ctime), and its
 * copy is the one made then. */
static int enter(struct copy *c, struct frame *f, vps_error *err)
{
        int r = names_read(f->dst, &f->names, err);
        if (r < 0)
                return r;
        struct stat self;
        if (fstat(f->dst, &self) < 0)
                return vps_err_sys(err, errno, "stat a directory's copy");
        if (current(c, &f->st, &self))
                return 0;
        for (size_t i = 0; i < f->names->n; i++) {
                const char *name = f->names->v[i]->d_name;
                struct stat st;
                if (fstatat(f->src_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                if (errno != ENOENT)
                        return vps_err_sys(err, errno, "stat %s", name);
                if (fstatat(f->dst, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return vps_err_sys(err, errno, "stat the copy of %s", name);
                if ((r = remove_entry(f->dst, name, &st, err)) < 0)
                        return r;
                f->changed = true;
        }
        return 0;
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
        int r = dst_lookup(f, name, &d, err);
        if (r < 0)
                return r;
        bool have = r == 1;
        if (S_ISDIR(st.st_mode)) {
                if (have && !S_ISDIR(d.st_mode)) {
                        if ((r = remove_entry(f->dst, name, &d, err)) < 0)
                                return r;
                        have = false;
                }
                f->changed |= !have;
                if ((r = tc_push_dir(c, stack, depth, f->src_fd, f->dst, name, &st, err)) < 0)
                        return r;
                return enter(c, &stack[*depth - 1], err);
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
        r = enter(c, &stack[0], err);
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
