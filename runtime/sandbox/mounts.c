/* libvps, child side: the VPS root, built in three steps by two processes (spawn.c).
 *   1. The maker, root of the VPS's new user namespace: the idmapped template moves onto
 *      lower/, and an overlayfs context (fsopen/fsconfig) is created from fds of lower/,
 *      upper/ and work/ (opened while it still acted as host uid 0: the VPS dir is host root's,
 *      0700). Created there, the overlay's credentials are the VPS root's, as before.
 *   2. The init, still host root in a mount namespace of the host's user namespace, a slave
 *      of the host's: mounts that overlay on rootfs/ and puts on it what the guest must not
 *      take away: proc (of the VPS's pid namespace: the init is its PID 1), sysfs (of its
 *      network namespace, joined at birth), LXCFS's views, the masks and the read-only binds.
 *   3. The init joins the VPS's user namespace and unshares its mount namespace: the copy
 *      belongs to a less privileged user namespace, so the kernel locks every mount of step 2
 *      in it (copy_mnt_ns, MNT_LOCKED): the guest's root can neither unmount a mask nor mount
 *      a fresh proc or sysfs (mount_too_revealing), nor remount a read-only bind writable.
 *      Then, as the VPS's root: a recursive bind of the root (a locked mount cannot be a
 *      new root; the bind's top is not locked, its children stay so), the rest of the table
 *      on targets resolved inside the guest root (RESOLVE_IN_ROOT), pivot_root. */
#include "vps/cleanup.h"
#include "config/config.h"
#include "inst/inst.h"
#include "vps/safepath.h"
#include "sandbox/sandbox.h"
#include "mounttab.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct mount_entry {
        const char *source, *target, *fstype;
        unsigned long flags;
        const char *data;
};

/* Step 2, locked. */
static const struct mount_entry locked_table[] = {
        {"sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
};

/* Step 3, the guest's own: its cgroup2 (of its cgroup namespace), its /dev and tmpfses. */
static const struct mount_entry mount_table[] = {
        {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        {"tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"},
        /* max= added by build_tree: the host's pty pool (kernel.pty.max less the reserve of
         * its own devpts) is shared by every VPS, and one VPS took all of it. */
        {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         "newinstance,ptmxmode=0666,mode=0620,gid=5"},
        /* Sized like systemd-nspawn's (percent of host RAM; the memory cgroup caps them too),
         * so df does not show half the host's memory in every VPS. */
        {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=10%,nr_inodes=1m"},
        {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=10%,nr_inodes=800k"},
};

/* Read-only binds; /proc/sys/net belongs to the VPS's own network namespace and stays
 * writable. */
static const char *const readonly_paths[] = {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"};

static const struct {
        const char *target, *link;
} dev_links[] = {
        {"/dev/ptmx", "pts/ptmx"},          {"/dev/fd", "/proc/self/fd"},
        {"/dev/stdin", "/proc/self/fd/0"},  {"/dev/stdout", "/proc/self/fd/1"},
        {"/dev/stderr", "/proc/self/fd/2"},
};

static int fd_path(char *buf, size_t size, int fd)
{
        return snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* Step 1: returns the overlay's fs context, created (FSCONFIG_CMD_CREATE), for the init to
 * mount. userxattr: overlayfs keeps its opaque and redirect marks in user.overlay.* xattrs,
 * which it may set from inside the user namespace. Without them (trusted.* needs the host's
 * root) a rename of a directory the template also has fails with EXDEV: dpkg renames
 * DIR.dpkg-new over DIR for every package it unpacks. The layers are named by /proc/self/fd
 * links: no walk from the host's root, whose directories the VPS's root may not search. */
int vps_child_make_overlay(const struct vps_host_dirs *h, int lower_fd, vps_error *err)
{
        if (vps_sys_move_mount(lower_fd, "", h->lower, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return vps_err_sys(err, errno, "attaching the template");
        _cleanup_close_ int fs = vps_sys_fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return vps_err_sys(err, errno, "opening overlayfs");
        const struct {
                const char *key;
                int fd;
        } layers[] = {{"lowerdir", lower_fd}, {"upperdir", h->upper}, {"workdir", h->work}};
        for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
                char via[64];
                (void)fd_path(via, sizeof(via), layers[i].fd);
                if (vps_sys_fsconfig(fs, FSCONFIG_SET_STRING, layers[i].key, via, 0) < 0)
                        return vps_err_sys(err, errno, "overlay %s", layers[i].key);
        }
        if (vps_sys_fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
            vps_sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vps_err_sys(err, errno, "creating the overlay root");
        return TAKE_FD(fs);
}

/* Step 2: the overlay from the maker's context, attached on rootfs/; returns its root. */
int vps_child_mount_overlay(const struct vps_host_dirs *h, int fs_fd, vps_error *err)
{
        int mnt = vps_sys_fsmount(fs_fd, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                return vps_err_sys(err, errno, "mounting the overlay root");
        if (vps_sys_move_mount(mnt, "", h->rootfs, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                int e = errno;
                close(mnt);
                return vps_err_sys(err, e, "attaching the overlay root");
        }
        return mnt;
}

static int clone_file(int dfd, const char *path, vps_error *err)
{
        int fd = vps_sys_open_tree(dfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "cloning %s", path);
        return fd;
}

static int pivot(int root_fd, vps_error *err)
{
        if (fchdir(root_fd) < 0)
                return vps_err_sys(err, errno, "entering the root");
        if (vps_sys_pivot_root(".", ".") < 0)
                return vps_err_sys(err, errno, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return vps_err_sys(err, errno, "detaching the host root");
        if (chdir("/") < 0)
                return vps_err_sys(err, errno, "chdir /");
        return 0;
}

/* Mounts onto a target resolved inside the guest root, through its /proc/self/fd link. */
static int mount_at(int root_fd, const struct mount_entry *m, vps_error *err)
{
        _cleanup_close_ int t = vps_ensure_in_root(root_fd, m->target, 1, err);
        if (t < 0)
                return t;
        char via[64];
        (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", t);
        if (mount(m->source, via, m->fstype, m->flags, m->data) < 0)
                return vps_err_sys(err, errno, "mounting %s on %s", m->fstype, m->target);
        return 0;
}

static int attach_at(int root_fd, int fd, const char *target, vps_error *err)
{
        _cleanup_close_ int t = vps_ensure_in_root(root_fd, target, 0, err);
        if (t < 0)
                return t;
        if (vps_sys_move_mount(fd, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
            0)
                return vps_err_sys(err, errno, "binding %s", target);
        return 0;
}

static int mask_one(int root_fd, const char *path, vps_error *err)
{
        _cleanup_close_ int t = vps_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0, err);
        if (t == -ENOENT)
                return 0;
        if (t < 0)
                return t;
        struct stat st;
        if (fstat(t, &st) < 0)
                return vps_err_sys(err, errno, "stat %s", path);
        char via[64];
        (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", t);
        if (S_ISDIR(st.st_mode)) {
                if (mount("tmpfs", via, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "size=0,mode=555") < 0)
                        return vps_err_sys(err, errno, "masking %s", path);
                return 0;
        }
        _cleanup_close_ int null = clone_file(AT_FDCWD, "/dev/null", err);
        if (null < 0)
                return null;
        if (vps_sys_move_mount(null, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
            0)
                return vps_err_sys(err, errno, "masking %s", path);
        return 0;
}

static int bind_at(int root_fd, const char *path, bool ro, vps_error *err)
{
        _cleanup_close_ int t = vps_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0, err);
        if (t == -ENOENT)
                return 0;
        if (t < 0)
                return t;
        char via[64];
        (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", t);
        if (mount(via, via, NULL, MS_BIND | MS_REC, NULL) < 0)
                return vps_err_sys(err, errno, "binding %s", path);
        if (!ro)
                return 0;
        /* The remount must name the new bind, not the directory under it: open it again. */
        _cleanup_close_ int top = vps_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0, err);
        if (top < 0)
                return top;
        (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", top);
        unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (mount(NULL, via, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | fl, NULL) < 0)
                return vps_err_sys(err, errno, "making %s read-only", path);
        return 0;
}

static int harden(int root_fd, vps_error *err)
{
        int r = 0;
        for (size_t i = 0; r == 0 && i < vps_n_masked_paths; i++)
                r = mask_one(root_fd, vps_masked_paths[i], err);
        /* /proc/sys/net first: a bind copies the flags of its source, so binding it after
         * /proc/sys went read-only would give a read-only copy. The recursive bind of
         * /proc/sys then carries this writable submount along. */
        if (r == 0)
                r = bind_at(root_fd, "/proc/sys/net", false, err);
        for (size_t i = 0; r == 0 && i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++)
                r = bind_at(root_fd, readonly_paths[i], true, err);
        return r;
}

static int populate_dev(int root_fd, const int *dev_fds, int console_fd, vps_error *err)
{
        char path[64];
        int r;
        for (size_t i = 0; i < VPS_N_DEV_NODES; i++) {
                (void)snprintf(path, sizeof(path), "/dev/%s", vps_dev_nodes[i]);
                if ((r = attach_at(root_fd, dev_fds[i], path, err)) < 0)
                        return r;
        }
        if ((r = attach_at(root_fd, console_fd, "/dev/console", err)) < 0)
                return r;
        _cleanup_close_ int dev = vps_open_in_root(root_fd, "/dev", O_PATH | O_DIRECTORY, 0, err);
        if (dev < 0)
                return dev;
        for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
                if (symlinkat(dev_links[i].link, dev, dev_links[i].target + 5) < 0 &&
                    errno != EEXIST)
                        return vps_err_sys(err, errno, "linking %s", dev_links[i].target);
        return 0;
}

static int clone_console(int console_fd, vps_error *err)
{
        /* The console fd belongs to vpsd's mount namespace; clone it by its path in ours
         * (our copy of the host's /dev/pts). */
        char link[64], pts[128];
        (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", console_fd);
        ssize_t n = readlink(link, pts, sizeof(pts) - 1);
        if (n < 0)
                return vps_err_sys(err, errno, "finding the console pty");
        pts[n] = '\0';
        return clone_file(AT_FDCWD, pts, err);
}

static void close_all(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

/* The nodes --devnodes and --features grant, bound from the ones vpsd made (devices.c),
 * which the device program lets through; cloned by vps_child_open_host. */
static int bind_devnodes(int root_fd, const struct vps_host_dirs *h, const struct vps_config *cfg,
                         vps_error *err)
{
        char names[VPS_MAX_DEVNODES][8];
        unsigned int n = cfg ? vps_devnodes_effective(cfg, names) : 0;
        for (unsigned int i = 0; i < n && i < h->n_dev; i++) {
                const struct vps_devnode *d = vps_devnode_find(names[i]);
                if (!d || h->devnodes[i] < 0)
                        continue;
                char guest[64];
                (void)snprintf(guest, sizeof(guest), "/dev/%s", d->path);
                char *slash = strrchr(guest, '/');
                if (slash != guest + 4) { /* a directory below /dev: /dev/net */
                        *slash = '\0';
                        _cleanup_close_ int dir = vps_ensure_in_root(root_fd, guest, 1, err);
                        if (dir < 0)
                                return dir;
                        *slash = '/';
                }
                int r = attach_at(root_fd, h->devnodes[i], guest, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --features nesting: a proc and a sysfs that nothing covers. The kernel lets a nested user
 * namespace mount a new proc or sysfs only where one is already fully visible in its mount
 * namespace (mount_too_revealing), and the VPS's /proc and /sys carry masks; LXC and Incus
 * mount these at /dev/.lxc/{proc,sys} for the same reason. sysfs read-only: a nested sysfs
 * must then be read-only too, as container runtimes mount it. Their directory is root's
 * only (0700): the guest's root could mount them anyway, its other users need not see them. */
static const struct mount_entry nesting_table[] = {
        {"proc", "/dev/.vps/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        {"sysfs", "/dev/.vps/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
};

static int nesting_mounts(int root_fd, vps_error *err)
{
        _cleanup_close_ int dir = vps_ensure_in_root(root_fd, "/dev/.vps", 1, err);
        if (dir < 0)
                return dir;
        char via[64];
        (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", dir);
        if (chmod(via, 0700) < 0)
                return vps_err_sys(err, errno, "chmod /dev/.vps");
        int r = 0;
        for (size_t i = 0; r == 0 && i < sizeof(nesting_table) / sizeof(nesting_table[0]); i++)
                r = mount_at(root_fd, &nesting_table[i], err);
        return r;
}

static int build_tree(int root_fd, const struct vps_host_dirs *h, int console_fd,
                      unsigned int devpts_max, const struct vps_config *cfg, vps_error *err)
{
        int fds[VPS_N_DEV_NODES + 1], r = 0;
        for (size_t i = 0; i < VPS_N_DEV_NODES + 1; i++)
                fds[i] = -1;
        char path[64];
        for (size_t i = 0; i < VPS_N_DEV_NODES && r >= 0; i++) {
                (void)snprintf(path, sizeof(path), "/dev/%s", vps_dev_nodes[i]);
                r = fds[i] = clone_file(AT_FDCWD, path, err);
        }
        if (r >= 0)
                r = fds[VPS_N_DEV_NODES] = clone_console(console_fd, err);
        char pts_data[128];
        for (size_t i = 0; r >= 0 && i < sizeof(mount_table) / sizeof(mount_table[0]); i++) {
                struct mount_entry m = mount_table[i];
                if (strcmp(m.fstype, "devpts") == 0 && devpts_max) {
                        (void)snprintf(pts_data, sizeof(pts_data), "%s,max=%u", m.data, devpts_max);
                        m.data = pts_data;
                }
                r = mount_at(root_fd, &m, err);
        }
        if (r >= 0)
                r = populate_dev(root_fd, fds, fds[VPS_N_DEV_NODES], err);
        if (r >= 0)
                r = bind_devnodes(root_fd, h, cfg, err);
        if (r >= 0 && cfg && (cfg->features & VPS_FEAT_NESTING))
                r = nesting_mounts(root_fd, err);
        close_all(fds, VPS_N_DEV_NODES + 1);
        return r < 0 ? r : 0;
}

/* LXCFS's views, which answer from the caller's cgroup: free, top, uptime and nproc inside
 * show the VPS's limits. A view this LXCFS lacks is left as procfs has it. */
static int bind_lxcfs(int root_fd, const char *lxcfs, vps_error *err)
{
        for (size_t i = 0; i < vps_n_lxcfs_views; i++) {
                const char *view = vps_lxcfs_views[i];
                char src[400];
                (void)snprintf(src, sizeof(src), "%s%s", lxcfs, view);
                _cleanup_close_ int t = vps_open_in_root(root_fd, view, O_PATH, 0, err);
                if (t == -ENOENT)
                        continue;
                if (t < 0)
                        return t;
                char via[64];
                (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", t);
                /* No access(2) first: each is a round trip to the LXCFS daemon. A view it
                 * lacks (ENOENT) or an LXCFS gone meanwhile (ENOTCONN) is simply skipped. */
                if (mount(src, via, NULL, MS_BIND, NULL) < 0 && errno != ENOENT &&
                    errno != ENOTCONN)
                        return vps_err_sys(err, errno, "binding LXCFS's %s", view);
        }
        return 0;
}

static int open_dir_at(int dfd, const char *name, vps_error *err)
{
        int fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", name);
        return fd;
}

void vps_host_dirs_close(struct vps_host_dirs *h)
{
        int *fds[] = {&h->lower, &h->upper, &h->work, &h->rootfs};
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                vps_closep(fds[i]);
        for (unsigned int i = 0; i < h->n_dev; i++)
                vps_closep(&h->devnodes[i]);
        h->n_dev = 0;
        if (h->has_meminfo)
                vps_closep(&h->meminfo);
        h->has_meminfo = false;
}

/* vpsd's /proc/meminfo view, when it wrote one (LXCFS not serving): a read-only clone. */
static int open_meminfo(int dir, struct vps_host_dirs *ret, vps_error *err)
{
        int fd = vps_sys_open_tree(dir, "meminfo", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0)
                return vps_err_sys(err, errno, "cloning meminfo");
        ret->meminfo = fd;
        ret->has_meminfo = true;
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                              MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
        if (vps_sys_mount_setattr(fd, "", AT_EMPTY_PATH, &attr) < 0)
                return vps_err_sys(err, errno, "making the meminfo view read-only");
        return 0;
}

int vps_child_open_host(const char *vps_dir, const struct vps_config *cfg,
                        struct vps_host_dirs *ret, vps_error *err)
{
        *ret = (struct vps_host_dirs){.lower = -1, .upper = -1, .work = -1, .rootfs = -1};
        _cleanup_close_ int dir = open(vps_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return vps_err_sys(err, errno, "opening %s", vps_dir);
        int *fds[] = {&ret->lower, &ret->upper, &ret->work, &ret->rootfs};
        static const char *const names[] = {"lower", "upper", "work", "rootfs"};
        for (size_t i = 0; i < 4; i++)
                if ((*fds[i] = open_dir_at(dir, names[i], err)) < 0)
                        return *fds[i];
        char dev[VPS_MAX_DEVNODES][8];
        unsigned int n = cfg ? vps_devnodes_effective(cfg, dev) : 0;
        for (unsigned int i = 0; i < n; i++) {
                const struct vps_devnode *d = vps_devnode_find(dev[i]);
                char host[64];
                (void)snprintf(host, sizeof(host), "devnodes/%s", d ? d->name : dev[i]);
                ret->devnodes[ret->n_dev++] = -1;
                if (!d)
                        continue;
                int fd = clone_file(dir, host, err);
                if (fd < 0)
                        return fd;
                ret->devnodes[ret->n_dev - 1] = fd;
        }
        return open_meminfo(dir, ret, err);
}

/* A proc whose pid namespace is pidns_fd's (proc's pidns= option), or, with -1, the
 * caller's, attached on t. Returns 0 or -errno. */
static int proc_on(int t, int pidns_fd)
{
        _cleanup_close_ int fs = vps_sys_fsopen("proc", FSOPEN_CLOEXEC);
        if (fs < 0 ||
            (pidns_fd >= 0 && vps_sys_fsconfig(fs, FSCONFIG_SET_FD, "pidns", NULL, pidns_fd) < 0) ||
            vps_sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        _cleanup_close_ int mnt = vps_sys_fsmount(
                fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mnt < 0 || vps_sys_move_mount(mnt, "", t, "",
                                          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

/* Kernels before proc's pidns= option (Linux 6.14's; the VM layer's 6.1) take a proc's pid
 * namespace from the process that creates it: a child born in the VPS's pid namespace (its
 * init is there by now) creates and attaches it, in this mount namespace, which it shares. */
static int proc_from_inside(int t, int pidns_fd)
{
        _cleanup_close_ int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own < 0 || setns(pidns_fd, CLONE_NEWPID) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid == 0)
                _exit(-proc_on(t, -1));
        int e = errno;
        (void)setns(own, CLONE_NEWPID); /* back to our own for later children */
        if (pid < 0)
                return -e;
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? -WEXITSTATUS(status) : -ECHILD;
}

/* proc of the VPS's pid namespace, which the mounting process is not in. */
static int mount_proc(int root_fd, int pidns_fd, vps_error *err)
{
        _cleanup_close_ int t = vps_ensure_in_root(root_fd, "/proc", 1, err);
        if (t < 0)
                return t;
        int r = proc_on(t, pidns_fd);
        if (r == -EINVAL)
                r = proc_from_inside(t, pidns_fd);
        return r < 0 ? vps_err_sys(err, -r, "mounting the VPS's proc on /proc") : 0;
}

int vps_child_lock_root(const struct vps_host_dirs *h, const char *vps_dir, int fs_fd, int pidns_fd,
                        const char *lxcfs, vps_error *err)
{
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return vps_err_sys(err, errno, "making the mount tree a slave");
        _cleanup_close_ int root_fd = vps_child_mount_overlay(h, fs_fd, err);
        if (root_fd < 0)
                return root_fd;
        /* proc of the pid namespace this process is PID 1 of, sysfs of its network
         * namespace: mounted by host root, which mount_too_revealing does not restrict. */
        int r = mount_proc(root_fd, pidns_fd, err);
        if (r == 0)
                r = vps_child_own_boot_id(root_fd, vps_dir, err);
        for (size_t i = 0; r == 0 && i < sizeof(locked_table) / sizeof(locked_table[0]); i++)
                r = mount_at(root_fd, &locked_table[i], err);
        if (r == 0 && lxcfs)
                r = bind_lxcfs(root_fd, lxcfs, err);
        /* Without LXCFS, vpsd's own view (sandbox.h): free's figures agree with sysinfo(2). */
        if (r == 0 && !lxcfs && h->has_meminfo)
                r = attach_at(root_fd, h->meminfo, "/proc/meminfo", err);
        if (r == 0)
                r = harden(root_fd, err);
        return r < 0 ? r : TAKE_FD(root_fd);
}

/* A locked mount cannot become the root (pivot_root: EINVAL); a recursive bind's top is not
 * locked, and the mounts under it stay locked. */
static int unlocked_top(int root_fd, vps_error *err)
{
        int tree = vps_sys_open_tree(
                root_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return vps_err_sys(err, errno, "binding the root");
        if (vps_sys_move_mount(tree, "", root_fd, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                int e = errno;
                close(tree);
                return vps_err_sys(err, e, "attaching the root's bind");
        }
        return tree;
}

int vps_child_build_root(int locked_root_fd, const struct vps_host_dirs *h, int console_fd,
                         unsigned int devpts_max, const struct vps_config *cfg, vps_error *err)
{
        _cleanup_close_ int root_fd = unlocked_top(locked_root_fd, err);
        if (root_fd < 0)
                return root_fd;
        int r = build_tree(root_fd, h, console_fd, devpts_max, cfg, err);
        return r < 0 ? r : pivot(root_fd, err);
}
