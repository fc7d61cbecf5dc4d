/* libvps: the starter (sandbox.h), vpsd's own binary exec'd with --starter at vpsd's start,
 * and the request vpsd sends it. Every clone copies the page tables of its parent's private
 * memory, and each start makes three (setup, maker, init) and two exits and an exec that tear
 * them down: from vpsd, whose memory grows with its running VPSes, a start cost more with
 * 1000 running than with 1. The starter's memory is what an exec'd vpsd has before it does
 * anything, and stays so: it only receives a start's parameters and fds and clones the setup
 * with CLONE_PARENT (vpsd's child, reaped and watched by vpsd as before). */
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/localsock.h"
#include "vps/syscalls.h"
#include "spawn.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* One start: vps_spawn_params without its pointers; sent with the start's socket (the
 * children's end), the cgroup and the console. Both ends are the same binary. */
struct starter_req {
        char tag; /* 'R' */
        bool has_hostname, has_net, has_cfg, has_lxcfs, has_hook;
        uint32_t uid_base, uid_count;
        unsigned int devpts_max;
        char vps_dir[PATH_MAX], lower_path[PATH_MAX], init_path[PATH_MAX], lxcfs[PATH_MAX];
        char hostname[VPS_HOSTNAME_MAX + 1];
        struct vps_net_child net;
        struct vps_config cfg;
};

static int copy_str(char *dst, size_t size, const char *src)
{
        if (!src)
                src = "";
        size_t n = strlen(src);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(dst, src, n + 1);
        return 0;
}

int vps_starter_request(const struct vps_starter *st, const struct vps_spawn_params *p,
                        int child_sock)
{
        static struct starter_req q; /* 20 kB: not on the stack; vpsd's loop is one thread */
        memset(&q, 0, sizeof(q));
        q.tag = 'R';
        q.has_hostname = p->hostname != NULL;
        q.has_net = p->net != NULL;
        q.has_cfg = p->cfg != NULL;
        q.has_lxcfs = p->lxcfs != NULL;
        q.has_hook = p->parent_hook != NULL;
        q.uid_base = p->uid_base;
        q.uid_count = p->uid_count;
        q.devpts_max = p->devpts_max;
        if (copy_str(q.vps_dir, sizeof(q.vps_dir), p->vps_dir) < 0 ||
            copy_str(q.lower_path, sizeof(q.lower_path), p->lower_path) < 0 ||
            copy_str(q.init_path, sizeof(q.init_path), p->init_path) < 0 ||
            copy_str(q.lxcfs, sizeof(q.lxcfs), p->lxcfs) < 0 ||
            copy_str(q.hostname, sizeof(q.hostname), p->hostname) < 0)
                return -ENAMETOOLONG;
        if (p->net)
                q.net = *p->net;
        if (p->cfg)
                q.cfg = *p->cfg;
        int fds[] = {child_sock, p->cgroup_fd, p->console_fd};
        return vps_send_msg(st->fd, &q, sizeof(q), fds, 3);
}

static int hook_in_vpsd(pid_t pid, void *userdata, vps_error *err)
{
        (void)pid, (void)userdata, (void)err;
        return 0;
}

/* The setup for request q, vpsd's child; its fds are the start's. */
static int clone_setup(int self, const struct starter_req *q, const int fds[3])
{
        struct vps_spawn_params p = {
                .hostname = q->has_hostname ? q->hostname : NULL,
                .vps_dir = q->vps_dir,
                .lower_path = q->lower_path,
                .init_path = q->init_path,
                .uid_base = q->uid_base,
                .uid_count = q->uid_count,
                .cgroup_fd = fds[1],
                .console_fd = fds[2],
                .net = q->has_net ? &q->net : NULL,
                .cfg = q->has_cfg ? &q->cfg : NULL,
                .lxcfs = q->has_lxcfs ? q->lxcfs : NULL,
                .devpts_max = q->devpts_max,
        };
        /* vpsd runs the hook itself; the init only needs to know there is one (it then waits
         * for vpsd's "n"). */
        if (q->has_hook)
                p.parent_hook = hook_in_vpsd;
        struct clone_args args = {
                .flags = CLONE_NEWNS | CLONE_INTO_CGROUP | CLONE_PARENT,
                .cgroup = (uint64_t)fds[1],
        };
        pid_t pid = vps_sys_clone3(&args);
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(self);
                vps_spawn_setup_main(&p, fds[0]);
        }
        return 0;
}

int vps_starter_main(int fd)
{
        /* Gone with vpsd (and at the end of its socket, if vpsd went before the prctl). */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!vps_sock_peer_is_root(fd))
                return 1;
        (void)vps_sys_close_range((unsigned int)fd + 1, ~0U, 0);
        /* Signals for vpsd (`kill -HUP $(pidof vpsd)`) are not the starter's to die of. */
        (void)signal(SIGHUP, SIG_IGN);
        (void)signal(SIGINT, SIG_IGN);
        (void)signal(SIGTERM, SIG_IGN);
        (void)signal(SIGPIPE, SIG_IGN);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        static struct starter_req q;
        for (;;) {
                int fds[3] = {-1, -1, -1};
                size_t nfds = 0;
                int n = vps_recv_msg(fd, &q, sizeof(q), fds, 3, &nfds);
                if (n == -EINTR || n == -EAGAIN)
                        continue;
                if (n < 0)
                        return 0;
                int r = -EPROTO;
                if (n == (int)sizeof(q) && nfds == 3 && q.tag == 'R')
                        r = clone_setup(fd, &q, fds);
                if (r < 0 && nfds > 0) {
                        vps_error err;
                        (void)vps_err_sys(&err, -r, "starting the VPS setup (clone3)");
                        (void)send(fds[0], &err, sizeof(err), MSG_NOSIGNAL);
                }
                for (size_t i = 0; i < nfds; i++)
                        close(fds[i]);
        }
}
