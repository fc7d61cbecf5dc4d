/* libvps: clone3 of a VPS init into new namespaces and its cgroup, with the parent/child
 * handshake. Sync points, in order:
 *   1. parent: clone3 (NEWUSER|NEWNS|NEWPID|NEWUTS|NEWIPC|NEWNET|NEWCGROUP, INTO_CGROUP, PIDFD)
 *      with the VPS's host uid as euid, which makes it the user namespace's owner
 *   2. parent: writes uid_map/gid_map, makes the idmapped lower mount
 *   3. parent -> child: "go" with the lower mount fd (SCM_RIGHTS)
 *   4. child: becomes root in its user namespace, builds its root; meanwhile the parent runs
 *      the hook (the host side of the network: the veth; its filter came before clone3)
 *      and then sends "n"
 *   5. child: waits for "n" (networked VPSes only), sets up eth0, execs init
 *   6. child -> parent: nothing on success (the socket closes on exec), or a vps_error. */
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/guestfiles.h"
#include "vps/security.h"
#include "vps/spawn.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "netsetup/netsetup.h"

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

static int child_setup(const struct vps_spawn_params *p, int sock, vps_error *err)
{
        _cleanup_close_ int lower = -1;
        int r = vps_recv_fd(sock, &lower);
        if (r < 0 || lower < 0)
                return vps_err_sys(err, r < 0 ? -r : EPROTO, "waiting for the parent");
        /* Still the host's uid 0 to the filesystem (fsuid): the last moment the VPS dir,
         * which only host root may search, can be reached. */
        _cleanup_(vps_host_dirs_close) struct vps_host_dirs host = {
                .lower = -1, .upper = -1, .work = -1, .rootfs = -1};
        if ((r = vps_child_open_host(p->vps_dir, p->cfg, &host, err)) < 0)
                return r;
        if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
                return vps_err_sys(err, errno, "becoming root in the user namespace");
        if ((r = vps_child_build_root(&host, lower, p->console_fd, p->lxcfs, p->devpts_max, p->cfg,
                                      err)) < 0)
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
        /* The init's sysinfo listener goes to vpsd, which answers it (sysinfo.h). */
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

static _Noreturn void child_main(const struct vps_spawn_params *p, int sock)
{
        vps_error err = {0};
        /* Nothing in the VPS may ptrace or read this process before it execs the init. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (child_setup(p, sock, &err) < 0)
                (void)send(sock, &err, sizeof(err), MSG_NOSIGNAL);
        _exit(127);
}

static int write_map(pid_t pid, const char *which, uint32_t base, uint32_t count, vps_error *err)
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
static int idmapped_lower(pid_t pid, const char *lower, vps_error *err)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        _cleanup_close_ int userns = open(path, O_RDONLY | O_CLOEXEC);
        if (userns < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        int fd = vps_sys_open_tree(AT_FDCWD, lower, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
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

/* vpsd keeps itself out of the OOM killer's way (oom_score_adj -500); a VPS starts from 0,
 * written by vpsd so that, where vpsd holds CAP_SYS_RESOURCE, 0 is also the lowest the guest
 * may set (it would otherwise inherit vpsd's floor). */
static void reset_oom_score(pid_t pid)
{
        char p[64];
        (void)snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", (int)pid);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd >= 0)
                (void)!write(fd, "0", 1);
}

/* After a failure of the parent's own part: the child may have failed first (and its
 * message says why); r when it did not. */
static int child_failed_first(int sock, int r, vps_error *err)
{
        vps_error child_err;
        if (recv(sock, &child_err, sizeof(child_err), MSG_DONTWAIT) != (ssize_t)sizeof(child_err))
                return r;
        child_err.msg[sizeof(child_err.msg) - 1] = '\0';
        *err = child_err;
        return -err->code;
}

static int parent_setup(const struct vps_spawn_params *p, pid_t pid, int sock, int *ret_listener,
                        vps_error *err)
{
        int r;
        reset_oom_score(pid);
        if ((r = write_map(pid, "uid_map", p->uid_base, p->uid_count, err)) < 0 ||
            (r = write_map(pid, "gid_map", p->uid_base, p->uid_count, err)) < 0)
                return r;
        _cleanup_close_ int lower = idmapped_lower(pid, p->lower_path, err);
        if (lower < 0)
                return lower;
        if ((r = vps_send_fd(sock, lower)) < 0)
                return vps_err_sys(err, -r, "handing the root to the VPS");
        /* The host side of the network while the child builds its root: the two overlap. */
        if (p->parent_hook) {
                if ((r = p->parent_hook(pid, p->userdata, err)) < 0)
                        return child_failed_first(sock, r, err);
                if (send(sock, "n", 1, MSG_NOSIGNAL) != 1)
                        return child_failed_first(
                                sock,
                                vps_err_sys(err, errno, "telling the VPS its network is there"),
                                err);
        }
        /* EOF: the exec happened. A message with an fd: the init's sysinfo listener. Any
         * other message: the child's own error. */
        for (;;) {
                vps_error child_err;
                int fd = -1;
                size_t nfds = 0;
                int n = vps_recv_msg(sock, &child_err, sizeof(child_err), &fd, 1, &nfds);
                if (n == -EINTR)
                        continue;
                if (n == -EPIPE || n == 0)
                        return 0;
                if (n == 1 && nfds == 1) {
                        vps_closep(ret_listener);
                        *ret_listener = fd;
                        continue;
                }
                if (nfds)
                        close(fd);
                if (n == (int)sizeof(child_err)) {
                        child_err.msg[sizeof(child_err.msg) - 1] = '\0';
                        *err = child_err;
                        return -err->code;
                }
                return vps_err_sys(err, n < 0 ? -n : EPROTO, "waiting for the VPS init");
        }
}

/* vpsd's ids while it creates a VPS's user namespace (vps_spawn). */
struct saved_ids {
        int secbits, dumpable;
};

/* The kernel makes the creator's euid the owner of a new user namespace and charges every
 * per-user count taken inside it (inotify instances and watches, user namespaces, mqueue
 * bytes, pending signals: the ucounts) to that owner at the host's level too. Created by
 * host root, every VPS shared root's limits (128 inotify instances: one VPS took them all,
 * root's own inotify_init and every neighbour's failed). So for the clone3 vpsd takes the
 * VPS's host uid as its euid (and gid as egid), keeping its capabilities
 * (SECBIT_NO_SETUID_FIXUP), its real and saved uid 0 (restored right after) and uid 0 as
 * its fsuid: the child opens host root's 0700 directories with it (mounts.c). vpsd is
 * single-threaded and handles signals through a signalfd, so nothing else runs meanwhile. */
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
        /* Cannot fail with the real uid 0 and CAP_SETUID kept; if it did, vpsd would go on
         * with a VPS's uid: stop instead. */
        if (setresuid(-1, 0, -1) < 0 || setresgid(-1, 0, -1) < 0 ||
            prctl(PR_SET_SECUREBITS, s->secbits) < 0)
                abort();
        /* An euid change made the process non-dumpable (suid_dumpable). */
        (void)prctl(PR_SET_DUMPABLE, s->dumpable);
}

int vps_spawn(const struct vps_spawn_params *p, struct vps_spawn_result *ret, vps_error *err)
{
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return vps_err_sys(err, errno, "socketpair");
        _cleanup_close_ int parent_sock = sp[0];
        _cleanup_close_ int child_sock = sp[1];
        int pidfd = -1;
        struct clone_args args = {
                .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
                         CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_INTO_CGROUP | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)&pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t)p->cgroup_fd,
        };
        struct saved_ids ids;
        int r = become_owner(p->uid_base, &ids, err);
        if (r < 0)
                return r;
        pid_t pid = vps_sys_clone3(&args);
        int clone_errno = errno;
        if (pid != 0)
                restore_ids(&ids);
        if (pid < 0)
                return vps_err_sys(err, clone_errno, "creating the VPS namespaces (clone3)");
        if (pid == 0) {
                close(parent_sock);
                child_main(p, child_sock);
        }
        close(TAKE_FD(child_sock));
        _cleanup_close_ int pfd = pidfd;
        _cleanup_close_ int listener = -1;
        r = parent_setup(p, pid, parent_sock, &listener, err);
        if (r == 0)
                r = vps_proc_starttime(pid, &ret->starttime, err);
        if (r < 0) {
                (void)vps_sys_pidfd_send_signal(pfd, SIGKILL, NULL, 0);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return r;
        }
        ret->pid = pid;
        ret->pidfd = TAKE_FD(pfd);
        ret->notify_fd = TAKE_FD(listener);
        return 0;
}
