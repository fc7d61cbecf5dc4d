/* libvps: a VPS init in fresh namespaces and its cgroup, with the handshakes. Three
 * processes, so that what the guest must not remove is mounted by host root and locked in the
 * VPS's mount namespace (mounts.c):
 *   1. vpsd: clone3 of the setup process (NEWNS, INTO_CGROUP): host root in a mount namespace
 *      of the host's user namespace, born in the VPS's cgroup
 *   2. setup: clone3 of the maker (CLONE_PARENT: vpsd's child) with the VPS's host uid as
 *      euid; the maker unshares the user namespace (owned by that uid: the kernel charges
 *      the VPS's per-user counts to it), the pid and network namespaces; the setup writes
 *      uid_map/gid_map and sends the idmapped template
 *   3. maker: forks the init (CLONE_PARENT: vpsd's child; PID 1 of the new pid namespace,
 *      still in the setup's mount namespace), then in a mount namespace of its own creates
 *      the overlay's fs context as the VPS's root, sends it and the init's pidfd; exits
 *   4. setup: hands vpsd the init; mounts the overlay, proc (pidns=), sysfs (from the VPS's
 *      network namespace), LXCFS's views, the masks; says "g" to the init; exits
 *   5. init: unshares mount, cgroup, uts and ipc namespaces (the copy is locked), becomes
 *      root, builds the rest; meanwhile vpsd runs the hook (the host side of the network;
 *      its filter came before) and sends "n"; the init sets up eth0 and execs the init
 *   6. init -> vpsd: nothing on success (the socket closes on exec), or a vps_error; an
 *      error of the setup or the maker comes on the same socket. */
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "guest/guest.h"
#include "sandbox/sandbox.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "netsetup/netsetup.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/securebits.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int set_console(int fd, vps_error *err)
{
        if (setsid() < 0)
                return vps_err_sys(err, errno, "setsid");
        if (ioctl(fd, TIOCSCTTY, 0) < 0)
                return vps_err_sys(err, errno, "making the console the controlling terminal");
        for (int i = 0; i < 3; i++)
                if (dup2(fd, i) < 0)
                        return vps_err_sys(err, errno, "dup2 console");
        return 0;
}

/* The parent says the VPS's end of the veth is in its network namespace. */
static int wait_for_network(int sock, vps_error *err)
{
        char c = 0;
        ssize_t n;
        while ((n = recv(sock, &c, 1, 0)) < 0 && errno == EINTR)
                ;
        if (n != 1 || c != 'n')
                return vps_err(err, EPROTO, "waiting for the host side of the network");
        return 0;
}

static int become_vps_root(vps_error *err)
{
        if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
                return vps_err_sys(err, errno, "becoming root in the user namespace");
        return 0;
}

static int recv_byte(int sock, char want, const char *what, vps_error *err)
{
        char c = 0;
        ssize_t n;
        while ((n = recv(sock, &c, 1, 0)) < 0 && errno == EINTR)
                ;
        if (n != 1 || c != want)
                return vps_err(err, EPROTO, "waiting for %s", what);
        return 0;
}

/* A new child of vpsd's, told to vpsd (spawn.h, struct pid_msg). */
static int tell_pid(int vpsd_sock, char tag, pid_t pid, vps_error *err)
{
        struct pid_msg m = {.tag = tag, .pid = pid};
        if (send(vpsd_sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
                return vps_err_sys(err, errno, "telling vpsd of a start's process");
        return 0;
}

/* Step 5, up to the pivot. */
static int child_root(const struct vps_spawn_params *p, int setup_sock, vps_error *err)
{
        int r = recv_byte(setup_sock, 'g', "the VPS's root", err);
        if (r < 0)
                return r;
        if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
                return vps_err_sys(err, errno, "creating the VPS's mount namespace");
        /* Still the host's uid 0 to the filesystem (fsuid): the VPS dir is host root's.
         * rootfs/ opens as the overlay's root mounted on it, locked in this copy. */
        _cleanup_(vps_host_dirs_close) struct vps_host_dirs host = {
                .lower = -1, .upper = -1, .work = -1, .rootfs = -1};
        if ((r = vps_child_open_host(p->vps_dir, p->cfg, &host, err)) < 0 ||
            (r = become_vps_root(err)) < 0)
                return r;
        return vps_child_build_root(host.rootfs, &host, p->console_fd, p->devpts_max, p->cfg, err);
}

static int child_setup(const struct vps_spawn_params *p, int sock, int setup_sock, vps_error *err)
{
        int r = child_root(p, setup_sock, err);
        if (r < 0)
                return r;
        char uts[VPS_UTSNAME_MAX + 1] = "";
        if (p->hostname)
                vps_hostname_kernel(p->hostname, uts);
        if (uts[0] && sethostname(uts, strlen(uts)) < 0)
                return vps_err_sys(err, errno, "setting the hostname");
        if (p->cfg) {
                _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root < 0 || (r = vps_guest_sync_files(root, p->cfg, (uid_t)-1, err)) < 0)
                        return root < 0 ? vps_err_sys(err, errno, "opening /") : r;
        }
        if ((r = ns_loopback_up(err)) < 0)
                return r;
        if (p->parent_hook && (r = wait_for_network(sock, err)) < 0)
                return r;
        if (p->net && (r = vps_net_child_setup(p->net, err)) < 0)
                return r;
        if ((r = set_console(p->console_fd, err)) < 0)
                return r;
        _cleanup_close_ int listener = -1;
        if ((r = vps_security_apply(p->cfg ? p->cfg->features : 0, &listener, err)) < 0)
                return r;
        /* The init's sysinfo listener goes to vpsd, which answers it (sandbox.h). */
        if (listener >= 0 && (r = vps_send_msg(sock, "L", 1, &listener, 1)) < 0)
                return vps_err_sys(err, -r, "handing the sysinfo listener to vpsd");
        /* vpsd's own soft fd limit is raised for its many VPSes; an init gets the usual one. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 1024) {
                rl.rlim_cur = 1024;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
                (void)signal(s, SIG_DFL);
        /* Only stdio crosses into the guest: everything else closes on exec, this socket
         * included, which tells the parent the exec worked. */
        if (vps_sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "marking vpsd's fds close-on-exec");
        char *const argv[] = {(char *)p->init_path, NULL};
        char *const envp[] = {
                (char *)"container=vpsd", (char *)"TERM=linux",
                (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                (char *)"HOME=/root", NULL};
        execve(p->init_path, argv, envp);
        return vps_err_sys(err, errno, "executing %s", p->init_path);
}

static _Noreturn void child_main(const struct vps_spawn_params *p, int sock, int setup_sock)
{
        vps_error err = {0};
        /* Nothing in the VPS may ptrace or read this process before it execs the init. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (child_setup(p, sock, setup_sock, &err) < 0)
                (void)send(sock, &err, sizeof(err), MSG_NOSIGNAL);
        _exit(127);
}

/* Steps 2 and 3: the maker. */
static int maker_setup(const struct vps_spawn_params *p, int vpsd_sock, int sock, int init_sock,
                       vps_error *err)
{
        if (unshare(CLONE_NEWUSER) < 0 || unshare(CLONE_NEWPID | CLONE_NEWNET) < 0)
                return vps_err_sys(err, errno, "creating the VPS namespaces");
        if (send(sock, "u", 1, MSG_NOSIGNAL) != 1)
                return vps_err_sys(err, errno, "asking for the id maps");
        _cleanup_close_ int lower = -1;
        int r = vps_recv_fd(sock, &lower);
        if (r < 0 || lower < 0)
                return vps_err_sys(err, r < 0 ? -r : EPROTO, "waiting for the template");
        int pidfd = -1;
        struct clone_args args = {.flags = CLONE_PARENT | CLONE_PIDFD,
                                  .pidfd = (uint64_t)(uintptr_t)&pidfd};
        pid_t pid = vps_sys_clone3(&args);
        if (pid < 0)
                return vps_err_sys(err, errno, "starting the VPS init (clone3)");
        if (pid == 0) {
                close(sock);
                child_main(p, vpsd_sock, init_sock);
        }
        _cleanup_close_ int pfd = pidfd;
        /* vpsd's child: told at once, so that it is reaped however the start ends. */
        if ((r = tell_pid(vpsd_sock, 'C', pid, err)) < 0)
                return r;
        /* Still the host's uid 0 to the filesystem: the last moment the VPS dir can be
         * reached. */
        _cleanup_(vps_host_dirs_close) struct vps_host_dirs host = {
                .lower = -1, .upper = -1, .work = -1, .rootfs = -1};
        if (unshare(CLONE_NEWNS) < 0)
                return vps_err_sys(err, errno, "creating the maker's mount namespace");
        if ((r = vps_child_open_host(p->vps_dir, NULL, &host, err)) < 0 ||
            (r = become_vps_root(err)) < 0)
                return r;
        _cleanup_close_ int fs = vps_child_make_overlay(&host, lower, err);
        if (fs < 0)
                return fs;
        struct init_msg m = {.tag = 'I', .init = pid, .maker = getpid()};
        int fds[] = {fs, pfd};
        if ((r = vps_send_msg(sock, &m, sizeof(m), fds, 2)) < 0)
                return vps_err_sys(err, -r, "handing the overlay over");
        return 0;
}

static _Noreturn void maker_main(const struct vps_spawn_params *p, int vpsd_sock, int sock,
                                 int init_sock)
{
        vps_error err = {0};
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Itself, first: whoever made it may be killed before it could say. */
        if (tell_pid(vpsd_sock, 'M', getpid(), &err) < 0)
                _exit(0);
        if (maker_setup(p, vpsd_sock, sock, init_sock, &err) < 0)
                (void)send(vpsd_sock, &err, sizeof(err), MSG_NOSIGNAL);
        _exit(0);
}

int vps_spawn_write_map(pid_t pid, const char *which, uint32_t base, uint32_t count, vps_error *err)
{
        char path[64], line[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which);
        int n = snprintf(line, sizeof(line), "0 %u %u\n", base, count);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, line, (size_t)n) != n)
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

/* A clone of the template's tree, idmapped to the VPS's user namespace: the template stays
 * owned by host root and every VPS sees it as its own root's. */
int vps_spawn_idmapped_lower(pid_t pid, const char *lower, vps_error *err)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        _cleanup_close_ int userns = open(path, O_RDONLY | O_CLOEXEC);
        if (userns < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        /* Its root a directory, never followed: a template's rootfs made a symlink (to the
         * host's /, say) would give the guest what it names. */
        _cleanup_close_ int dir = open(lower, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int fd = dir < 0 ? -1
                         : vps_sys_open_tree(dir, "",
                                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (fd < 0)
                return vps_err_sys(err, errno, "cloning the template mount %s", lower);
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
                                  .userns_fd = (uint64_t)userns};
        if (vps_sys_mount_setattr(fd, "", AT_EMPTY_PATH, &attr) < 0) {
                int e = errno;
                close(fd);
                return vps_err_sys(err, e, "idmapping the template %s", lower);
        }
        return fd;
}

/* The setup process's ids while it clones the maker (setup_run). */
struct saved_ids {
        int secbits, dumpable;
};

/* The kernel makes the creator's euid the owner of a new user namespace and charges every
 * per-user count taken inside it (inotify instances and watches, user namespaces, mqueue
 * bytes, pending signals: the ucounts) to that owner at the host's level too. Created by
 * host root, every VPS shared root's limits (128 inotify instances: one VPS took them all,
 * root's own inotify_init and every neighbour's failed). So for the clone3 of the maker the
 * setup process takes the VPS's host uid as its euid (and gid as egid), keeping its
 * capabilities (SECBIT_NO_SETUID_FIXUP), its real and saved uid 0 (restored right after) and
 * uid 0 as its fsuid: the maker and the init open host root's 0700 directories with it. */
static int become_owner(uint32_t id, struct saved_ids *s, vps_error *err)
{
        s->secbits = prctl(PR_GET_SECUREBITS);
        s->dumpable = prctl(PR_GET_DUMPABLE);
        if (s->secbits < 0 || prctl(PR_SET_SECUREBITS, s->secbits | SECBIT_NO_SETUID_FIXUP) < 0)
                return vps_err_sys(err, errno, "keeping capabilities across an euid change");
        if (setresgid(-1, id, -1) < 0 || setresuid(-1, id, -1) < 0) {
                int e = errno;
                if (setresgid(-1, 0, -1) < 0)
                        abort();
                (void)prctl(PR_SET_SECUREBITS, s->secbits);
                return vps_err_sys(err, e, "taking the VPS's uid %u", id);
        }
        (void)setfsuid(0);
        (void)setfsgid(0);
        return 0;
}

static void restore_ids(const struct saved_ids *s)
{
        /* Cannot fail with the real uid 0 and CAP_SETUID kept; if it did, the setup would go
         * on with a VPS's uid: stop instead. */
        if (setresuid(-1, 0, -1) < 0 || setresgid(-1, 0, -1) < 0 ||
            prctl(PR_SET_SECUREBITS, s->secbits) < 0)
                abort();
        /* An euid change made the process non-dumpable (suid_dumpable). */
        (void)prctl(PR_SET_DUMPABLE, s->dumpable);
}

/* Steps 2 and 4: the setup process, host root. */
static int setup_run(const struct vps_spawn_params *p, int vpsd_sock, vps_error *err)
{
        int xy[2], xi[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, xy) < 0)
                return vps_err_sys(err, errno, "socketpair");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, xi) < 0)
                return vps_err_sys(err, errno, "socketpair");
        /* Not closed on a failure here: only at the exit, after the reason is sent to vpsd.
         * The maker and the init, finding their socket closed, say so too; the setup's own
         * word must come first (a template refused said "waiting for the template: Broken
         * pipe" whenever the maker won the race). */
        int maker_sock = xy[0], init_sock = xi[0];
        struct saved_ids ids;
        int r = become_owner(p->uid_base, &ids, err);
        if (r < 0)
                return r;
        struct clone_args args = {.flags = CLONE_PARENT};
        pid_t maker = vps_sys_clone3(&args);
        if (maker == 0) {
                close(xy[0]);
                close(xi[0]);
                maker_main(p, vpsd_sock, xy[1], xi[1]);
        }
        int e = errno;
        restore_ids(&ids);
        close(xy[1]);
        close(xi[1]);
        if (maker < 0)
                return vps_err_sys(err, e, "creating the VPS namespaces (clone3)");
        _cleanup_close_ int lower = -1;
        if ((r = recv_byte(maker_sock, 'u', "the VPS's user namespace", err)) < 0 ||
            (r = vps_spawn_write_map(maker, "uid_map", p->uid_base, p->uid_count, err)) < 0 ||
            (r = vps_spawn_write_map(maker, "gid_map", p->uid_base, p->uid_count, err)) < 0 ||
            (r = lower = vps_spawn_idmapped_lower(maker, p->lower_path, err)) < 0)
                return r;
        if ((r = vps_send_fd(maker_sock, lower)) < 0)
                return vps_err_sys(err, -r, "handing the template to the VPS");
        struct init_msg m;
        int fds[2] = {-1, -1};
        size_t nfds = 0;
        int n;
        while ((n = vps_recv_msg(maker_sock, &m, sizeof(m), fds, 2, &nfds)) == -EINTR)
                ;
        _cleanup_close_ int fs = nfds > 0 ? fds[0] : -1, pidfd = nfds > 1 ? fds[1] : -1;
        if (n != (int)sizeof(m) || nfds != 2 || m.tag != 'I')
                return vps_err(err, EPROTO, "waiting for the VPS init");
        /* Now, while the init waits for 'g' and runs none of the guest's code: once it does,
         * the guest can hold the read (an execve held by its FUSE daemon: base/proc.c). */
        if ((r = vps_proc_starttime(m.init, &m.starttime, err)) < 0)
                return r;
        if ((r = vps_send_msg(vpsd_sock, &m, sizeof(m), &pidfd, 1)) < 0)
                return vps_err_sys(err, -r, "handing the init to vpsd");
        char ns[64];
        (void)snprintf(ns, sizeof(ns), "/proc/%d/ns/pid", (int)m.init);
        _cleanup_close_ int pidns = open(ns, O_RDONLY | O_CLOEXEC);
        (void)snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)m.init);
        _cleanup_close_ int netns = open(ns, O_RDONLY | O_CLOEXEC);
        if (pidns < 0 || netns < 0)
                return vps_err_sys(err, errno, "opening the VPS's namespaces");
        /* sysfs shows the network namespace of whoever mounts it. */
        if (setns(netns, CLONE_NEWNET) < 0)
                return vps_err_sys(err, errno, "joining the VPS's network namespace");
        _cleanup_(vps_host_dirs_close) struct vps_host_dirs host = {
                .lower = -1, .upper = -1, .work = -1, .rootfs = -1};
        if ((r = vps_child_open_host(p->vps_dir, NULL, &host, err)) < 0)
                return r;
        /* What it creates in the guest's root (a missing mount point, a mask's tmpfs) is the
         * VPS root's: the overlay refuses an owner its user namespace does not map. */
        (void)setfsgid(p->uid_base);
        (void)setfsuid(p->uid_base);
        _cleanup_close_ int root = vps_child_lock_root(&host, p->vps_dir, fs, pidns, p->lxcfs, err);
        if (root < 0)
                return root;
        if (send(init_sock, "g", 1, MSG_NOSIGNAL) != 1)
                return vps_err_sys(err, errno, "telling the VPS init its root is there");
        return 0;
}

_Noreturn void vps_spawn_setup_main(const struct vps_spawn_params *p, int vpsd_sock)
{
        vps_error err = {0};
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Of vpsd's fds (about three per running VPS) only these two are of use here and in
         * the maker and init cloned from here: closed now, they are not copied twice more nor
         * closed again at each exit and at the init's exec (close-on-exec would do, O(VPSes)
         * each time). Failing, they still close on exec. */
        (void)vps_close_all_but(3, (const int[]){vpsd_sock, p->console_fd}, 2);
        if (tell_pid(vpsd_sock, 'S', getpid(), &err) < 0)
                _exit(0);
        if (setup_run(p, vpsd_sock, &err) < 0)
                (void)send(vpsd_sock, &err, sizeof(err), MSG_NOSIGNAL);
        _exit(0);
}
