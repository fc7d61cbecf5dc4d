/* libvps: an exact copy of a VPS's upper layer (snapshots, switch, clone): every kind of
 * file, owner, mode, times, all xattrs (the overlay's user.overlay.* marks, ACLs,
 * security.capability), hard links, holes. The source is the guest's: nothing is followed,
 * every name is taken relative to an fd of its parent. Regular files are reflinked (FICLONE)
 * where the file system can; elsewhere copied extent by extent so holes stay holes. The walk
 * keeps a stack on the heap (the guest chose the depth), bounded by VPS_COPY_DEPTH_MAX. */
#include "storage/storage.h"
#include "storage/treecopy.h"
#include "vps/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static uint32_t map_id(const struct vps_copy_opts *o, uint32_t id)
{
        if (o->shift_count && id >= o->shift_from && id - o->shift_from < o->shift_count)
                return id - o->shift_from + o->shift_to;
        return id;
}

/* A clone's new id range in the xattrs that hold ids: the named users and groups of POSIX
 * ACLs, the root id of a namespaced file capability (VFS_CAP_REVISION_3). */
static void shift_xattr(const struct vps_copy_opts *o, const char *name, char *v, size_t len)
{
        if (!o->shift_count)
                return;
        if (strcmp(name, "system.posix_acl_access") == 0 ||
            strcmp(name, "system.posix_acl_default") == 0) {
                for (size_t i = 4; i + 8 <= len; i += 8) {
                        uint16_t tag;
                        uint32_t id;
                        memcpy(&tag, v + i, 2);
                        memcpy(&id, v + i + 4, 4);
                        if (tag == 0x02 || tag == 0x08) { /* ACL_USER, ACL_GROUP */
                                id = map_id(o, id);
                                memcpy(v + i + 4, &id, 4);
                        }
                }
        } else if (strcmp(name, "security.capability") == 0 && len == 24) {
                uint32_t magic, root;
                memcpy(&magic, v, 4);
                memcpy(&root, v + 20, 4);
                if ((magic & 0xff000000u) == 0x03000000u) {
                        root = map_id(o, root);
                        memcpy(v + 20, &root, 4);
                }
        }
}

/* "/proc/self/fd/N": the xattr calls on an O_PATH fd (device nodes, fifos: never opened). */
void tc_fd_path(int fd, char *buf, size_t size)
{
        (void)snprintf(buf, size, "/proc/self/fd/%d", fd);
}

int tc_copy_xattrs(struct copy *c, int src, int dst, const char *what, vps_error *err)
{
        char sp[40], dp[40];
        tc_fd_path(src, sp, sizeof(sp));
        tc_fd_path(dst, dp, sizeof(dp));
        char names[8192];
        ssize_t n = listxattr(sp, names, sizeof(names));
        if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
                return 0;
        if (n < 0)
                return vps_err_sys(err, errno, "listing the xattrs of %s", what);
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
                const char *name = names + i;
                /* XFS's raw alias of a POSIX ACL: copied, it would undo the id shift */
                if (!strncmp(name, "trusted.SGI_ACL_", 16))
                        continue;
                ssize_t len = getxattr(sp, name, c->buf, sizeof(c->buf));
                if (len < 0)
                        return vps_err_sys(err, errno, "reading xattr %s of %s", name, what);
                shift_xattr(c->o, name, c->buf, (size_t)len);
                if (setxattr(dp, name, c->buf, (size_t)len, 0) < 0)
                        return vps_err_sys(err, errno, "writing xattr %s of %s", name, what);
        }
        return 0;
}

/* Owner, mode, xattrs (after the chown, which drops security.capability), then times. */
int tc_copy_meta(struct copy *c, int src, int dst, const struct stat *st, const char *what,
                 vps_error *err)
{
        char dp[40];
        tc_fd_path(dst, dp, sizeof(dp));
        if (fchownat(dst, "", map_id(c->o, st->st_uid), map_id(c->o, st->st_gid), AT_EMPTY_PATH) <
            0)
                return vps_err_sys(err, errno, "chown %s", what);
        if (!S_ISLNK(st->st_mode) && chmod(dp, st->st_mode & 07777) < 0)
                return vps_err_sys(err, errno, "chmod %s", what);
        if (!S_ISLNK(st->st_mode)) {
                int r = tc_copy_xattrs(c, src, dst, what, err);
                if (r < 0)
                        return r;
        }
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        if (utimensat(dst, "", ts, AT_EMPTY_PATH) < 0)
                return vps_err_sys(err, errno, "setting the times of %s", what);
        return 0;
}

/* Data: a reflink, else extent by extent (holes stay holes). */
static int copy_data(struct copy *c, int src, int dst, const struct stat *st, const char *what,
                     vps_error *err)
{
        if (!c->o->no_reflink && !c->no_clone && st->st_size > 0) {
                if (ioctl(dst, FICLONE, src) == 0) {
                        c->stats->reflinked++;
                        return 0;
                }
                if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV)
                        c->no_clone = true;
        }
        /* A file with as many blocks as its size has no hole worth looking for. */
        bool dense = (off_t)st->st_blocks * 512 >= st->st_size;
        off_t end = st->st_size, pos = 0;
        uint64_t copied = 0;
        while (pos < end) {
                off_t data = dense ? pos : lseek(src, pos, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        break;
                if (data < 0)
                        return vps_err_sys(err, errno, "reading %s", what);
                off_t hole = dense ? end : lseek(src, data, SEEK_HOLE);
                if (hole < 0)
                        return vps_err_sys(err, errno, "reading %s", what);
                off_t in = data, out = data;
                while (in < hole) {
                        size_t want = (size_t)(hole - in);
                        if (c->o->progress && want > TC_PROGRESS_CHUNK)
                                want = TC_PROGRESS_CHUNK; /* progress within a big file */
                        tc_progress(c, copied + (uint64_t)(in - data), false);
                        ssize_t k = copy_file_range(src, &in, dst, &out, want, 0);
                        if (k < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS)) {
                                /* Another file system or kernel: through the buffer. */
                                ssize_t got = pread(src, c->buf, sizeof(c->buf), in);
                                if (got < 0)
                                        return vps_err_sys(err, errno, "reading %s", what);
                                if (got == 0)
                                        break;
                                ssize_t put = pwrite(dst, c->buf, (size_t)got, out);
                                if (put < 0)
                                        return vps_err_sys(err, errno, "writing %s", what);
                                in += got;
                                out += put;
                                continue;
                        }
                        if (k < 0)
                                return vps_err_sys(err, errno, "copying %s", what);
                        if (k == 0)
                                break; /* the file shrank meanwhile */
                }
                copied += (uint64_t)(in - data);
                pos = hole;
        }
        if (!dense && ftruncate(dst, end) < 0)
                return vps_err_sys(err, errno, "writing %s", what);
        return 0;
}

struct link_seen *tc_link_find(struct copy *c, const struct stat *st)
{
        for (size_t i = 0; i < c->n_links; i++)
                if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
                        return &c->links[i];
        return NULL;
}

int tc_link_remember(struct copy *c, const struct stat *st, int dst, vps_error *err)
{
        struct stat ds;
        if (fstat(dst, &ds) < 0)
                return vps_err_sys(err, errno, "stat the copy of a hard link");
        if (c->n_links == c->cap_links) {
                size_t cap = c->cap_links ? c->cap_links * 2 : 64;
                struct link_seen *v = realloc(c->links, cap * sizeof(*v));
                if (!v)
                        return vps_err(err, ENOMEM, "out of memory");
                c->links = v;
                c->cap_links = cap;
        }
        struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
        if (!fh)
                return vps_err(err, ENOMEM, "out of memory");
        fh->handle_bytes = MAX_HANDLE_SZ;
        int mnt = 0;
        if (name_to_handle_at(dst, "", fh, &mnt, AT_EMPTY_PATH) < 0) {
                int e = errno;
                free(fh);
                return vps_err_sys(err, e, "a file handle for a hard link");
        }
        c->links[c->n_links++] = (struct link_seen){st->st_dev, st->st_ino, ds.st_ino, fh};
        return 0;
}

/* A further name of an inode already copied: a link to its copy. */
static int copy_link(struct copy *c, struct link_seen *l, int dst_dir, const char *name,
                     vps_error *err)
{
        _cleanup_close_ int fd = open_by_handle_at(c->mount_fd, l->fh, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening the copy of a hard link");
        if (linkat(fd, "", dst_dir, name, AT_EMPTY_PATH) < 0)
                return vps_err_sys(err, errno, "linking %s", name);
        c->stats->files++;
        tc_progress(c, 0, false);
        return 0;
}

/* One entry that is not a directory. */
int tc_copy_leaf(struct copy *c, int src_dir, int dst_dir, const char *name, const struct stat *st,
                 vps_error *err)
{
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                struct link_seen *l = tc_link_find(c, st);
                if (l)
                        return copy_link(c, l, dst_dir, name, err);
        }
        _cleanup_close_ int src = -1, dst = -1;
        if (S_ISREG(st->st_mode)) {
                /* A running guest may have made it a fifo since the stat (util.h). */
                if ((src = vps_open_file_at(src_dir, name, O_NOATIME)) < 0)
                        return vps_err(err, -src, "opening %s: %s", name,
                                       src == -EAGAIN ? "changed while copied" : strerror(-src));
                dst = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                             0600);
                if (dst < 0)
                        return vps_err_sys(err, errno, "creating %s", name);
                int r = copy_data(c, src, dst, st, name, err);
                if (r < 0)
                        return r;
                c->stats->bytes += (uint64_t)st->st_blocks * 512;
        } else if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(src_dir, name, target, PATH_MAX);
                if (n < 0)
                        return vps_err_sys(err, errno, "reading symlink %s", name);
                target[n] = '\0';
                if (symlinkat(target, dst_dir, name) < 0)
                        return vps_err_sys(err, errno, "creating symlink %s", name);
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode) ||
                   S_ISSOCK(st->st_mode)) {
                if (mknodat(dst_dir, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) < 0)
                        return vps_err_sys(err, errno, "creating %s", name);
        } else {
                return vps_err(err, EBADMSG, "%s: a file of unknown type", name);
        }
        if (src < 0 && (src = openat(src_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return vps_err_sys(err, errno, "opening %s", name);
        if (dst < 0 && (dst = openat(dst_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return vps_err_sys(err, errno, "opening the copy of %s", name);
        int r = tc_copy_meta(c, src, dst, st, name, err);
        if (r == 0 && st->st_nlink > 1)
                r = tc_link_remember(c, st, dst, err);
        c->stats->files++;
        tc_progress(c, 0, false);
        return r;
}

void tc_frame_drop(struct frame *f)
{
        if (f->src)
                closedir(f->src);
        vps_closep(&f->dst);
        tc_names_free(f->names);
        f->names = NULL;
}

int tc_push_dir(struct copy *c, struct frame *stack, size_t *depth, int src_dir, int dst_dir,
                const char *name, const struct stat *st, vps_error *err)
{
        if (*depth >= VPS_COPY_DEPTH_MAX)
                return vps_err(err, ELOOP, "directories nested deeper than %d levels",
                               VPS_COPY_DEPTH_MAX);
        if (mkdirat(dst_dir, name, 0700) < 0 && !(errno == EEXIST && c->catching_up))
                return vps_err_sys(err, errno, "creating %s", name);
        int s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);
        if (s < 0)
                return vps_err_sys(err, errno, "opening %s", name);
        int d = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *ds = d >= 0 ? fdopendir(s) : NULL;
        if (!ds) {
                int e = errno;
                close(s);
                if (d >= 0)
                        close(d);
                return vps_err_sys(err, e, "opening %s", name);
        }
        stack[(*depth)++] = (struct frame){.src = ds, .dst = d, .st = *st, .src_fd = s};
        c->stats->files++;
        tc_progress(c, 0, false);
        return 0;
}

/* ------------------------------------------------------------------ the record of a live copy */
static size_t seen_slot(const struct copy *c, ino_t ino)
{
        size_t i = (size_t)(ino * 0x9e3779b97f4a7c15ull) & (c->cap_seen - 1);
        while (c->seen[i].ino && c->seen[i].ino != ino)
                i = (i + 1) & (c->cap_seen - 1);
        return i;
}

const struct seen *tc_seen_find(const struct copy *c, ino_t ino)
{
        if (!c->cap_seen || !ino)
                return NULL;
        const struct seen *s = &c->seen[seen_slot(c, ino)];
        return s->ino ? s : NULL;
}

/* Records st (taken before the copy began) for the copy dst_dir/name just made. */
static int seen_put(struct copy *c, const struct stat *st, int dst_dir, const char *name,
                    vps_error *err)
{
        struct stat d;
        if (fstatat(dst_dir, name, &d, AT_SYMLINK_NOFOLLOW) < 0)
                return vps_err_sys(err, errno, "stat the copy of %s", name);
        if (!st->st_ino)
                return 0;
        if (2 * (c->n_seen + 1) > c->cap_seen) {
                size_t cap = c->cap_seen ? 2 * c->cap_seen : 1024;
                struct seen *old = c->seen;
                size_t old_cap = c->cap_seen;
                if (!(c->seen = calloc(cap, sizeof(*c->seen)))) {
                        c->seen = old;
                        return vps_err(err, ENOMEM, "out of memory");
                }
                c->cap_seen = cap;
                for (size_t i = 0; i < old_cap; i++)
                        if (old[i].ino)
                                c->seen[seen_slot(c, old[i].ino)] = old[i];
                free(old);
        }
        struct seen *s = &c->seen[seen_slot(c, st->st_ino)];
        if (!s->ino)
                c->n_seen++;
        *s = (struct seen){.ino = st->st_ino,
                           .dst_ino = d.st_ino,
                           .ctime = st->st_ctim,
                           .mtime = st->st_mtim,
                           .atime = st->st_atim,
                           .size = st->st_size,
                           .mode = st->st_mode};
        return 0;
}

/* First pass of a live copy: the guest removed or replaced the entry between the readdir and
 * the copy. It is skipped; the catch-up pass, with the guest frozen, finds it again. */
static bool vanished(int e)
{
        return e == ENOENT || e == ENOTDIR || e == ELOOP || e == ESTALE || e == EISDIR ||
               e == ENXIO || e == EINVAL || e == EAGAIN /* no longer a file */;
}

static int walk(struct copy *c, struct frame *stack, vps_error *err)
{
        size_t depth = 1;
        int r = 0;
        while (depth > 0 && r == 0) {
                struct frame *f = &stack[depth - 1];
                errno = 0;
                struct dirent *de = readdir(f->src);
                if (!de && errno) {
                        r = vps_err_sys(err, errno, "reading a directory");
                        break;
                }
                if (!de) {
                        /* Done with this directory: its own metadata, times last. */
                        r = tc_copy_meta(c, f->src_fd, f->dst, &f->st, "a directory", err);
                        if (r < 0 && c->live && vanished(err->code))
                                r = 0;
                        tc_frame_drop(f);
                        depth--;
                        continue;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(f->src_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (c->live && vanished(errno))
                                continue;
                        r = vps_err_sys(err, errno, "stat %s", de->d_name);
                        break;
                }
                int dst_dir = f->dst;
                bool fresh = !(st.st_nlink > 1 && !S_ISDIR(st.st_mode) && tc_link_find(c, &st));
                if (S_ISDIR(st.st_mode))
                        r = tc_push_dir(c, stack, &depth, f->src_fd, f->dst, de->d_name, &st, err);
                else
                        r = tc_copy_leaf(c, f->src_fd, f->dst, de->d_name, &st, err);
                if (r < 0 && c->live && vanished(err->code))
                        r = 0;
                else if (r == 0 && c->live && fresh)
                        r = seen_put(c, &st, dst_dir, de->d_name, err);
        }
        while (depth > 0)
                tc_frame_drop(&stack[--depth]);
        return r;
}

void tc_links_clear(struct copy *c)
{
        for (size_t i = 0; i < c->n_links; i++)
                free(c->links[i].fh);
        c->n_links = 0;
}

static void copy_free(struct copy *c)
{
        if (!c)
                return;
        tc_links_clear(c);
        free(c->links);
        free(c->seen);
        vps_closep(&c->src_root);
        vps_closep(&c->dst_root);
        free(c);
}

static struct copy *copy_new(const struct vps_copy_opts *o, struct vps_copy_stats *stats)
{
        static const struct vps_copy_opts none;
        struct copy *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->o = o ? o : &none;
        c->stats = stats;
        c->src_root = c->dst_root = -1;
        return c;
}

int tc_root_frame(int src_fd, int dst_fd, struct frame *f, vps_error *err)
{
        *f = (struct frame){.dst = -1};
        int s = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int d = fcntl(dst_fd, F_DUPFD_CLOEXEC, 3);
        DIR *ds = s >= 0 ? fdopendir(s) : NULL;
        if (!ds || d < 0 || fstat(s, &f->st) < 0) {
                int e = errno;
                if (ds)
                        closedir(ds);
                else if (s >= 0)
                        close(s);
                if (d >= 0)
                        close(d);
                return vps_err_sys(err, e, "opening the tree to copy");
        }
        f->src = ds;
        f->dst = d;
        f->src_fd = s;
        return 0;
}

/* The walk from the roots src_fd and dst_fd. */
static int copy_run(struct copy *c, int src_fd, int dst_fd, vps_error *err)
{
        struct frame *stack = calloc(VPS_COPY_DEPTH_MAX, sizeof(*stack));
        if (!stack)
                return vps_err(err, ENOMEM, "out of memory");
        *c->stats = (struct vps_copy_stats){0};
        c->mount_fd = dst_fd;
        int r = tc_root_frame(src_fd, dst_fd, &stack[0], err);
        if (r == 0 && c->live)
                r = seen_put(c, &stack[0].st, dst_fd, ".", err);
        if (r == 0)
                r = walk(c, stack, err);
        else
                tc_frame_drop(&stack[0]);
        if (r == 0)
                tc_progress(c, 0, true);
        free(stack);
        return r;
}

int vps_tree_copy(int src_fd, int dst_fd, const struct vps_copy_opts *o, struct vps_copy_stats *ret,
                  vps_error *err)
{
        struct copy *c = copy_new(o, ret);
        if (!c)
                return vps_err(err, ENOMEM, "out of memory");
        int r = copy_run(c, src_fd, dst_fd, err);
        copy_free(c);
        return r;
}

struct vps_live_copy {
        struct copy *c;
        struct vps_copy_stats stats;
};

void vps_live_copy_free(struct vps_live_copy *lc)
{
        if (!lc)
                return;
        copy_free(lc->c);
        free(lc);
}

int vps_tree_copy_live(int src_fd, int dst_fd, const struct vps_copy_opts *o,
                       struct vps_live_copy **ret, vps_error *err)
{
        *ret = NULL;
        struct vps_live_copy *lc = calloc(1, sizeof(*lc));
        if (!lc || !(lc->c = copy_new(o, &lc->stats))) {
                free(lc);
                return vps_err(err, ENOMEM, "out of memory");
        }
        lc->c->live = true;
        lc->c->src_root = fcntl(src_fd, F_DUPFD_CLOEXEC, 3);
        lc->c->dst_root = fcntl(dst_fd, F_DUPFD_CLOEXEC, 3);
        int r = lc->c->src_root < 0 || lc->c->dst_root < 0
                        ? vps_err_sys(err, errno, "opening the tree to copy")
                        : copy_run(lc->c, src_fd, dst_fd, err);
        if (r < 0) {
                vps_live_copy_free(lc);
                return r;
        }
        *ret = lc;
        return 0;
}

int vps_tree_copy_catch_up(struct vps_live_copy *lc, struct vps_copy_stats *ret, vps_error *err)
{
        lc->c->live = false;
        tc_links_clear(lc->c); /* the links of this pass are its own */
        int r = tc_catch_up(lc->c, err);
        *ret = lc->stats;
        return r;
}

int vps_tree_usage(int dir_fd, struct vps_copy_stats *ret, vps_error *err)
{
        return vps_tree_usage_progress(dir_fd, NULL, ret, err);
}

int vps_tree_usage_progress(int dir_fd, const struct vps_copy_progress *p,
                            struct vps_copy_stats *ret, vps_error *err)
{
        *ret = (struct vps_copy_stats){0};
        DIR **stack = calloc(VPS_COPY_DEPTH_MAX, sizeof(*stack));
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!stack || fd < 0 || !(stack[0] = fdopendir(fd))) {
                int e = stack ? errno : ENOMEM;
                if (fd >= 0)
                        close(fd);
                free(stack);
                return vps_err_sys(err, e, "reading the tree");
        }
        size_t depth = 1;
        int r = 0;
        while (depth > 0 && r == 0) {
                int dfd = dirfd(stack[depth - 1]);
                struct dirent *de = readdir(stack[depth - 1]);
                struct stat st;
                if (!de) {
                        closedir(stack[--depth]);
                        continue;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                ret->files++;
                if (S_ISREG(st.st_mode))
                        ret->bytes += (uint64_t)st.st_blocks * 512;
                if (p && ret->files % 256 == 0)
                        p->fn(p->arg, ret);
                if (!S_ISDIR(st.st_mode))
                        continue;
                if (depth >= VPS_COPY_DEPTH_MAX) {
                        r = vps_err(err, ELOOP, "directories nested deeper than %d levels",
                                    VPS_COPY_DEPTH_MAX);
                        break;
                }
                int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0 && !(stack[depth] = fdopendir(sub)))
                        close(sub);
                else if (sub >= 0)
                        depth++;
        }
        while (depth > 0)
                closedir(stack[--depth]);
        free(stack);
        if (p && r == 0)
                p->fn(p->arg, ret);
        return r;
}
