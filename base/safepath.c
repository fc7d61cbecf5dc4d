/* libvps: path resolution inside a guest root (see safepath.h). openat2 does the work; where
 * it is missing, a walk in user space gives the same answers, one component at a time. */
#include "vps/cleanup.h"
#include "vps/safepath.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define MAX_LINKS 40  /* the kernel's MAXSYMLINKS */
#define MAX_DEPTH 256 /* directories deep; deeper paths get ENAMETOOLONG in the walk */
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif

static bool openat2_disabled(void)
{
        const char *e = getenv("VPS_TEST_NO_OPENAT2");
        return e && strcmp(e, "1") == 0;
}

/* ---- The walk ----
 * Emulates RESOLVE_IN_ROOT: each component is opened with O_NOFOLLOW relative to the fd of
 * its directory; a symlink's text is read and spliced into what is left of the path (an
 * absolute one restarts at the root); ".." pops back to the directory the walk came from and
 * stays at the root. Every fd is reached from root_fd by opens that follow nothing, so no
 * rename or planted link can move the walk outside the root. */

struct walk {
        int fds[MAX_DEPTH]; /* fds[0]: the root; fds[depth]: where the walk is */
        int depth;
        int root_mnt; /* for VPS_RESOLVE_NO_XDEV */
        unsigned resolve;
        int links;
        const char *path; /* for messages */
};

static void walk_free(struct walk *w)
{
        for (int i = 0; i <= w->depth; i++)
                vps_closep(&w->fds[i]);
}

static int mnt_id(int fd)
{
        struct statx stx;
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0 ||
            !(stx.stx_mask & STATX_MNT_ID))
                return -1;
        return (int)stx.stx_mnt_id;
}

/* A procfs link whose text is no plain relative path (/proc/PID/fd/N, exe, cwd, root, ns/..)
 * is a magic link: openat2 refuses those with RESOLVE_NO_MAGICLINKS, so the walk does too. */
static bool magic_link(int link_fd, const char *text)
{
        struct statfs sf;
        if (fstatfs(link_fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
                return false;
        return text[0] == '/' || strchr(text, ':') != NULL;
}

/* rest := text + "/" + rest; text alone when the link was the path's last component (a
 * trailing "/" there would ask for a directory). */
static int prepend(char *rest, size_t size, const char *text, bool last)
{
        size_t t = strlen(text), r = strlen(rest), sep = last ? 0 : 1;
        if (t + sep + r + 1 > size)
                return -ENAMETOOLONG;
        memmove(rest + t + sep, rest, r + 1);
        memcpy(rest, text, t);
        if (sep)
                rest[t] = '/';
        return 0;
}

static int walk_push(struct walk *w, int fd, vps_error *err)
{
        if (w->depth + 1 >= MAX_DEPTH) {
                close(fd);
                return vps_err(err, ENAMETOOLONG, "guest path %s is too deep", w->path);
        }
        w->fds[++w->depth] = fd;
        return 0;
}

/* Follows the symlink at link_fd: its text goes in front of rest. */
static int follow(struct walk *w, int link_fd, char *rest, size_t size, bool last, vps_error *err)
{
        char text[PATH_MAX];
        if (w->resolve & VPS_RESOLVE_NO_SYMLINKS)
                return vps_err(err, ELOOP, "refusing %s in the guest: a symlink is on its path",
                               w->path);
        if (++w->links > MAX_LINKS)
                return vps_err(err, ELOOP, "opening %s in the guest: too many symlinks", w->path);
        ssize_t n = readlinkat(link_fd, "", text, sizeof(text) - 1);
        if (n < 0)
                return vps_err_sys(err, errno, "reading a symlink on %s in the guest", w->path);
        text[n] = '\0';
        if (n == 0)
                return vps_err(err, ENOENT, "opening %s in the guest: an empty symlink", w->path);
        if (magic_link(link_fd, text))
                return vps_err(err, ELOOP, "opening %s in the guest: a magic link", w->path);
        if (text[0] == '/')
                while (w->depth > 0)
                        vps_closep(&w->fds[w->depth--]);
        if (prepend(rest, size, text, last) < 0)
                return vps_err(err, ENAMETOOLONG, "guest path %s is too long", w->path);
        return 0;
}

/* Cuts the first component off rest (in place); NULL when none is left. */
static char *next_part(char **rest)
{
        char *p = *rest;
        while (*p == '/')
                p++;
        if (!*p)
                return NULL;
        char *end = strchr(p, '/');
        if (end) {
                *end = '\0';
                *rest = end + 1;
        } else {
                *rest = p + strlen(p);
        }
        return p;
}

static bool only_slashes(const char *s)
{
        return s[strspn(s, "/")] == '\0';
}

/* One component that is neither "." nor "..": a directory to go into, a symlink to follow, or
 * (last) the file to open with the caller's flags. Returns 1 when the walk is over and *ret_fd
 * is the answer. */
static int step(struct walk *w, const char *part, bool last, int flags, mode_t mode, char **rest,
                char *buf, size_t size, int *ret_fd, vps_error *err)
{
        int cur = w->fds[w->depth];
        _cleanup_close_ int fd = openat(cur, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && !(errno == ENOENT && last && (flags & O_CREAT)))
                return vps_err_sys(err, errno, "opening %s in the guest", w->path);
        struct stat st = {0};
        if (fd >= 0 && fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "stat %s in the guest", w->path);
        if (fd >= 0 && (w->resolve & VPS_RESOLVE_NO_XDEV) && mnt_id(fd) != w->root_mnt &&
            !S_ISLNK(st.st_mode))
                return vps_err(err, EXDEV, "opening %s in the guest: it crosses a mount", w->path);
        if (fd >= 0 && S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
                /* Move what is left to the front of buf, then put the link's text before it. */
                memmove(buf, *rest, strlen(*rest) + 1);
                *rest = buf;
                return follow(w, fd, buf, size, last, err);
        }
        if (!last) {
                if (!S_ISDIR(st.st_mode))
                        return vps_err(err, ENOTDIR, "opening %s in the guest", w->path);
                return walk_push(w, TAKE_FD(fd), err);
        }
        if ((flags & O_PATH) && !(flags & O_DIRECTORY) && fd >= 0) {
                *ret_fd = TAKE_FD(fd); /* O_PATH | O_NOFOLLOW on a symlink: the link itself */
                return 1;
        }
        /* O_NOFOLLOW: if the name turned into a symlink since, this open fails (ELOOP). */
        int r = openat(cur, part, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        if (r < 0)
                return vps_err_sys(err, errno, "opening %s in the guest", w->path);
        *ret_fd = r;
        return 1;
}

static int walk(int root_fd, const char *path, int flags, mode_t mode, unsigned resolve,
                vps_error *err)
{
        if (!*path)
                return vps_err(err, ENOENT, "opening an empty path in the guest");
        if (strlen(path) >= PATH_MAX)
                return vps_err(err, ENAMETOOLONG, "guest path is too long");
        size_t size = strlen(path) + 4 * PATH_MAX;
        _cleanup_free_ char *buf = malloc(size);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        strcpy(buf, path);
        struct walk w = {.resolve = resolve, .path = path};
        w.fds[0] = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (w.fds[0] < 0)
                return vps_err_sys(err, errno, "opening the guest root");
        w.root_mnt = mnt_id(w.fds[0]);
        int ret = -1, r = 0;
        char *rest = buf;
        for (;;) {
                char *part = next_part(&rest);
                if (!part)
                        break; /* ended on the directory the walk is in */
                /* "dir/" must be a directory, and a symlink there is followed: not last. */
                bool last = *rest == '\0' || only_slashes(rest);
                bool trailing_slash = last && rest > part + strlen(part);
                if (strcmp(part, ".") == 0)
                        continue;
                if (strcmp(part, "..") == 0) {
                        if (w.depth > 0)
                                vps_closep(&w.fds[w.depth--]);
                        continue;
                }
                r = step(&w, part, last && !trailing_slash, flags, mode, &rest, buf, size, &ret,
                         err);
                if (r != 0)
                        break;
        }
        if (r == 0) /* the path ended on a directory ("/", "a/..", "dir/") */
                ret = openat(w.fds[w.depth], ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
        if (r == 0 && ret < 0)
                r = vps_err_sys(err, (flags & O_CREAT) ? EISDIR : errno, "opening %s in the guest",
                                path);
        walk_free(&w);
        return r < 0 ? r : ret;
}

/* ---- The front door ---- */

int vps_open_in_root_how(int root_fd, const char *path, int flags, mode_t mode, unsigned resolve,
                         vps_error *err)
{
        if (!openat2_disabled()) {
                struct open_how how = {
                        .flags = (uint64_t)(flags | O_CLOEXEC),
                        .mode = (flags & O_CREAT) ? mode : 0,
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                if (resolve & VPS_RESOLVE_NO_SYMLINKS)
                        how.resolve |= RESOLVE_NO_SYMLINKS;
                if (resolve & VPS_RESOLVE_NO_XDEV)
                        how.resolve |= RESOLVE_NO_XDEV;
                int fd, tries = 0;
                /* EAGAIN: a rename raced with a ".."; the kernel asks for a retry. */
                do
                        fd = (int)vps_sys_openat2(root_fd, path, &how);
                while (fd < 0 && errno == EAGAIN && ++tries < 8);
                if (fd >= 0)
                        return fd;
                if (errno == ELOOP && (resolve & VPS_RESOLVE_NO_SYMLINKS))
                        return vps_err(err, ELOOP,
                                       "refusing %s in the guest: a symlink is on its path", path);
                if (errno != ENOSYS)
                        return vps_err_sys(err, errno, "opening %s in the guest", path);
        }
        return walk(root_fd, path, flags, mode, resolve, err);
}

int vps_open_in_root(int root_fd, const char *path, int flags, mode_t mode, vps_error *err)
{
        return vps_open_in_root_how(root_fd, path, flags, mode, 0, err);
}

int vps_ensure_in_root(int root_fd, const char *path, int dir, vps_error *err)
{
        int fd = vps_open_in_root(root_fd, path, O_PATH, 0, err);
        if (fd >= 0 || fd != -ENOENT)
                return fd;
        _cleanup_free_ char *parent = strdup(path);
        if (!parent)
                return vps_err(err, ENOMEM, "out of memory");
        char *slash = strrchr(parent, '/');
        const char *base = slash ? slash + 1 : parent;
        if (slash)
                *slash = '\0';
        _cleanup_close_ int pfd = vps_open_in_root(root_fd, slash && parent[0] ? parent : ".",
                                                   O_PATH | O_DIRECTORY, 0, err);
        if (pfd < 0)
                return pfd;
        int r = dir ? mkdirat(pfd, base, 0755) : mknodat(pfd, base, S_IFREG | 0644, 0);
        if (r < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s in the guest", path);
        return vps_open_in_root(root_fd, path, O_PATH, 0, err);
}
