/* templates: Debian as a VPS template. debootstrap (run by libvps's template builder) makes
 * the tree; these fix-ups make it a container guest: per-VPS identity (machine-id, ssh host
 * keys), nothing of the build host's (resolv.conf, hostname), and no units that need
 * hardware (getty on tty1, udev, timesyncd). */
#include "templates/templates.h"
#include "vps/cleanup.h"
#include "vps/safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path inside the tree as if it were / (symlinks in the tree cannot lead out). */
static int open_in(int rootfs_fd, const char *path, int flags, mode_t mode)
{
        vps_error e = {0};
        int fd = vps_open_in_root(rootfs_fd, path, flags, mode, &e);
        if (fd < 0)
                errno = -fd;
        return fd;
}

/* The directory of path (inside the tree) and its last component. */
static int parent_of(int rootfs_fd, const char *path, const char **base, vps_error *err)
{
        const char *slash = strrchr(path, '/');
        char dir[256];
        if (!slash || (size_t)(slash - path) >= sizeof(dir))
                return vps_err(err, EINVAL, "bad path %s", path);
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        int fd = open_in(rootfs_fd, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", dir);
        *base = slash + 1;
        return fd;
}

static int remove_file(int rootfs_fd, const char *path, vps_error *err)
{
        const char *base;
        _cleanup_close_ int dir = parent_of(rootfs_fd, path, &base, err);
        if (dir < 0)
                return dir == -ENOENT ? 0 : dir; /* no parent dir: nothing to remove */
        if (unlinkat(dir, base, 0) < 0 && errno != ENOENT)
                return vps_err_sys(err, errno, "removing %s", path);
        return 0;
}

/* Replaces whatever is at path (a file or a symlink) with a file holding text. */
static int put_file(int rootfs_fd, const char *path, const char *text, mode_t mode, vps_error *err)
{
        int r = remove_file(rootfs_fd, path, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open_in(rootfs_fd, path, O_WRONLY | O_CREAT | O_EXCL, mode);
        if (fd < 0)
                return vps_err_sys(err, errno, "creating %s", path);
        size_t n = strlen(text);
        if (write(fd, text, n) != (ssize_t)n || fchmod(fd, mode) < 0)
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

static int put_link(int rootfs_fd, const char *path, const char *target, vps_error *err)
{
        const char *base;
        int r = remove_file(rootfs_fd, path, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dir = parent_of(rootfs_fd, path, &base, err);
        if (dir < 0)
                return dir;
        if (symlinkat(target, dir, base) < 0)
                return vps_err_sys(err, errno, "linking %s", path);
        return 0;
}

static int make_dir(int rootfs_fd, const char *path, vps_error *err)
{
        const char *base;
        _cleanup_close_ int dir = parent_of(rootfs_fd, path, &base, err);
        if (dir < 0)
                return dir;
        if (mkdirat(dir, base, 0755) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s", path);
        return 0;
}

static const char hostkeys_unit[] = "[Unit]\n"
                                    "Description=Generate the SSH host keys of this VPS\n"
                                    "Before=ssh.service ssh.socket\n"
                                    "ConditionPathExists=|!/etc/ssh/ssh_host_ed25519_key\n"
                                    "ConditionPathExists=|!/etc/ssh/ssh_host_ecdsa_key\n"
                                    "ConditionPathExists=|!/etc/ssh/ssh_host_rsa_key\n"
                                    "\n"
                                    "[Service]\n"
                                    "Type=oneshot\n"
                                    "ExecStart=/usr/bin/ssh-keygen -A\n"
                                    "RemainAfterExit=yes\n"
                                    "\n"
                                    "[Install]\n"
                                    "WantedBy=ssh.service ssh.socket\n";

static const char *const host_keys[] = {
        "/etc/ssh/ssh_host_rsa_key",     "/etc/ssh/ssh_host_rsa_key.pub",
        "/etc/ssh/ssh_host_ecdsa_key",   "/etc/ssh/ssh_host_ecdsa_key.pub",
        "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub",
        "/etc/ssh/ssh_host_dsa_key",     "/etc/ssh/ssh_host_dsa_key.pub",
};

/* Units that want hardware a VPS does not have: masked, should a customer install them. */
static const char *const masked[] = {
        "/etc/systemd/system/systemd-timesyncd.service",
        "/etc/systemd/system/systemd-udevd.service",
        "/etc/systemd/system/systemd-udev-trigger.service",
        "/etc/systemd/system/getty@tty1.service",
        /* The audit netlink socket is the host's: bullseye's journald fails on it. */
        "/etc/systemd/system/systemd-journald-audit.socket",
};

int vps_debian_fixup(int rootfs_fd, vps_error *err)
{
        int r = 0;
        /* Empty: systemd makes a random one at the VPS's first start, in its own upper dir. */
        if ((r = put_file(rootfs_fd, "/etc/machine-id", "", 0444, err)) < 0)
                return r;
        struct stat st;
        if (fstatat(rootfs_fd, "var/lib/dbus", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode) &&
            (r = put_link(rootfs_fd, "/var/lib/dbus/machine-id", "/etc/machine-id", err)) < 0)
                return r;
        for (size_t i = 0; i < sizeof(host_keys) / sizeof(host_keys[0]); i++)
                if ((r = remove_file(rootfs_fd, host_keys[i], err)) < 0)
                        return r;
        static const char *const wants[] = {"/etc/systemd/system/ssh.service.wants",
                                            "/etc/systemd/system/ssh.socket.wants"};
        if ((r = put_file(rootfs_fd, "/etc/systemd/system/ssh-hostkeys.service", hostkeys_unit,
                          0644, err)) < 0)
                return r;
        for (size_t i = 0; i < 2; i++) {
                char link[128];
                (void)snprintf(link, sizeof(link), "%s/ssh-hostkeys.service", wants[i]);
                if ((r = make_dir(rootfs_fd, wants[i], err)) < 0 ||
                    (r = put_link(rootfs_fd, link, "../ssh-hostkeys.service", err)) < 0)
                        return r;
        }
        for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
                if ((r = put_link(rootfs_fd, masked[i], "/dev/null", err)) < 0)
                        return r;
        if ((r = remove_file(rootfs_fd, "/etc/systemd/system/getty.target.wants/getty@tty1.service",
                             err)) < 0)
                return r;
        /* vpsd writes these from the VPS's settings at each start. */
        if ((r = put_file(rootfs_fd, "/etc/resolv.conf",
                          "# written by vpsd: vpsctl set ID --nameserver ADDR\n", 0644, err)) < 0 ||
            (r = put_file(rootfs_fd, "/etc/hostname", "localhost\n", 0644, err)) < 0)
                return r;
        if ((r = make_dir(rootfs_fd, "/etc/systemd/journald.conf.d", err)) < 0 ||
            (r = put_file(rootfs_fd, "/etc/systemd/journald.conf.d/vps.conf",
                          "[Journal]\nSystemMaxUse=64M\nRuntimeMaxUse=16M\n", 0644, err)) < 0)
                return r;
        /* A VPS is handed over with a root password (vpsctl set --userpasswd root:...), as
         * OpenVZ templates were: sshd must take it. Keys work as well. */
        if ((r = make_dir(rootfs_fd, "/etc/ssh/sshd_config.d", err)) < 0 ||
            (r = put_file(rootfs_fd, "/etc/ssh/sshd_config.d/vps.conf",
                          "# vpsd: root logs in with the password set by vpsctl --userpasswd\n"
                          "PermitRootLogin yes\n",
                          0644, err)) < 0)
                return r;
        return put_file(rootfs_fd, "/etc/default/locale", "LANG=C.UTF-8\n", 0644, err);
}
