/* libvps: running a command inside a running VPS (vpsctl exec/enter), as lxc-attach does:
 * join the VPS's cgroup, then all its namespaces through a pidfd, then fork once more so the
 * command is inside the VPS's pid namespace. No fd of the caller crosses: the command's stdio
 * are pipes or a pty of the guest's own, relayed by attach_relay.c. */
#include "sandbox/sandbox.h"
#include "sandbox/attach_relay.h"
#include "cgroup/cgroup.h"
#include "vps/cleanup.h"
#include "vps/nsrun.h"
#include "vps/fdpass.h"
#include "vps/localsock.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ATTACH_NS_FLAGS                                                                            \
        (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | \
         CLONE_NEWCGROUP)

static int exit_code(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 255;
}

static int wait_code(pid_t pid)
{
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 255;
        return exit_code(status);
}

/* The fds the joining child keeps, all others closed: the ends of the stdio pipes become its
 * 0, 1 and 2 (the command's, until a pty replaces them), so that no terminal or other fd of
 * the caller's follows it into the VPS. */
struct joiner {
        const struct vps_attach_opts *o;
        unsigned int features; /* those the VPS was started with: the command gets its
                                * init's filter */
        int pidfd;             /* of the VPS init: its namespaces */
        int sock;              /* to vps_attach_run: the pty master goes back through it */
        int sysinfo_sock;
        int stdio[3]; /* the command's ends of its stdin, stdout and stderr pipes */
};

/* In the VPS: a pty from the guest's own devpts, so `tty` names a real /dev/pts/N there; the
 * command's session and controlling terminal. */
static void setup_pty(int sock)
{
        int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || unlockpt(master) < 0)
                _exit(126);
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0 || vps_send_msg(sock, "M", 1, &master, 1) < 0)
                _exit(126);
        close(master);
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
                _exit(126);
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        _exit(126);
        if (slave > 2)
                close(slave);
}

static _Noreturn void exec_inside(const struct joiner *j)
{
        const struct vps_attach_opts *o = j->o;
        /* Its own session either way: without a pty it has no controlling terminal at all. */
        if (o->pty)
                setup_pty(j->sock);
        else if (setsid() < 0)
                _exit(126);
        const char *home = access("/root", X_OK) == 0 ? "/root" : "/";
        if (chdir(o->cwd ? o->cwd : home) < 0 && chdir("/") < 0)
                _exit(126);
        const char *term = getenv("TERM");
        char term_env[128];
        (void)snprintf(term_env, sizeof(term_env), "TERM=%s", term ? term : "xterm");
        char home_env[64];
        (void)snprintf(home_env, sizeof(home_env), "HOME=%s", home);
        char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        home_env,
                        term_env,
                        (char *)"USER=root",
                        (char *)"LOGNAME=root",
                        (char *)"container=vpsd",
                        NULL};
        /* Nothing of the caller's signal state either (an ignored SIGPIPE or SIGINT). */
        for (int s = 1; s < NSIG; s++)
                (void)signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        vps_error err;
        int listener = -1;
        if (vps_security_apply(j->features, j->sysinfo_sock >= 0 ? &listener : NULL, &err) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: %s\n", err.msg);
                _exit(126);
        }
        /* vpsd answers the command's sysinfo calls from now on; without it they would fail. */
        if (listener >= 0 && vps_send_msg(j->sysinfo_sock, "L", 1, &listener, 1) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: cannot hand sysinfo to vpsd: %s\n",
                        strerror(errno));
                _exit(126);
        }
        if (listener >= 0)
                close(listener);
        /* Only its stdio crosses into the VPS: the pipes, or the pty. */
        if (vps_sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: closing the host's fds before exec: %s\n",
                        strerror(errno));
                _exit(126);
        }
        execvpe(o->argv[0], o->argv, envp);
        int e = errno;
        dprintf(STDERR_FILENO, "vpsctl: cannot execute %s in the VPS: %s\n", o->argv[0],
                strerror(e));
        _exit(e == ENOENT ? 127 : 126);
}

/* Closes every fd but the n in keep (ascending), with close_range over the gaps. */
static int close_all_but(const int *keep, size_t n)
{
        unsigned int next = 0;
        for (size_t i = 0; i < n; i++) {
                if (keep[i] < 0 || (unsigned int)keep[i] < next)
                        continue;
                if ((unsigned int)keep[i] > next &&
                    vps_sys_close_range(next, (unsigned int)keep[i] - 1, 0) < 0)
                        return -errno;
                next = (unsigned int)keep[i] + 1;
        }
        return vps_sys_close_range(next, ~0U, 0) < 0 ? -errno : 0;
}

static void sort_fds(int *fds, size_t n)
{
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && fds[k - 1] > fds[k]; k--) {
                        int t = fds[k];
                        fds[k] = fds[k - 1];
                        fds[k - 1] = t;
                }
}

/* The joining child's stdio: the pipes, and nothing else of the caller's but the three fds
 * it needs. Out of the caller's session too: the terminal's signals reach the command only
 * as vpsctl forwards them. */
static int take_stdio(struct joiner *j)
{
        if (setsid() < 0)
                return -errno;
        /* Those among 0, 1 and 2 (a caller started with them closed) would be overwritten. */
        int *kept[] = {&j->pidfd, &j->sock, &j->sysinfo_sock};
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
                if (*kept[i] >= 0 && *kept[i] < 3 &&
                    (*kept[i] = fcntl(*kept[i], F_DUPFD_CLOEXEC, 3)) < 0)
                        return -errno;
        for (int i = 0; i < 3; i++)
                if (dup2(j->stdio[i], i) < 0)
                        return -errno;
        int keep[] = {0, 1, 2, j->pidfd, j->sock, j->sysinfo_sock};
        sort_fds(keep, sizeof(keep) / sizeof(keep[0]));
        return close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
}

static void signal_group(pid_t pid, int sig)
{
        if (kill(-pid, sig) < 0)
                (void)kill(pid, sig);
}

/* Until the command exits: the signals vpsctl forwards go to its process group (its own
 * session's, once it has made it). A command may ignore the first (SIGINT, as a shell
 * script can): a second one while it still runs (Ctrl-C twice, or SIGTERM after it) kills
 * the group, and the status is 128 + the first signal (130 for Ctrl-C, as a shell says). */
static _Noreturn void forward_until_exit(pid_t pid)
{
        sigset_t set;
        sigemptyset(&set);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        (void)sigaddset(&set, s);
        int first = 0;
        for (;;) {
                int sig = sigwaitinfo(&set, NULL);
                int status;
                if (sig == SIGCHLD && waitpid(pid, &status, WNOHANG) == pid)
                        _exit(exit_code(status));
                if (sig != SIGINT && sig != SIGTERM && sig != SIGHUP && sig != SIGQUIT)
                        continue;
                if (first) {
                        signal_group(pid, SIGKILL);
                        (void)wait_code(pid);
                        _exit(128 + first);
                }
                first = sig;
                signal_group(pid, sig);
        }
}

/* The first child: joins the namespaces, forks the command, forwards signals to it and
 * passes its status on. Only exit codes cross back: 125 means joining failed (message on
 * stderr, the relayed pipe). */
static _Noreturn void join_and_run(struct joiner *j)
{
        /* Non-dumpable until exec: nothing inside may ptrace or read our memory. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Every signal blocked, SIGCHLD at its default: forward_until_exit waits for them. */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        (void)signal(SIGCHLD, SIG_DFL);
        int r = take_stdio(j);
        if (r < 0) {
                dprintf(STDERR_FILENO, "vpsctl: leaving the caller's fds behind: %s\n",
                        strerror(-r));
                _exit(125);
        }
        vps_error e;
        if (vps_ns_enter(NULL, j->pidfd, ATTACH_NS_FLAGS, &e) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: %s\n", e.msg);
                _exit(125);
        }
        pid_t pid = fork();
        if (pid < 0)
                _exit(125);
        if (pid == 0)
                exec_inside(j);
        close(j->sock);
        forward_until_exit(pid);
}

/* The leaf exec'd processes are born in: VPS_CG_EXEC under the VPS's top cgroup, host root's
 * (cgroup.h), so under its limits and device program and out of the guest's reach. It must be
 * root's: a VPS started by an older vpsd had it in the guest's own cgroup, where the guest
 * could replace it with one of its own (and freeze it); such a one is refused. */
static int exec_cgroup(const char *vps_cgroup, vps_error *err)
{
        _cleanup_close_ int top = open(vps_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return vps_err_sys(err, errno, "opening cgroup %s", vps_cgroup);
        if (mkdirat(top, VPS_CG_EXEC, 0755) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating cgroup %s/%s", vps_cgroup, VPS_CG_EXEC);
        _cleanup_close_ int fd =
                openat(top, VPS_CG_EXEC, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening cgroup %s/%s", vps_cgroup, VPS_CG_EXEC);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "stat cgroup %s/%s", vps_cgroup, VPS_CG_EXEC);
        if (st.st_uid != 0)
                return vps_err(err, EPERM,
                               "cgroup %s/%s is not host root's (made by the guest?): restart "
                               "the VPS",
                               vps_cgroup, VPS_CG_EXEC);
        return TAKE_FD(fd);
}

int vps_attach_sysinfo_connect(const char *path, vps_error *err)
{
        return vps_sock_connect_root(path, SOCK_SEQPACKET | SOCK_CLOEXEC, "vpsd's sysinfo socket",
                                     err);
}

/* The command's stdin, stdout and stderr: [i][0] the read end, [i][1] the write end. */
struct stdio_pipes {
        int fd[3][2];
};

static void stdio_pipes_close(struct stdio_pipes *p)
{
        for (int i = 0; i < 3; i++)
                for (int k = 0; k < 2; k++)
                        vps_closep(&p->fd[i][k]);
}

/* Every end above stdio (a caller started with fd 0, 1 or 2 closed would get them) and
 * close-on-exec; ours non-blocking, for the relay. */
static int stdio_pipes_open(struct stdio_pipes *p, vps_error *err)
{
        for (int i = 0; i < 3; i++) {
                if (pipe2(p->fd[i], O_CLOEXEC) < 0)
                        return vps_err_sys(err, errno, "creating the command's stdio pipes");
                for (int k = 0; k < 2; k++) {
                        if (p->fd[i][k] >= 3)
                                continue;
                        int high = fcntl(p->fd[i][k], F_DUPFD_CLOEXEC, 3);
                        if (high < 0)
                                return vps_err_sys(err, errno, "moving a pipe above stdio");
                        close(p->fd[i][k]);
                        p->fd[i][k] = high;
                }
                int ours = p->fd[i][i == 0 ? 1 : 0];
                if (fcntl(ours, F_SETFL, O_NONBLOCK) < 0)
                        return vps_err_sys(err, errno, "making the relay's pipe non-blocking");
        }
        return 0;
}

#define ATTACH_STAT_MS 500

/* The pty master the command sends back (exec -t, enter), -1 when it failed first. */
static int receive_master(int sock)
{
        int master = -1;
        char tag;
        size_t n = 0;
        if (vps_recv_msg(sock, &tag, 1, &master, 1, &n) == 1 && n == 1 && tag == 'M') {
                (void)fcntl(master, F_SETFL, O_NONBLOCK);
                return master;
        }
        if (n == 1)
                close(master);
        return -1;
}

int vps_attach_run(const struct vps_attach_target *t, const struct vps_attach_opts *o,
                   int *ret_status, vps_error *err)
{
        if (!o->argv || !o->argv[0])
                return vps_err(err, EINVAL, "no command given");
        _cleanup_close_ int pidfd = vps_sys_pidfd_open(t->pid, 0);
        if (pidfd < 0)
                return vps_err_sys(err, errno, "the VPS init (PID %d) is gone", (int)t->pid);
        /* By its pidfs inode when vpsd gave it; else its start time, read by a grandchild
         * within ATTACH_STAT_MS: a guest can hold that read (an init held in an execve,
         * base/proc.c), then being PID 1 of a pid namespace below ours says it is the init. */
        if (vps_init_identify(t->pid, pidfd, t->starttime, t->pidfd_ino, ATTACH_STAT_MS) != 1)
                return vps_err(err, ESRCH, "PID %d is no longer the VPS init", (int)t->pid);
        int r;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return vps_err_sys(err, errno, "socketpair");
        _cleanup_close_ int mine = sp[0];
        _cleanup_close_ int theirs = sp[1];
        _cleanup_(stdio_pipes_close) struct stdio_pipes pipes = {{{-1, -1}, {-1, -1}, {-1, -1}}};
        if ((r = stdio_pipes_open(&pipes, err)) < 0)
                return r;
        /* Born in the VPS cgroup (CLONE_INTO_CGROUP): moving an existing process with a write
         * to cgroup.procs can block for milliseconds. */
        _cleanup_close_ int cg = -1;
        if (t->cgroup && (cg = exec_cgroup(t->cgroup, err)) < 0)
                return cg;
        /* Read here, on the host side: vpsd recorded them on the VPS cgroup at start. */
        struct joiner j = {.o = o,
                           .features = vps_security_recorded(t->cgroup),
                           .pidfd = pidfd,
                           .sock = theirs,
                           .sysinfo_sock = o->sysinfo_sock,
                           .stdio = {pipes.fd[0][0], pipes.fd[1][1], pipes.fd[2][1]}};
        _cleanup_close_ int child = -1;
        struct clone_args args = {.flags = CLONE_PIDFD | (cg >= 0 ? CLONE_INTO_CGROUP : 0),
                                  .pidfd = (uint64_t)(uintptr_t)&child,
                                  .exit_signal = SIGCHLD,
                                  .cgroup = (uint64_t)(cg >= 0 ? cg : 0)};
        sigset_t forwarded, old_mask;
        vps_relay_block_signals(&forwarded, &old_mask);
        fflush(NULL);
        pid_t pid = vps_sys_clone3(&args);
        if (pid < 0) {
                r = vps_err_sys(err, errno, "joining the VPS cgroup %s",
                                t->cgroup ? t->cgroup : "");
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                return r;
        }
        if (pid == 0)
                join_and_run(&j);
        close(TAKE_FD(theirs));
        for (int i = 0; i < 3; i++)
                vps_closep(&pipes.fd[i][i == 0 ? 0 : 1]);
        _cleanup_close_ int master = o->pty ? receive_master(mine) : -1;
        struct vps_relay relay = {.in = TAKE_FD(pipes.fd[0][1]),
                                  .out = TAKE_FD(pipes.fd[1][0]),
                                  .err = TAKE_FD(pipes.fd[2][0]),
                                  .master = master,
                                  .pidfd = child};
        vps_relay_run(&relay, &forwarded);
        *ret_status = wait_code(pid);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        return 0;
}
