/* libvps: running a command inside a running VPS (vpsctl exec/enter), as lxc-attach does:
 * join the VPS's cgroup, then all its namespaces through a pidfd, then fork once more so the
 * command is inside the VPS's pid namespace. */
#include "vps/attach.h"
#include "vps/cgroup.h"
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/security.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
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
#include <termios.h>
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

/* In the VPS: a pty from the guest's own devpts, so `tty` names a real /dev/pts/N there. */
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

/* features: those the VPS was started with, so the command gets its init's filter. */
static _Noreturn void exec_inside(const struct vps_attach_opts *o, unsigned int features, int sock)
{
        if (o->pty)
                setup_pty(sock);
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
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        vps_error err;
        int listener = -1;
        if (vps_security_apply(features, o->sysinfo_sock >= 0 ? &listener : NULL, &err) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: %s\n", err.msg);
                _exit(126);
        }
        /* vpsd answers the command's sysinfo calls from now on; without it they would fail. */
        if (listener >= 0 && vps_send_msg(o->sysinfo_sock, "L", 1, &listener, 1) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: cannot hand sysinfo to vpsd: %s\n",
                        strerror(errno));
                _exit(126);
        }
        if (listener >= 0)
                close(listener);
        /* No fd of the host but stdio crosses into the VPS. */
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

/* The first child: joins the cgroup and the namespaces, forks the command, relays its
 * status. Only exit codes cross back: 125 means joining failed (message on stderr). */
static _Noreturn void join_and_run(const struct vps_attach_opts *o, unsigned int features,
                                   int pidfd, int sock)
{
        /* Non-dumpable until exec: nothing inside may ptrace or read our memory. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (setns(pidfd, ATTACH_NS_FLAGS) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: entering the VPS namespaces: %s\n",
                        strerror(errno));
                _exit(125);
        }
        if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0) {
                dprintf(STDERR_FILENO, "vpsctl: becoming root in the VPS: %s\n", strerror(errno));
                _exit(125);
        }
        pid_t pid = fork();
        if (pid < 0)
                _exit(125);
        if (pid == 0)
                exec_inside(o, features, sock);
        close(sock);
        /* Signals from the terminal reach the command through its process group; this
         * process only waits. */
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        _exit(wait_code(pid));
}

static void copy_winsize(int from, int to)
{
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) == 0)
                (void)ioctl(to, TIOCSWINSZ, &ws);
}

/* Copies bytes between the caller's terminal and the pty master until the command closes it. */
static void relay(int master)
{
        bool tty = isatty(STDIN_FILENO);
        struct termios saved, raw;
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                copy_winsize(STDIN_FILENO, master);
        }
        sigset_t winch, old;
        sigemptyset(&winch);
        sigaddset(&winch, SIGWINCH);
        sigprocmask(SIG_BLOCK, &winch, &old);
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = master, .events = POLLIN}};
        char buf[8192];
        for (;;) {
                struct timespec ts = {0, 200 * 1000 * 1000};
                int n = ppoll(pfd, 2, &ts, &old);
                if (n < 0 && errno != EINTR)
                        break;
                if (tty)
                        copy_winsize(STDIN_FILENO, master);
                if (n <= 0)
                        continue;
                if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t r = read(master, buf, sizeof(buf));
                        if (r <= 0)
                                break;
                        if (write(STDOUT_FILENO, buf, (size_t)r) < 0)
                                break;
                }
                if (pfd[0].revents & (POLLIN | POLLHUP)) {
                        ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
                        if (r <= 0)
                                pfd[0].fd = -1; /* stdin closed: keep showing output */
                        else if (write(master, buf, (size_t)r) < 0)
                                break;
                }
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (tty)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
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

int vps_attach_sysinfo_connect(const char *name, vps_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n + 1 >= sizeof(sa.sun_path))
                return vps_err(err, EINVAL, "invalid sysinfo socket name");
        memcpy(sa.sun_path + 1, name, n);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "socket");
        if (connect(fd, (struct sockaddr *)&sa,
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0) {
                int e = errno;
                close(fd);
                return vps_err_sys(err, e, "connecting to vpsd's sysinfo socket");
        }
        return fd;
}

int vps_attach_run(const struct vps_attach_target *t, const struct vps_attach_opts *o,
                   int *ret_status, vps_error *err)
{
        if (!o->argv || !o->argv[0])
                return vps_err(err, EINVAL, "no command given");
        _cleanup_close_ int pidfd = vps_sys_pidfd_open(t->pid, 0);
        if (pidfd < 0)
                return vps_err_sys(err, errno, "the VPS init (PID %d) is gone", (int)t->pid);
        unsigned long long st;
        int r = vps_proc_starttime(t->pid, &st, err);
        if (r < 0)
                return r;
        if (st != t->starttime)
                return vps_err(err, ESRCH, "PID %d is no longer the VPS init", (int)t->pid);
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return vps_err_sys(err, errno, "socketpair");
        _cleanup_close_ int mine = sp[0];
        _cleanup_close_ int theirs = sp[1];
        /* Born in the VPS cgroup (CLONE_INTO_CGROUP): moving an existing process with a write
         * to cgroup.procs can block for milliseconds. */
        _cleanup_close_ int cg = -1;
        if (t->cgroup && (cg = exec_cgroup(t->cgroup, err)) < 0)
                return cg;
        /* Read here, on the host side: vpsd recorded them on the VPS cgroup at start. */
        unsigned int features = vps_security_recorded(t->cgroup);
        struct clone_args args = {.flags = cg >= 0 ? CLONE_INTO_CGROUP : 0,
                                  .exit_signal = SIGCHLD,
                                  .cgroup = (uint64_t)(cg >= 0 ? cg : 0)};
        fflush(NULL);
        pid_t pid = vps_sys_clone3(&args);
        if (pid < 0)
                return vps_err_sys(err, errno, "joining the VPS cgroup %s",
                                   t->cgroup ? t->cgroup : "");
        if (pid == 0) {
                close(mine);
                join_and_run(o, features, pidfd, theirs);
        }
        close(TAKE_FD(theirs));
        if (o->pty) {
                _cleanup_close_ int master = -1;
                char tag;
                size_t n = 0;
                if (vps_recv_msg(mine, &tag, 1, &master, 1, &n) == 1 && n == 1 && tag == 'M')
                        relay(master);
        }
        *ret_status = wait_code(pid);
        return 0;
}
