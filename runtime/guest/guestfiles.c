/* libvps: the guest files vpsd manages (see guest.h). */
#include "vps/cleanup.h"
#include "guest/guest.h"
#include "vps/nsrun.h"
#include "vps/safepath.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_dir_in(int root_fd, const char *dir, vps_error *err)
{
        return vps_open_in_root_how(root_fd, dir, O_RDONLY | O_DIRECTORY, 0, VPS_RESOLVE_NO_XDEV,
                                    err);
}

/* True when dir/name already is a regular file with exactly this text, mode and owner: a start
 * then leaves it alone (no new inode, no rename, no copy-up into the upper dir). Anything
 * else (a symlink, a FIFO, other text) is replaced. */
static bool same_file(int wd, const char *name, const char *text, size_t len, mode_t mode,
                      uid_t uid, gid_t gid)
{
        _cleanup_close_ int fd = openat(wd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        char buf[4096];
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode ||
            (size_t)st.st_size != len || len > sizeof(buf) ||
            (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid)))
                return false;
        return read(fd, buf, sizeof(buf)) == (ssize_t)len && memcmp(buf, text, len) == 0;
}

int vps_guest_write_file(int root_fd, const char *dir, const char *name, const char *text,
                         mode_t mode, uid_t uid, gid_t gid, vps_error *err)
{
        _cleanup_close_ int wd = open_dir_in(root_fd, dir, err);
        if (wd < 0)
                return wd;
        if (same_file(wd, name, text, strlen(text), mode, uid, gid))
                return 0;
        char tmp[128];
        (void)snprintf(tmp, sizeof(tmp), ".%s.vpsd%d", name, (int)getpid());
        (void)unlinkat(wd, tmp, 0);
        _cleanup_close_ int fd =
                openat(wd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return vps_err_sys(err, errno, "creating %s/%s in the guest", dir, name);
        size_t len = strlen(text);
        int r = 0;
        if (write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) < 0 ||
            (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) || renameat(wd, tmp, wd, name) < 0)
                r = vps_err_sys(err, errno, "writing %s/%s in the guest", dir, name);
        if (r < 0)
                (void)unlinkat(wd, tmp, 0);
        return r;
}

int vps_guest_sync_files(int root_fd, const struct vps_config *c, uid_t owner, vps_error *err)
{
        gid_t g = owner == (uid_t)-1 ? (gid_t)-1 : (gid_t)owner;
        char buf[8192], uts[VPS_UTSNAME_MAX + 1];
        /* The name the kernel holds (uname -n), as the guest's systemd sets it from here. */
        vps_hostname_kernel(c->hostname, uts);
        (void)snprintf(buf, sizeof(buf), "%s\n", uts);
        int r = vps_guest_write_file(root_fd, "/etc", "hostname", buf, 0644, owner, g, err);
        if (r < 0)
                return r;
        /* "FQDN SHORT" as Debian writes it (hostname -f, hostname -s), the short name alone
         * when there is no domain; the VPS's addresses first, then 127.0.1.1 for a guest's
         * own lookups whatever its addresses. */
        char names[VPS_HOSTNAME_MAX + VPS_LABEL_MAX + 3];
        size_t short_len = strcspn(c->hostname, ".");
        if (c->hostname[short_len])
                (void)snprintf(names, sizeof(names), "%s\t%.*s", c->hostname, (int)short_len,
                               c->hostname);
        else
                (void)snprintf(names, sizeof(names), "%s", c->hostname);
        int n = snprintf(buf, sizeof(buf),
                         "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        for (unsigned int i = 0; i < c->n_ip && n > 0 && (size_t)n < sizeof(buf); i++)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\t%s\n", c->ip[i], names);
        if (n > 0 && (size_t)n < sizeof(buf))
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "127.0.1.1\t%s\n", names);
        if ((r = vps_guest_write_file(root_fd, "/etc", "hosts", buf, 0644, owner, g, err)) < 0)
                return r;
        /* Always written: a VPS that inherits the host's servers and got none, or one set
         * to none, must not keep servers an earlier start wrote. */
        n = snprintf(buf, sizeof(buf), "# written by vpsd (vpsctl set --nameserver%s)\n",
                     vps_ns_none(c) ? " none: no name server" : "");
        if (c->searchdomain[0])
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "search %s\n", c->searchdomain);
        for (unsigned int i = 0; !vps_ns_none(c) && i < c->n_ns && (size_t)n < sizeof(buf); i++)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "nameserver %s\n",
                              c->nameserver[i]);
        return vps_guest_write_file(root_fd, "/etc", "resolv.conf", buf, 0644, owner, g, err);
}

/* Files must be created by a process the VPS's user namespace maps (the overlay refuses
 * host root with EOVERFLOW): a short-lived helper joins the VPS's user and mount namespaces
 * and runs fn from inside, where "/" is the guest's root and no host file exists. The guest
 * can stall it (a FUSE mount over /): it runs with a deadline (vps_ns_run). */
struct guest_call {
        int (*fn)(int root_fd, void *arg, vps_error *err);
        void *arg;
};

static int in_guest(void *arg, vps_error *err)
{
        const struct guest_call *c = arg;
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return vps_err_sys(err, errno, "opening /");
        return c->fn(root, c->arg, err);
}

int vps_guest_run(pid_t pid, const char *id, const char *what,
                  int (*fn)(int root_fd, void *arg, vps_error *err), void *arg, vps_error *err)
{
        _cleanup_close_ int pidfd = vps_sys_pidfd_open(pid, 0);
        if (pidfd < 0)
                return vps_err_sys(err, errno, "VPS %s: its init is gone", id);
        struct guest_call c = {fn, arg};
        return vps_ns_run(id, pidfd, CLONE_NEWUSER | CLONE_NEWNS, what, in_guest, &c, err);
}

static int sync_in_guest(int root_fd, void *arg, vps_error *err)
{
        return vps_guest_sync_files(root_fd, arg, (uid_t)-1, err);
}

int vps_guest_sync_running(pid_t pid, const struct vps_config *cfg, vps_error *err)
{
        return vps_guest_run(pid, cfg->id, "writing /etc/hostname, /etc/hosts and /etc/resolv.conf",
                             sync_in_guest, (void *)cfg, err);
}
