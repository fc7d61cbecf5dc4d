/* libvps: an exact copy of a VPS's upper layer (snapshots, switch, clone): every kind of
 * file, owner, mode, times, all xattrs (the overlay's user.overlay.* marks, ACLs,
 * security.capability), hard links, holes. The source is the guest's: nothing is followed,
 * every name is taken relative to an fd of its parent. Regular files are reflinked (FICLONE)
 * where the file system can; elsewhere copied extent by extent so holes stay holes. The walk
 * keeps a stack on the heap (the guest chose the depth), bounded by VPS_COPY_DEPTH_MAX. */
#include "storage/storage.h"
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

/* One inode met with more than one link: where its first copy is, as a file handle. */
struct link_seen {
        dev_t dev;
        ino_t ino;
        struct file_handle *fh;
};

struct frame {
        DIR *src;
        int dst;
        struct stat st; /* of the source dir, applied to the copy once its entries are in */
        int src_fd;
};

struct copy {
        const struct vps_copy_opts *o;
        struct vps_copy_stats *stats;
        struct link_seen *links;
        size_t n_links, cap_links;
        int mount_fd; /* for open_by_handle_at of the copies */
        bool no_clone; /* FICLONE refused once: this file system has no reflinks */
        char buf[1 << 16];
};

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
static void fd_path(int fd, char *buf, size_t size)
{
        (void)snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static int copy_xattrs(struct copy *c, int src, int dst, const char *what, vps_error *err)
{
        char sp[40], dp[40];
        fd_path(src, sp, sizeof(sp));
        fd_path(dst, dp, sizeof(dp));
        char names[8192];
        ssize_t n = listxattr(sp, names, sizeof(names));
        if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
                return 0;
        if (n < 0)
                return vps_err_sys(err, errno, "listing the xattrs of %s", what);
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
                const char *name = names + i;
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
static int copy_meta(struct copy *c, int src, int dst, const struct stat *st, const char *what,
                     vps_error *err)
{
        char dp[40];
        fd_path(dst, dp, sizeof(dp));
        if (fchownat(dst, "", map_id(c->o, st->st_uid), map_id(c->o, st->st_gid),
                     AT_EMPTY_PATH) < 0)
                return vps_err_sys(err, errno, "chown %s", what);
        if (!S_ISLNK(st->st_mode) && chmod(dp, st->st_mode & 07777) < 0)
                return vps_err_sys(err, errno, "chmod %s", what);
        if (!S_ISLNK(st->st_mode)) {
                int r = copy_xattrs(c, src, dst, what, err);
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
                        ssize_t k = copy_file_range(src, &in, dst, &out, (size_t)(hole - in), 0);
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
                pos = hole;
        }
        if (!dense && ftruncate(dst, end) < 0)
                return vps_err_sys(err, errno, "writing %s", what);
        return 0;
}

static struct link_seen *link_find(struct copy *c, const struct stat *st)
{
        for (size_t i = 0; i < c->n_links; i++)
                if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
                        return &c->links[i];
        return NULL;
}

static int link_remember(struct copy *c, const struct stat *st, int dst, vps_error *err)
{
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
        c->links[c->n_links++] = (struct link_seen){st->st_dev, st->st_ino, fh};
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
        return 0;
}

/* One entry that is not a directory. */
static int copy_leaf(struct copy *c, int src_dir, int dst_dir, const char *name,
                     const struct stat *st, vps_error *err)
{
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                struct link_seen *l = link_find(c, st);
                if (l)
                        return copy_link(c, l, dst_dir, name, err);
        }
        _cleanup_close_ int src = -1, dst = -1;
        if (S_ISREG(st->st_mode)) {
                src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);
                if (src < 0)
                        return vps_err_sys(err, errno, "opening %s", name);
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
        int r = copy_meta(c, src, dst, st, name, err);
        if (r == 0 && st->st_nlink > 1)
                r = link_remember(c, st, dst, err);
        c->stats->files++;
        return r;
}

static void frame_drop(struct frame *f)
{
        if (f->src)
                closedir(f->src);
        vps_closep(&f->dst);
}

static int push_dir(struct copy *c, struct frame *stack, size_t *depth, int src_dir, int dst_dir,
                    const char *name, const struct stat *st, vps_error *err)
{
        if (*depth >= VPS_COPY_DEPTH_MAX)
                return vps_err(err, ELOOP, "directories nested deeper than %d levels",
                               VPS_COPY_DEPTH_MAX);
        if (mkdirat(dst_dir, name, 0700) < 0)
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
        return 0;
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
                        r = copy_meta(c, f->src_fd, f->dst, &f->st, "a directory", err);
                        frame_drop(f);
                        depth--;
                        continue;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(f->src_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = vps_err_sys(err, errno, "stat %s", de->d_name);
                        break;
                }
                if (S_ISDIR(st.st_mode))
                        r = push_dir(c, stack, &depth, f->src_fd, f->dst, de->d_name, &st, err);
                else
                        r = copy_leaf(c, f->src_fd, f->dst, de->d_name, &st, err);
        }
        while (depth > 0)
                frame_drop(&stack[--depth]);
        return r;
}

int vps_tree_copy(int src_fd, int dst_fd, const struct vps_copy_opts *o,
                  struct vps_copy_stats *ret, vps_error *err)
{
        static const struct vps_copy_opts none;
        struct copy *c = calloc(1, sizeof(*c));
        struct frame *stack = calloc(VPS_COPY_DEPTH_MAX, sizeof(*stack));
        int r = 0;
        if (!c || !stack) {
                free(c);
                free(stack);
                return vps_err(err, ENOMEM, "out of memory");
        }
        *ret = (struct vps_copy_stats){0};
        c->o = o ? o : &none;
        c->stats = ret;
        c->mount_fd = dst_fd;
        struct stat st;
        int s = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int d = fcntl(dst_fd, F_DUPFD_CLOEXEC, 3);
        DIR *ds = s >= 0 ? fdopendir(s) : NULL;
        if (!ds || d < 0 || fstat(s, &st) < 0) {
                r = vps_err_sys(err, errno, "opening the tree to copy");
                if (ds)
                        closedir(ds);
                else if (s >= 0)
                        close(s);
                if (d >= 0)
                        close(d);
        } else {
                stack[0] = (struct frame){.src = ds, .dst = d, .st = st, .src_fd = s};
                r = walk(c, stack, err);
        }
        for (size_t i = 0; i < c->n_links; i++)
                free(c->links[i].fh);
        free(c->links);
        free(c);
        free(stack);
        return r;
}

int vps_tree_usage(int dir_fd, struct vps_copy_stats *ret, vps_error *err)
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
                ret->bytes += (uint64_t)st.st_blocks * 512;
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
        return r;
}
