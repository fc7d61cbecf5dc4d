/* libvps: what a restore with criu (runtime/checkpoint/) needs of a start's mounts, made in
 * the restoring process's own mount namespace: the VPS's root built as a start builds it
 * (spawn.c's idmapped template, mounts.c's overlay), and the sources of the binds a start
 * makes from the host, put where the VPS's root can reach them: criu restores the guest's
 * mounts as that user, who may not search host root's 0700 directories. */
#include "mounttab.h"
#include "spawn.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A process in a new user namespace, which waits until its pipe closes: the namespace the
 * template is idmapped to (the mapping is what counts, not the namespace). */
static pid_t userns_holder(int *ret_wr, vps_error *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "pipe");
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return vps_err_sys(err, e, "pipe");
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(p[1]); /* its end closes when the parent is done */
                close(ready[0]);
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                char c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'e';
                if (write(ready[1], &c, 1) == 1 && read(p[0], &c, 1) >= 0)
                        _exit(0);
                _exit(1);
        }
        int e = errno;
        close(p[0]);
        close(ready[1]);
        _cleanup_close_ int rd = ready[0];
        char c = 0;
        if (pid < 0 || read(rd, &c, 1) != 1 || c != 'u') {
                close(p[1]);
                if (pid > 0)
                        (void)waitpid(pid, NULL, 0);
                return vps_err_sys(err, pid < 0 ? e : EPERM, "creating a user namespace");
        }
        *ret_wr = p[1];
        return pid;
}

int vps_restore_root(const char *vps_dir, const char *lower_path, uint32_t uid_base,
                     uint32_t uid_count, const struct vps_config *cfg, vps_error *err)
{
        struct vps_host_dirs h;
        int r = vps_child_open_host(vps_dir, cfg, &h, err);
        if (r < 0) {
                vps_host_dirs_close(&h);
                return r;
        }
        int wr = -1;
        pid_t holder = userns_holder(&wr, err);
        if (holder < 0) {
                vps_host_dirs_close(&h);
                return holder;
        }
        _cleanup_close_ int lower = -1, fs = -1, root = -1;
        if ((r = vps_spawn_write_map(holder, "uid_map", uid_base, uid_count, err)) == 0 &&
            (r = vps_spawn_write_map(holder, "gid_map", uid_base, uid_count, err)) == 0)
                r = lower = vps_spawn_idmapped_lower(holder, lower_path, err);
        close(wr);
        (void)waitpid(holder, NULL, 0);
        if (r >= 0)
                r = fs = vps_child_make_overlay(&h, lower, err);
        if (r >= 0)
                r = root = vps_child_mount_overlay(&h, fs, err);
        vps_host_dirs_close(&h);
        return r < 0 ? r : 0;
}

/* A clone of the source of b, by its path in this mount namespace. */
static int clone_source(const struct vps_host_bind *b, int console, vps_error *err)
{
        char link[64], src[128];
        const char *path = b->source;
        if (b->kind == VPS_BIND_CONSOLE) {
                /* The pty's fd belongs to vpsd's mount namespace: cloned by its path in ours
                 * (mounts.c's clone_console does the same). */
                (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", console);
                ssize_t n = readlink(link, src, sizeof(src) - 1);
                if (n < 0)
                        return vps_err_sys(err, errno, "finding the console pty");
                src[n] = '\0';
                path = src;
        }
        int tree = vps_sys_open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return vps_err_sys(err, errno, "the source of %s (%s)", b->target, path);
        return tree;
}

static int stage_one(int stage_fd, const struct vps_host_bind *b, int tree, vps_error *err)
{
        struct stat st;
        if (fstat(tree, &st) < 0)
                return vps_err_sys(err, errno, "stat %s", b->source);
        int r = S_ISDIR(st.st_mode) ? mkdirat(stage_fd, b->key, 0755) : 0;
        _cleanup_close_ int t = -1;
        if (r == 0 && !S_ISDIR(st.st_mode))
                r = t = openat(stage_fd, b->key, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (r >= 0 && S_ISDIR(st.st_mode))
                r = t = openat(stage_fd, b->key, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r < 0)
                return vps_err_sys(err, errno, "staging %s", b->key);
        if (vps_sys_move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
            0)
                return vps_err_sys(err, errno, "staging %s", b->target);
        return 0;
}

int vps_restore_stage(const char *stage, const struct vps_host_bind *b, unsigned int n, int console,
                      vps_error *err)
{
        /* The sources first: the tmpfs may cover some of them (the run directory's). */
        int trees[VPS_HOST_BINDS_MAX];
        unsigned int nt = 0;
        int r = 0;
        for (; r >= 0 && nt < n && nt < VPS_HOST_BINDS_MAX; nt++)
                r = trees[nt] = clone_source(&b[nt], console, err);
        if (r >= 0 && mount("vps-restore", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            "mode=0755,size=64k") < 0)
                r = vps_err_sys(err, errno, "mounting a tmpfs on %s", stage);
        _cleanup_close_ int fd = r < 0 ? -1 : open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r >= 0 && fd < 0)
                r = vps_err_sys(err, errno, "opening %s", stage);
        for (unsigned int i = 0; r >= 0 && i < nt; i++)
                r = stage_one(fd, &b[i], trees[i], err);
        for (unsigned int i = 0; i < nt; i++)
                if (trees[i] >= 0)
                        close(trees[i]);
        return r < 0 ? r : 0;
}
