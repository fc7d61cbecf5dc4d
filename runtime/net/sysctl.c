/* libvps: kernel settings of networking (/proc/sys/net, /sys/class/net), written and read
 * whole (backend.h). */
#include "net/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vps/cleanup.h"

int vps_sysctl_write(const char *path, const char *value, vps_error *err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

int vps_sysctl_read(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
        return n > 0 ? 0 : -1;
}
