/* quota: putting a directory tree into a project (FS_IOC_FSSETXATTR with PROJINHERIT). */
#include "quota/quota.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#define MAX_DEPTH 256

int vq_project_get(int fd, uint32_t *ret, vps_error *err)
{
        struct fsxattr fa;
        if (ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0)
                return vps_err_sys(err, errno, "reading the project id");
        *ret = fa.fsx_projid;
        return 0;
}

static int set_one(int fd, uint32_t projid, bool dir, vps_error *err)
{
        struct fsxattr fa;
        if (ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0)
                return vps_err_sys(err, errno, "reading the project id");
        uint32_t flags = fa.fsx_xflags | (dir ? FS_XFLAG_PROJINHERIT : 0);
        if (fa.fsx_projid == projid && flags == fa.fsx_xflags)
                return 0;
        fa.fsx_projid = projid;
        fa.fsx_xflags = flags;
        if (ioctl(fd, FS_IOC_FSSETXATTR, &fa) < 0)
                return vps_err_sys(err, errno, "setting project id %u", projid);
        return 0;
}

static int walk(int dirfd, uint32_t projid, int depth, vps_error *err)
{
        if (depth > MAX_DEPTH)
                return vps_err(err, ELOOP, "directories nested deeper than %d", MAX_DEPTH);
        int r = set_one(dirfd, projid, true, err);
        if (r < 0)
                return r;
        _cleanup_closedir_ DIR *d = vps_opendir_fd(dirfd);
        if (!d)
                return vps_err_sys(err, errno, "reading a directory");
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile */
                if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                        continue; /* symlinks, devices, fifos, sockets: cannot be opened safely */
                /* O_NOFOLLOW and O_NONBLOCK: if the entry was swapped for a symlink or a fifo
                 * since the fstatat, nothing is followed and nothing blocks. */
                _cleanup_close_ int fd =
                        openat(dirfd, de->d_name,
                               O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                                       (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                if (fd < 0)
                        continue;
                struct stat now;
                if (fstat(fd, &now) < 0 || (now.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
                        continue;
                r = S_ISDIR(now.st_mode) ? walk(fd, projid, depth + 1, err)
                                         : set_one(fd, projid, false, err);
                if (r < 0)
                        return vps_err_wrap(err, "%s", de->d_name);
        }
        return 0;
}

int vq_project_assign(int dirfd, uint32_t projid, vps_error *err)
{
        return walk(dirfd, projid, 0, err);
}
