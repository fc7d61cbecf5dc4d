/* libvps: path resolution inside a guest root (see safepath.h). */
#include "vps/cleanup.h"
#include "vps/safepath.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool openat2_disabled(void)
{
        const char *e = getenv("VPS_TEST_NO_OPENAT2");
        return e && strcmp(e, "1") == 0;
}

/* Fallback: one component at a time, never following a symlink, never going up. */
static int walk(int root_fd, const char *path, int flags, mode_t mode, vps_error *err)
{
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return vps_err(err, ENOMEM, "out of memory");
        _cleanup_close_ int cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return vps_err_sys(err, errno, "opening the guest root");
        char *save = NULL, *part = strtok_r(copy, "/", &save);
        if (!part)
                return TAKE_FD(cur);
        for (char *next; part; part = next) {
                next = strtok_r(NULL, "/", &save);
                if (strcmp(part, "..") == 0)
                        return vps_err(err, EXDEV, "'..' in guest path %s", path);
                if (strcmp(part, ".") == 0)
                        continue;
                int fl = next ? O_PATH | O_DIRECTORY : flags;
                int fd = openat(cur, part, fl | O_NOFOLLOW | O_CLOEXEC, mode);
                if (fd < 0)
                        return vps_err_sys(err, errno, "opening %s in the guest", path);
                struct stat st;
                if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
                        close(fd);
                        return vps_err(err, ELOOP, "guest path %s goes through a symlink", path);
                }
                close(cur);
                cur = fd;
        }
        return TAKE_FD(cur);
}

int vps_open_in_root(int root_fd, const char *path, int flags, mode_t mode, vps_error *err)
{
        if (!openat2_disabled()) {
                struct open_how how = {
                        .flags = (uint64_t)(flags | O_CLOEXEC),
                        .mode = (flags & O_CREAT) ? mode : 0,
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                int fd = (int)vps_sys_openat2(root_fd, path, &how);
                if (fd >= 0)
                        return fd;
                if (errno != ENOSYS)
                        return vps_err_sys(err, errno, "opening %s in the guest", path);
        }
        return walk(root_fd, path, flags, mode, err);
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
