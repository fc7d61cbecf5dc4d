/* libvps: vpsd's side of a start (spawn.c has the children's), in steps a loop can drive:
 * vps_spawn_begin clones the setup process and returns at once; each vps_spawn_step reads
 * what came on the start's socket (the init from the setup, then the exec's EOF or an error)
 * and goes on. The children build the VPS meanwhile, so several starts progress at once;
 * vpsd's loop only dispatches and collects (vpsd/starts.c). vps_spawn does it in one call. */
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/syscalls.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct vps_spawn {
        struct vps_spawn_params p; /* its pointers outlive the start (the caller's) */
        int sock;                  /* vpsd's end of the start's socket */
        int setup_pidfd;
        int maker_pidfd;
        bool by_starter; /* the starter clones the setup: its pidfd comes with 'S' */
        enum { WAIT_INIT, WAIT_EXEC } phase;
        struct init_msg m;
        int init_pidfd;
        int listener; /* the init's sysinfo listener, once sent */
        bool done;    /* the init runs: the setup has finished, nothing is killed */
};

/* A child of vpsd that has exited or is about to: reaped by the caller's hook off the loop,
 * or here (the sync path). */
static void reap_pidfd(const struct vps_spawn_params *p, int pidfd)
{
        if (pidfd < 0)
                return;
        if (p->reap) {
                p->reap(pidfd, p->reap_data);
                return;
        }
        siginfo_t si;
        while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        close(pidfd);
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

int vps_spawn_begin(const struct vps_spawn_params *p, struct vps_spawn **ret, vps_error *err)
{
        _cleanup_free_ struct vps_spawn *s = calloc(1, sizeof(*s));
        if (!s)
                return vps_err(err, ENOMEM, "out of memory");
        *s = (struct vps_spawn){.p = *p,
                                .sock = -1,
                                .setup_pidfd = -1,
                                .maker_pidfd = -1,
                                .init_pidfd = -1,
                                .listener = -1};
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0)
                return vps_err_sys(err, errno, "socketpair");
        _cleanup_close_ int parent_sock = sp[0];
        _cleanup_close_ int child_sock = sp[1];
        /* The children block on their end (only vpsd's is non-blocking). */
        int fl = fcntl(child_sock, F_GETFL);
        if (fl < 0 || fcntl(child_sock, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return vps_err_sys(err, errno, "socketpair");
        /* Through the starter when there is one (sandbox.h); a starter gone, vpsd clones. */
        if (p->starter && p->starter->fd >= 0 &&
            vps_starter_request(p->starter, p, child_sock) == 0) {
                s->by_starter = true;
                s->sock = TAKE_FD(parent_sock);
                *ret = TAKE_PTR(s);
                return 0;
        }
        struct clone_args args = {
                .flags = CLONE_NEWNS | CLONE_INTO_CGROUP | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)&s->setup_pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t)p->cgroup_fd,
        };
        pid_t setup = vps_sys_clone3(&args);
        if (setup < 0)
                return vps_err_sys(err, errno, "starting the VPS setup (clone3)");
        if (setup == 0) {
                close(parent_sock);
                vps_spawn_setup_main(p, child_sock);
        }
        s->sock = TAKE_FD(parent_sock);
        *ret = TAKE_PTR(s);
        return 0;
}

int vps_spawn_fd(const struct vps_spawn *s)
{
        return s->sock;
}

/* A child of vpsd's that the start made, told by pid (spawn.h): a pidfd of it kept, so that it
 * is reaped however the start ends (the PID is vpsd's until vpsd reaps it). */
static int *adopt(struct vps_spawn *s, const struct pid_msg *pm)
{
        int *slot = pm->tag == 'S'   ? &s->setup_pidfd
                    : pm->tag == 'M' ? &s->maker_pidfd
                                     : &s->init_pidfd;
        if (*slot < 0 && pm->pid > 0)
                *slot = vps_sys_pidfd_open(pm->pid, 0);
        return slot;
}

/* The init has its namespaces: the host side of the network while it builds its root. */
static int init_arrived(struct vps_spawn *s, vps_error *err)
{
        int r;
        reset_oom_score(s->m.init);
        if (s->p.parent_hook) {
                if ((r = s->p.parent_hook(s->m.init, s->p.userdata, err)) < 0)
                        return child_failed_first(s->sock, r, err);
                if (send(s->sock, "n", 1, MSG_NOSIGNAL) != 1)
                        return child_failed_first(
                                s->sock,
                                vps_err_sys(err, errno, "telling the VPS its network is there"),
                                err);
        }
        return 0;
}

/* The init from the setup process (step 4): its pidfd rides along; the maker has exited or is
 * about to, and is reaped off the loop. */
static int got_init(struct vps_spawn *s, const struct init_msg *m, int fd, vps_error *err)
{
        s->m = *m;
        if (s->init_pidfd < 0)
                s->init_pidfd = fd;
        else
                close(fd); /* the same process, told by 'C' already */
        s->phase = WAIT_EXEC;
        if (s->p.reap)
                reap_pidfd(&s->p, TAKE_FD(s->maker_pidfd));
        return init_arrived(s, err);
}

/* What came on the start's socket, in order: the children's PIDs ('S', 'M', 'C'), the init
 * ('I' with its pidfd), its sysinfo listener ('L' with it), then EOF once the init exec'd
 * (every child's copy of the socket closed). A vps_error: a child failed. 1: nothing more for
 * now; 0: the init runs. */
static int recv_all(struct vps_spawn *s, vps_error *err)
{
        for (;;) {
                union {
                        char tag;
                        struct pid_msg pm;
                        struct init_msg m;
                        vps_error e;
                } u;
                int fd = -1;
                size_t nfds = 0;
                int n = vps_recv_msg(s->sock, &u, sizeof(u), &fd, 1, &nfds);
                if (n == -EINTR)
                        continue;
                if (n == -EAGAIN)
                        return 1;
                if ((n == -EPIPE || n == 0) && s->phase == WAIT_EXEC)
                        return 0;
                if (n == (int)sizeof(u.pm) && nfds == 0 &&
                    (u.tag == 'S' || u.tag == 'M' || u.tag == 'C')) {
                        (void)adopt(s, &u.pm);
                        continue;
                }
                if (n == (int)sizeof(u.m) && nfds == 1 && u.tag == 'I' && s->phase == WAIT_INIT) {
                        int r = got_init(s, &u.m, fd, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n == 1 && nfds == 1 && u.tag == 'L' && s->phase == WAIT_EXEC) {
                        vps_closep(&s->listener);
                        s->listener = fd;
                        continue;
                }
                if (nfds)
                        close(fd);
                if (n == (int)sizeof(u.e)) {
                        u.e.msg[sizeof(u.e.msg) - 1] = '\0';
                        *err = u.e;
                        return -err->code;
                }
                return vps_err_sys(err, n < 0 ? -n : EPROTO,
                                   s->phase == WAIT_INIT ? "starting the VPS"
                                                         : "waiting for the VPS init");
        }
}

int vps_spawn_step(struct vps_spawn *s, struct vps_spawn_result *ret, vps_error *err)
{
        int r = recv_all(s, err);
        if (r != 0)
                return r;
        ret->pid = s->m.init;
        ret->starttime = s->m.starttime;
        if (vps_pidfd_ino(s->init_pidfd, &ret->pidfd_ino) < 0)
                ret->pidfd_ino = 0;
        ret->pidfd = TAKE_FD(s->init_pidfd);
        ret->notify_fd = TAKE_FD(s->listener);
        s->done = true;
        return 0;
}

/* An unfinished start's processes killed: those vpsd was told of; then the socket is read to
 * its end, for each of them holds it until it goes: one told of meanwhile is killed too
 * (each is told of before it can block: spawn.h). The maker is not killed: it ends by itself
 * once the setup is gone, and tells of the init it made first. */
static void kill_all(struct vps_spawn *s)
{
        if (s->init_pidfd >= 0)
                (void)vps_sys_pidfd_send_signal(s->init_pidfd, SIGKILL, NULL, 0);
        if (s->setup_pidfd >= 0)
                (void)vps_sys_pidfd_send_signal(s->setup_pidfd, SIGKILL, NULL, 0);
        for (int i = 0; s->sock >= 0 && i < 100; i++) {
                struct pollfd pfd = {.fd = s->sock, .events = POLLIN};
                if (poll(&pfd, 1, 20) <= 0)
                        continue;
                union {
                        struct pid_msg pm;
                        char any[sizeof(vps_error) + sizeof(struct init_msg)];
                } u;
                int fd = -1;
                size_t nfds = 0;
                int n = vps_recv_msg(s->sock, &u, sizeof(u), &fd, 1, &nfds);
                if (nfds)
                        close(fd);
                if (n == (int)sizeof(u.pm) &&
                    (u.pm.tag == 'S' || u.pm.tag == 'M' || u.pm.tag == 'C')) {
                        int *slot = adopt(s, &u.pm);
                        if (u.pm.tag != 'M' && *slot >= 0)
                                (void)vps_sys_pidfd_send_signal(*slot, SIGKILL, NULL, 0);
                } else if (n < 0 && n != -EAGAIN && n != -EINTR)
                        return; /* the end: every child has gone */
        }
}

void vps_spawn_kill(struct vps_spawn *s)
{
        if (!s || s->done)
                return;
        kill_all(s);
        reap_pidfd(&s->p, TAKE_FD(s->init_pidfd));
        reap_pidfd(&s->p, TAKE_FD(s->maker_pidfd));
        reap_pidfd(&s->p, TAKE_FD(s->setup_pidfd));
}

void vps_spawn_free(struct vps_spawn *s)
{
        if (!s)
                return;
        vps_spawn_kill(s); /* unfinished: its processes go */
        reap_pidfd(&s->p, TAKE_FD(s->maker_pidfd));
        reap_pidfd(&s->p, TAKE_FD(s->setup_pidfd));
        vps_closep(&s->listener);
        vps_closep(&s->sock);
        free(s);
}

int vps_spawn(const struct vps_spawn_params *p, struct vps_spawn_result *ret, vps_error *err)
{
        struct vps_spawn *s = NULL;
        int r = vps_spawn_begin(p, &s, err);
        while (r == 0 && (r = vps_spawn_step(s, ret, err)) == 1) {
                struct pollfd pfd = {.fd = s->sock, .events = POLLIN};
                while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
                        ;
                r = 0;
        }
        vps_spawn_free(s);
        return r;
}
