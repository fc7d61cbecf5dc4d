/* libvps: console ptys and the bounded console log. */
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

int vps_console_open(uint32_t uid_base, int *ret_master, int *ret_slave, vps_error *err)
{
        _cleanup_close_ int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return vps_err_sys(err, errno, "opening a console pty");
        if (unlockpt(master) < 0)
                return vps_err_sys(err, errno, "unlocking the console pty");
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return vps_err_sys(err, errno, "opening the console pty peer");
        if (fchown(slave, uid_base, uid_base + 5) < 0 || fchmod(slave, 0620) < 0)
                return vps_err_sys(err, errno, "handing the console to the VPS");
        struct winsize ws = {.ws_row = 24, .ws_col = 80};
        (void)ioctl(master, TIOCSWINSZ, &ws);
        int fl = fcntl(master, F_GETFL);
        if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0)
                return vps_err_sys(err, errno, "console pty flags");
        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

int vps_console_log(int dfd, const void *data, size_t len, size_t max_bytes, vps_error *err)
{
        struct stat st;
        if (fstatat(dfd, "console.log", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (size_t)st.st_size + len > max_bytes)
                (void)renameat(dfd, "console.log", dfd, "console.log.1");
        _cleanup_close_ int fd = openat(
                dfd, "console.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening console.log");
        if (write(fd, data, len) < 0)
                return vps_err_sys(err, errno, "writing console.log");
        return 0;
}
