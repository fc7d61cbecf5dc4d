/* libvps, child side: the VPS's own boot id, bound over /proc/sys/kernel/random/boot_id while
 * the root is built (step 2 of mounts.c). */
#include "vps/cleanup.h"
#include "vps/localsock.h"
#include "vps/safepath.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <unistd.h>

/* A boot id of this start, not the host's: journald and `journalctl -b` key on it, and a
 * reboot of the VPS must look like one. Written into a file of this start, which
 * is bound read-only over /proc/sys/kernel/random/boot_id by the setup process, before
 * the VPS's user namespace takes over: the bind is locked like every other mount under /proc.
 * (A bind the guest's root made would be its own, and systemd's sandboxing, which remounts
 * /proc/sys, fails on a tree that mixes the two: 226/NAMESPACE.) */
static int boot_id_text(char text[40])
{
        unsigned char u[16];
        if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
                return -errno;
        u[6] = (u[6] & 0x0f) | 0x40; /* UUID version 4 */
        u[8] = (u[8] & 0x3f) | 0x80;
        return snprintf(text, 40,
                        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
                        u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                        u[12], u[13], u[14], u[15]);
}

/* The file is boot-id-ID in the state root's run directory (vps_run_dir_open: root's, 0700;
 * its path within /run's tmpfs is what the guest's mountinfo shows, not a host path of the
 * VPS dir), written for each start and kept while the VPS runs and after: a checkpoint
 * (issue 18) records the bind by its source, and a restore binds the same file again
 * (`criu restore --external mnt[KEY]:PATH`). A source unlinked once bound, as before, is one
 * criu can only re-create empty, and twice over here (the read-only bind of /proc/sys
 * carries a copy of this bind): it refused ("Can't re-create deleted file"). */
int vps_child_own_boot_id(int root_fd, const char *vps_dir, vps_error *err)
{
        char text[40];
        int n = boot_id_text(text);
        if (n < 0)
                return vps_err_sys(err, -n, "getrandom");
        /* vps_dir is ROOT/vps/ID */
        char root[600], name[96];
        const char *id = strrchr(vps_dir, '/');
        if (!id || (size_t)(id - vps_dir) >= sizeof(root))
                return vps_err(err, EINVAL, "no VPS id in %s", vps_dir);
        (void)snprintf(root, sizeof(root), "%.*s/..", (int)(id - vps_dir), vps_dir);
        (void)snprintf(name, sizeof(name), "boot-id-%s", id + 1);
        /* As host root: this process's fsuid is the VPS root's while it builds the tree. */
        uid_t fsuid = (uid_t)setfsuid(0);
        _cleanup_close_ int run = vps_run_dir_open(root, NULL, 0, err);
        _cleanup_close_ int src = -1;
        if (run < 0) {
                (void)setfsuid(fsuid);
                return run;
        }
        {
                _cleanup_close_ int f = openat(
                        run, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0444);
                if (f < 0 || write(f, text, (size_t)n) != n ||
                    (src = openat(run, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
                        int e = errno;
                        (void)setfsuid(fsuid);
                        return vps_err_sys(err, e, "writing the boot id");
                }
        }
        _cleanup_close_ int dst =
                vps_open_in_root(root_fd, "/proc/sys/kernel/random/boot_id", O_PATH, 0, err);
        char from[64], to[64];
        int r = dst;
        if (dst >= 0) {
                (void)snprintf(from, sizeof(from), "/proc/self/fd/%d", src);
                (void)snprintf(to, sizeof(to), "/proc/self/fd/%d", dst);
                r = mount(from, to, NULL, MS_BIND, NULL) < 0
                            ? vps_err_sys(err, errno, "binding the boot id")
                            : 0;
        }
        (void)setfsuid(fsuid);
        if (r < 0)
                return r;
        _cleanup_close_ int top =
                vps_open_in_root(root_fd, "/proc/sys/kernel/random/boot_id", O_PATH, 0, err);
        if (top < 0)
                return top;
        (void)snprintf(to, sizeof(to), "/proc/self/fd/%d", top);
        if (mount(NULL, to, NULL,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return vps_err_sys(err, errno, "making the boot id read-only");
        return 0;
}
