/* libvps: file helpers: atomic writes, whole-file reads, trash renames, mkdir -p. */
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int write_replace(int dir_fd, const char *name, const void *data, size_t len, mode_t mode,
                         bool durable, vps_error *err)
{
        char tmp[256];
        if (snprintf(tmp, sizeof(tmp), ".%s.tmp%d", name, (int)getpid()) >= (int)sizeof(tmp))
                return vps_err(err, ENAMETOOLONG, "file name too long: %s", name);
        _cleanup_close_ int fd =
                openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return vps_err_sys(err, errno, "creating %s", tmp);
        int r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dir_fd, tmp, 0);
                return vps_err_sys(err, -r, "writing %s", name);
        }
        if (durable && fsync(dir_fd) < 0)
                return vps_err_sys(err, errno, "syncing the directory of %s", name);
        return 0;
}

int vps_write_file_atomic(int dir_fd, const char *name, const void *data, size_t len, mode_t mode,
                          vps_error *err)
{
        return write_replace(dir_fd, name, data, len, mode, true, err);
}

int vps_write_file_volatile(int dir_fd, const char *name, const void *data, size_t len, mode_t mode,
                            vps_error *err)
{
        return write_replace(dir_fd, name, data, len, mode, false, err);
}

int vps_open_file_at(int dir_fd, const char *name, int flags)
{
        /* A mode though none is created: fortified, the call stays openat (a test wraps it). */
        int fd = openat(dir_fd, name, flags | O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
        struct stat st;
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -EAGAIN;
        }
        return fd;
}

int vps_read_file_at(int dir_fd, const char *name, char **ret, size_t *ret_len, vps_error *err)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", name);
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap >= 16 * 1024 * 1024)
                                return vps_err(err, EFBIG, "%s is too large", name);
                        char *n = realloc(buf, cap * 2);
                        if (!n)
                                return vps_err(err, ENOMEM, "out of memory");
                        buf = n;
                        cap *= 2;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return vps_err_sys(err, errno, "reading %s", name);
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int vps_trash_rename(int dir_fd, const char *name, const char *tag, char *ret, size_t size,
                     vps_error *err)
{
        for (int n = 0; n <= 1000; n++) {
                int len = n == 0 ? snprintf(ret, size, VPS_TRASH_PREFIX "%s", tag)
                                 : snprintf(ret, size, VPS_TRASH_PREFIX "%s.%d", tag, n);
                if (len < 0 || (size_t)len >= size)
                        return vps_err(err, ENAMETOOLONG, "no room for the trash name of %s", name);
                if (renameat2(dir_fd, name, dir_fd, ret, RENAME_NOREPLACE) == 0) {
                        (void)fsync(dir_fd);
                        return 0;
                }
                if (errno == ENOENT)
                        return -ENOENT;
                if (errno != EEXIST)
                        break;
        }
        return vps_err_sys(err, errno, "moving %s out of the way", name);
}

int vps_mkdir_p(const char *path, mode_t mode, vps_error *err)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return vps_err(err, ENOMEM, "out of memory");
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return vps_err_sys(err, errno, "creating %s", p);
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s", p);
        return 0;
}

int vps_proc_parse_starttime(const char *stat, unsigned long long *ret)
{
        /* comm may contain spaces and parentheses: fields resume after the last ')'. */
        const char *p = strrchr(stat, ')');
        if (!p)
                return -EBADMSG;
        p++;
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        *ret = strtoull(p + 1, NULL, 10);
        return 0;
}

int vps_proc_starttime(pid_t pid, unsigned long long *ret, vps_error *err)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *buf = NULL;
        int r = vps_read_file_at(AT_FDCWD, path, &buf, NULL, err);
        if (r < 0)
                return r == -ENOENT ? vps_err(err, ESRCH, "process %d is gone", (int)pid) : r;
        return vps_proc_parse_starttime(buf, ret) < 0
                       ? vps_err(err, EBADMSG, "cannot parse %s", path)
                       : 0;
}

int vps_openat2_long(int dfd, const char *path, const struct open_how *how)
{
        size_t len = strlen(path);
        if (len < PATH_MAX) {
                int fd = (int)vps_sys_openat2(dfd, path, (struct open_how *)how);
                return fd < 0 ? -errno : fd;
        }
        char piece[PATH_MAX];
        struct open_how step = *how;
        step.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
        step.mode = 0;
        _cleanup_close_ int at = -1;
        const char *p = path;
        while (strlen(p) >= PATH_MAX) {
                /* The longest prefix below PATH_MAX that ends before a '/'. */
                const char *cut = NULL;
                for (const char *s = p;
                     s < p + PATH_MAX - 1 && (s = memchr(s, '/', (size_t)(p + PATH_MAX - 1 - s)));
                     s++)
                        cut = s;
                if (!cut || cut == p)
                        return -ENAMETOOLONG;
                memcpy(piece, p, (size_t)(cut - p));
                piece[cut - p] = '\0';
                int fd = (int)vps_sys_openat2(at >= 0 ? at : dfd, piece, &step);
                if (fd < 0)
                        return -errno;
                vps_closep(&at);
                at = fd;
                p = cut + 1;
        }
        int fd = (int)vps_sys_openat2(at, p, (struct open_how *)how);
        return fd < 0 ? -errno : fd;
}
