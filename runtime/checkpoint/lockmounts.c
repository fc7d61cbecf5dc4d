/* libvps: locks a restored VPS's /proc and /sys as a start does (checkpoint.h
 * vps_checkpoint_lock_mounts). Run by vpsd as criu's action script at "post-restore", as host
 * root in criu's mount namespace, while the restored tasks wait. Every mount of the VPS's
 * namespaces is guest data (criu made them from the images): paths into them are resolved
 * without symlinks and checked to reach the mount mountinfo named, else the restore fails.
 *
 * Why it locks: a tree of mounts that propagates from a mount namespace of the host's user
 * namespace into one of a less privileged user namespace is attached there with every mount
 * of it but its top MNT_LOCKED, and the top's flags locked (fs/namespace.c
 * attach_recursive_mnt, lock_mnt_tree). So the tree criu made at /proc is cloned and
 * unmounted, and the clone comes back by propagation on a bind of the directory it was on:
 * that bind is the unlocked top, under the proc mount, which is locked with every mask,
 * read-only bind and view on it, as at a start. Propagation onto a spot already covered would slide
 * the new tree under the old one and leave the old one unlocked (the kernel since "do not lock the
 * covering tree when sliding something under it"): hence the unmount first.
 */
#include "checkpoint/checkpoint.h"
#include "vps/cleanup.h"
#include "vps/safepath.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define NS_MAX     256
#define PEND_MAX   512
#define PIDS_MAX   65536
#define DEPTH_MAX  64
#define ROUNDS_MAX 256

struct guest_ns {
        int fd;
        pid_t pid;
        ino_t ino;
};

/* A proc or sysfs tree of a namespace, between its unmount and its locked copy's mount. */
struct pending {
        size_t ns;                    /* index into locker.ns */
        int parent_id, parent, clone; /* the parent's mount id and O_PATH fd; the detached clone */
        bool shared, slave;           /* the parent's propagation, to put back */
        size_t mounts;                /* in the tree: its copy must have as many */
        char mountpoint[512], rel[512];
};

struct locker {
        int proc;      /* the host's /proc (our pid namespace's), usable from any namespace */
        int helper_ns; /* our own mount namespace, of the host's user namespace */
        int stage;     /* a tmpfs of ours in it: where the parents' peers are attached */
        unsigned int staged;
        struct guest_ns ns[NS_MAX];
        size_t nns;
        struct pending pend[PEND_MAX];
        size_t npend;
};

static void locker_done(struct locker *l)
{
        vps_closep(&l->proc);
        vps_closep(&l->helper_ns);
        vps_closep(&l->stage);
        for (size_t i = 0; i < l->nns; i++)
                vps_closep(&l->ns[i].fd);
        for (size_t i = 0; i < l->npend; i++) {
                vps_closep(&l->pend[i].parent);
                vps_closep(&l->pend[i].clone);
        }
}

/* The mount namespace of pid, once per namespace; refused when it belongs to the host's user
 * namespace (no VPS task is in one: nothing of the host's is touched). */
static int add_ns(struct locker *l, pid_t pid, vps_error *err)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "%d/ns/mnt", (int)pid);
        _cleanup_close_ int fd = openat(l->proc, path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 && errno == ENOENT)
                return 0; /* gone (a zombie has no namespaces) */
        if (fd < 0 || fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "the mount namespace of %d", (int)pid);
        for (size_t i = 0; i < l->nns; i++)
                if (l->ns[i].ino == st.st_ino)
                        return 0;
        _cleanup_close_ int owner = ioctl(fd, NS_GET_USERNS);
        struct stat ost, host;
        if (owner < 0 || fstat(owner, &ost) < 0 || stat("/proc/self/ns/user", &host) < 0)
                return vps_err_sys(err, errno, "the user namespace of %d's mount namespace",
                                   (int)pid);
        if (ost.st_ino == host.st_ino && ost.st_dev == host.st_dev)
                return vps_err(err, EPERM,
                               "task %d of the VPS is in a mount namespace of the "
                               "host's user namespace",
                               (int)pid);
        if (l->nns == NS_MAX)
                return vps_err(err, E2BIG, "more than %d mount namespaces", NS_MAX);
        l->ns[l->nns++] = (struct guest_ns){.fd = TAKE_FD(fd), .pid = pid, .ino = st.st_ino};
        return 0;
}

/* The namespaces of the tasks in dir_fd's cgroup.procs and below. */
static int add_cgroup(struct locker *l, int dir_fd, unsigned int depth, size_t *npids,
                      vps_error *err)
{
        if (depth > DEPTH_MAX)
                return vps_err(err, ELOOP, "the VPS's cgroups are nested over %d deep", DEPTH_MAX);
        _cleanup_free_ char *procs = NULL;
        int r = vps_read_file_at(dir_fd, "cgroup.procs", &procs, NULL, err);
        for (char *p = procs, *end; r == 0 && p && *p; p = end) {
                long pid = strtol(p, &end, 10);
                if (end == p || pid <= 0 || ++*npids > PIDS_MAX)
                        return vps_err(err, EBADMSG, "cgroup.procs: '%.20s'", p);
                end += strspn(end, "\n");
                r = add_ns(l, (pid_t)pid, err);
        }
        if (r < 0)
                return r;
        _cleanup_close_ int dup_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
        if (!d)
                return vps_err_sys(err, errno, "listing a cgroup of the VPS");
        dup_fd = -1; /* the DIR's now */
        struct dirent *e;
        while (r == 0 && (e = readdir(d))) {
                if (e->d_type != DT_DIR || e->d_name[0] == '.')
                        continue;
                _cleanup_close_ int sub = openat(dirfd(d), e->d_name,
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = sub < 0 ? vps_err_sys(err, errno, "opening cgroup %s", e->d_name)
                            : add_cgroup(l, sub, depth + 1, npids, err);
        }
        return r;
}

/* The table of the namespace we are in, relative to its root (setns made that ours). */
static int read_table(struct locker *l, char **ret_text, struct vps_mnt_table *ret, vps_error *err)
{
        int r = vps_read_file_at(l->proc, "self/mountinfo", ret_text, NULL, err);
        if (r == 0)
                r = vps_mnt_table_parse(*ret_text, ret, err);
        return r;
}

static int enter(int ns_fd, vps_error *err)
{
        if (setns(ns_fd, CLONE_NEWNS) < 0)
                return vps_err_sys(err, errno, "setns");
        return 0;
}

static int set_propagation(int fd, uint64_t how, unsigned int flags, vps_error *err)
{
        struct mount_attr a = {.propagation = how};
        if (vps_sys_mount_setattr(fd, "", AT_EMPTY_PATH | flags, &a) < 0)
                return vps_err_sys(err, errno, "changing a mount's propagation");
        return 0;
}

static int propagation(int fd, uint64_t how, vps_error *err)
{
        return set_propagation(fd, how, 0, err);
}

static int propagation_tree(int fd, uint64_t how, vps_error *err)
{
        return set_propagation(fd, how, AT_RECURSIVE, err);
}

/* An O_PATH fd of path in the namespace we are in (its root ours since setns), no symlink
 * followed. */
static int open_in_ns(const char *path, vps_error *err)
{
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return vps_err_sys(err, errno, "opening the namespace's root");
        return vps_open_in_root_how(root, path, O_PATH | O_CLOEXEC, 0, VPS_RESOLVE_NO_SYMLINKS,
                                    err);
}

/* An O_PATH fd of mount m of the namespace we are in, by its mount point, checked to be m's
 * root (not another mount stacked on it, nor a guest's symlink followed). */
static int open_mount(const struct vps_mnt *m, vps_error *err)
{
        _cleanup_close_ int fd = open_in_ns(m->mountpoint, err);
        if (fd < 0)
                return fd;
        struct statx sx;
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
                return vps_err_sys(err, errno, "statx %s", m->mountpoint);
        if (!(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id != (uint64_t)m->id ||
            !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                return vps_err(err, EBUSY, "%s does not reach mount %d (another is over it)",
                               m->mountpoint, m->id);
        return TAKE_FD(fd);
}

/* Attaches the detached mount fd on a new directory of our stage. */
static int stage(struct locker *l, int fd, vps_error *err)
{
        char name[16];
        (void)snprintf(name, sizeof(name), "%u", l->staged++);
        if (mkdirat(l->stage, name, 0700) < 0)
                return vps_err_sys(err, errno, "creating the stage's %s", name);
        _cleanup_close_ int dir = openat(l->stage, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0 || vps_sys_move_mount(fd, "", dir, "",
                                          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return vps_err_sys(err, errno, "attaching a mount on the stage");
        return 0;
}

/* Unmounts m (by fd, through our own /proc: no path of the guest's is walked). */
static int unmount(struct locker *l, int fd, const struct vps_mnt *m, vps_error *err)
{
        char self[32];
        (void)snprintf(self, sizeof(self), "self/fd/%d", fd);
        if (fchdir(l->proc) < 0 || umount2(self, MNT_DETACH) < 0)
                return vps_err_sys(err, errno, "unmounting %s", m->mountpoint);
        return 0;
}

/* Phase 1, in g's namespace: q's tree cloned (the clone, detached, keeps every mount of it:
 * the masks, binds and views criu made, and the guest's own), q unmounted, and its parent
 * (now uncovered) opened for phase 2. */
static int take(struct locker *l, const struct vps_mnt_table *tab, size_t t, size_t g,
                vps_error *err)
{
        const struct vps_mnt *q = &tab->m[t], *skip, *p = vps_mnt_lock_parent(tab, q, &skip);
        const char *rel = p ? vps_mnt_rel_path(p, q) : NULL;
        if (!rel)
                return vps_err(err, EOPNOTSUPP, "%s has no parent mount to lock it on",
                               q->mountpoint);
        if (l->npend == PEND_MAX)
                return vps_err(err, E2BIG, "more than %d proc and sysfs trees", PEND_MAX);
        struct pending *pd = &l->pend[l->npend];
        *pd = (struct pending){.ns = g,
                               .parent_id = p->id,
                               .parent = -1,
                               .clone = -1,
                               .shared = p->shared,
                               .slave = p->slave};
        if (strlen(q->mountpoint) >= sizeof(pd->mountpoint) || strlen(rel) >= sizeof(pd->rel))
                return vps_err(err, ENAMETOOLONG, "a mount point is too long");
        strcpy(pd->mountpoint, q->mountpoint);
        strcpy(pd->rel, rel);
        l->npend++;
        pd->mounts = vps_mnt_subtree_size(tab, q->id);
        _cleanup_close_ int fd = open_mount(q, err);
        if (fd < 0)
                return fd;
        /* Private first: a clone of a shared mount is its peer, and the unmount below would
         * propagate to the clone's mounts, stripping the masks off the copy. */
        int r = propagation_tree(fd, MS_PRIVATE, err);
        if (r < 0)
                return r;
        pd->clone = vps_sys_open_tree(
                fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (pd->clone < 0)
                return vps_err_sys(err, errno, "cloning %s", q->mountpoint);
        if ((r = unmount(l, fd, q, err)) < 0)
                return r;
        /* The bind a lock put under a copy before (dumped and restored with it) goes too: the
         * copy's goes on the parent's own directory again, not on a pile of binds. */
        _cleanup_close_ int bind = skip ? open_mount(skip, err) : -1;
        if (skip && (bind < 0 || (r = unmount(l, bind, skip, err)) < 0))
                return bind < 0 ? bind : r;
        pd->parent = open_mount(p, err);
        return pd->parent < 0 ? pd->parent : 0;
}

/* Phase 2, in our namespace: the clone stacked on a bind of the directory at the old mount
 * point, and the two moved onto a peer of the parent there: the copy that propagates to the
 * parent is locked but for its top, the bind, which the proc or sysfs covers. */
static int put_back(struct locker *l, struct pending *pd, vps_error *err)
{
        int r = pd->shared ? 0 : propagation(pd->parent, MS_SHARED, err);
        _cleanup_close_ int peer =
                r < 0 ? -1
                      : vps_sys_open_tree(pd->parent, "",
                                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (r == 0 && peer < 0)
                r = vps_err_sys(err, errno, "cloning the parent of %s", pd->mountpoint);
        if (r == 0 && (r = enter(l->helper_ns, err)) == 0) {
                r = stage(l, peer, err);
                /* The peer has no mounts of its own: the path stays in the guest's files. */
                _cleanup_close_ int at =
                        r < 0 ? -1
                              : vps_open_in_root_how(peer, pd->rel, O_PATH | O_CLOEXEC, 0,
                                                     VPS_RESOLVE_NO_SYMLINKS | VPS_RESOLVE_NO_XDEV,
                                                     err);
                if (r == 0 && at < 0)
                        r = at;
                /* Under the clone, a bind of the very directory it goes on: the copy's top,
                 * the one mount of it not locked, which the proc or sysfs covers. */
                _cleanup_close_ int base =
                        r < 0 ? -1
                              : vps_sys_open_tree(at, "",
                                                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                          AT_EMPTY_PATH);
                if (r == 0 && base < 0)
                        r = vps_err_sys(err, errno, "binding %s", pd->mountpoint);
                if (r == 0 && (r = propagation(base, MS_PRIVATE, err)) == 0)
                        r = stage(l, base, err);
                if (r == 0 &&
                    (vps_sys_move_mount(pd->clone, "", base, "",
                                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0 ||
                     vps_sys_move_mount(base, "", at, "",
                                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0))
                        r = vps_err_sys(err, errno, "mounting the locked copy");
                /* Out of the parent's peer group again. */
                if (r == 0)
                        r = propagation(peer, MS_PRIVATE, err);
                int e = enter(l->ns[pd->ns].fd, err);
                r = r < 0 ? r : e;
        }
        /* The parent's propagation as the guest had it (a slave stays its master's). */
        if (!pd->shared) {
                vps_error e2;
                int b = propagation(pd->parent, pd->slave ? MS_SLAVE : MS_PRIVATE,
                                    r < 0 ? &e2 : err);
                r = r < 0 ? r : b;
        }
        return r;
}

/* Is pd's mount point on its parent taken (by a copy that propagated from another parent's
 * locking: nothing else is mounted after phase 1)? */
static int spot_taken(struct locker *l, const struct pending *pd, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        struct vps_mnt_table tab = {0};
        int r = read_table(l, &text, &tab, err);
        for (size_t i = 0; r == 0 && i < tab.n; i++)
                if (tab.m[i].parent == pd->parent_id &&
                    !strcmp(tab.m[i].mountpoint, pd->mountpoint))
                        r = 1;
        vps_mnt_table_free(&tab);
        return r;
}

/* After phase 2: the mount at pd's mount point is a proc or sysfs (the copy: phase 1 left
 * none) with as many mounts in its tree as the one taken down; made private (the copies came
 * shared, each mount in a peer group with ours, which end with our namespace). */
static int check_copy(struct locker *l, const struct pending *pd, vps_error *err)
{
        _cleanup_close_ int fd = open_in_ns(pd->mountpoint, err);
        if (fd < 0)
                return fd;
        struct statfs sf;
        struct statx sx;
        if (fstatfs(fd, &sf) < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
                return vps_err_sys(err, errno, "checking %s", pd->mountpoint);
        if (sf.f_type != PROC_SUPER_MAGIC && sf.f_type != SYSFS_MAGIC)
                return vps_err(err, EIO, "%s is not the locked copy", pd->mountpoint);
        _cleanup_free_ char *text = NULL;
        struct vps_mnt_table tab = {0};
        int r = read_table(l, &text, &tab, err);
        size_t n = r < 0 ? 0 : vps_mnt_subtree_size(&tab, (int)sx.stx_mnt_id);
        vps_mnt_table_free(&tab);
        if (r == 0 && n != pd->mounts)
                r = vps_err(err, EIO, "the copy of %s has %zu mounts, not %zu", pd->mountpoint, n,
                            pd->mounts);
        return r < 0 ? r : propagation_tree(fd, MS_PRIVATE, err);
}

/* How many proc and sysfs trees namespace g has (into *ret_one, the first one's mount
 * point, when asked). */
static int count_targets(struct locker *l, size_t g, char *ret_one, size_t size, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        struct vps_mnt_table tab = {0};
        size_t t = 0, n = 0;
        int r = enter(l->ns[g].fd, err);
        if (r == 0 && (r = read_table(l, &text, &tab, err)) == 0)
                n = vps_mnt_lock_targets(&tab, &t, 1);
        if (n && ret_one)
                (void)snprintf(ret_one, size, "%s", tab.m[t].mountpoint);
        vps_mnt_table_free(&tab);
        return r < 0 ? r : (int)(n > 1000 ? 1000 : n);
}

/* Phase 1 in every namespace, checked to leave no proc or sysfs tree anywhere (nothing but
 * the locking mounts anything until criu lets the tasks go); then phase 2. The init's
 * namespace (found first) comes last: the others are mostly its slaves (systemd's services'),
 * and an unmount or a mount in it propagates to them, which would strip a service's own
 * /proc (its ProtectKernelTunables= binds), or cover its own copy, had it not been taken
 * first: its own copy is then on top. */
static int lock_all(struct locker *l, vps_error *err)
{
        int r = 0;
        for (size_t k = 0; r == 0 && k < l->nns; k++) {
                size_t g = l->nns - 1 - k;
                _cleanup_free_ char *text = NULL;
                struct vps_mnt_table tab = {0};
                size_t t[PEND_MAX], n = 0;
                if ((r = enter(l->ns[g].fd, err)) == 0 &&
                    (r = read_table(l, &text, &tab, err)) == 0)
                        n = vps_mnt_lock_targets(&tab, t, PEND_MAX);
                for (size_t i = 0; r == 0 && i < n && i < PEND_MAX; i++)
                        r = take(l, &tab, t[i], g, err);
                vps_mnt_table_free(&tab);
        }
        char left[512];
        for (size_t g = 0; r == 0 && g < l->nns; g++)
                if ((r = count_targets(l, g, left, sizeof(left), err)) > 0)
                        r = vps_err(err, EBUSY, "%s is mounted still", left);
        for (size_t i = 0; r == 0 && i < l->npend; i++) {
                struct pending *pd = &l->pend[i];
                if ((r = enter(l->ns[pd->ns].fd, err)) == 0 && (r = spot_taken(l, pd, err)) == 0)
                        r = put_back(l, pd, err);
                if (r >= 0)
                        r = check_copy(l, pd, err);
                if (r < 0)
                        r = vps_err_wrap(err, "locking %s", pd->mountpoint);
        }
        return r;
}

/* Our own namespace, of the host's user namespace, sharing nothing with criu's, and a tmpfs
 * of its own to stage the parents' peers on. */
static int helper_ns(struct locker *l, vps_error *err)
{
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return vps_err_sys(err, errno, "a mount namespace for the locking");
        l->helper_ns = openat(l->proc, "self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (l->helper_ns < 0)
                return vps_err_sys(err, errno, "opening our mount namespace");
        _cleanup_close_ int fs = vps_sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || vps_sys_fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
            vps_sys_fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
            vps_sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vps_err_sys(err, errno, "creating the stage");
        _cleanup_close_ int m = vps_sys_fsmount(
                fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        /* Attached (a mount can only go where the namespace is ours): over the stage
         * directory of criu's namespace, in our copy only. */
        if (m < 0 ||
            vps_sys_move_mount(m, "", AT_FDCWD, VPS_CHECKPOINT_STAGE, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return vps_err_sys(err, errno, "mounting the stage");
        l->stage = open(VPS_CHECKPOINT_STAGE, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (l->stage < 0)
                return vps_err_sys(err, errno, "opening the stage");
        return 0;
}

int vps_checkpoint_lock_mounts(pid_t init, const char *cgroup_dir, vps_error *err)
{
        static struct locker l; /* (large: the helper's only one) */
        memset(&l, 0, sizeof(l));
        l.proc = l.helper_ns = l.stage = -1;
        size_t npids = 0;
        int r = 0;
        l.proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int own = openat(l.proc, "self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (l.proc < 0 || own < 0)
                r = vps_err_sys(err, errno, "opening /proc");
        if (r == 0)
                r = add_ns(&l, init, err);
        if (r == 0 && cgroup_dir) {
                _cleanup_close_ int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = cg < 0 ? vps_err_sys(err, errno, "opening %s", cgroup_dir)
                           : add_cgroup(&l, cg, 0, &npids, err);
        }
        if (r == 0 && l.nns == 0)
                r = vps_err(err, ESRCH, "the restored init %d is gone", (int)init);
        if (r == 0 && (r = enter(own, err)) == 0)
                r = helper_ns(&l, err);
        if (r == 0)
                r = lock_all(&l, err);
        if (r == 0 && l.npend == 0)
                r = vps_err(err, ENOENT, "the VPS has no /proc or /sys to lock");
        /* Back in criu's namespace, whose /proc is of our pid namespace (what the process
         * reads of itself on its way out: LeakSanitizer's /proc/PID/task, say). */
        if (own >= 0)
                (void)setns(own, CLONE_NEWNS);
        locker_done(&l);
        return r;
}
