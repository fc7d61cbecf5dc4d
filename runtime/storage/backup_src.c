/* libvps: the path by which a backup reads one entry of a tree again (its xattrs, ACLs,
 * sparse map and content through libarchive, its hash for same_copy): its own path when the
 * kernel takes one that long, else "/proc/self/fd/N/NAME" through its directory, opened from
 * the tree's top in pieces (vps_openat2_long: beneath the top, through no symlink or mount
 * point). The directory last opened is kept: a walk meets a directory's entries together,
 * and the next directory down is opened from it by one name. */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void vps_bk_src_free(struct vps_bk_src *s)
{
        vps_closep(&s->top_fd);
        vps_closep(&s->dir_fd);
        free(s->dir);
        s->dir = NULL;
        s->dir_cap = 0;
}

/* Opens path (below the top) the way the walks reach directories. */
static int open_dir(int at, const char *path)
{
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV |
                           RESOLVE_NO_MAGICLINKS,
        };
        return vps_openat2_long(at, path, &how);
}

int vps_bk_src_path(struct vps_bk_src *s, const char *src, const char **ret)
{
        size_t len = strlen(src), tl = strlen(s->top);
        if (len < PATH_MAX) {
                *ret = src;
                return 0;
        }
        if (strncmp(src, s->top, tl) != 0 || src[tl] != '/')
                return -EINVAL;
        const char *rel = src + tl + 1, *slash = strrchr(rel, '/');
        const char *name = slash ? slash + 1 : rel;
        size_t dl = slash ? (size_t)(slash - rel) : 0;
        if (strlen(name) > NAME_MAX)
                return -ENAMETOOLONG;
        if (s->top_fd < 0 &&
            (s->top_fd = open(s->top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return -errno;
        if (s->dir_fd < 0 || s->dir_len != dl || memcmp(s->dir, rel, dl) != 0) {
                /* One level below the directory held: one name from it; else from the top. */
                size_t from = s->dir_len ? s->dir_len + 1 : 0;
                bool below = s->dir_fd >= 0 && dl > from && !memcmp(s->dir, rel, s->dir_len) &&
                             (!s->dir_len || rel[s->dir_len] == '/') &&
                             !memchr(rel + from, '/', dl - from);
                _cleanup_free_ char *part =
                        below ? strndup(rel + from, dl - from) : strndup(rel, dl);
                if (!part || vps_grow(&s->dir, &s->dir_cap, dl + 1) < 0)
                        return -ENOMEM;
                int fd = dl == 0 ? fcntl(s->top_fd, F_DUPFD_CLOEXEC, 0)
                                 : open_dir(below ? s->dir_fd : s->top_fd, part);
                if (fd < 0)
                        return dl == 0 ? -errno : fd;
                vps_closep(&s->dir_fd);
                s->dir_fd = fd;
                memcpy(s->dir, rel, dl);
                s->dir[dl] = '\0';
                s->dir_len = dl;
        }
        (void)snprintf(s->buf, sizeof(s->buf), "/proc/self/fd/%d/%s", s->dir_fd, name);
        *ret = s->buf;
        return 0;
}
