/* vpsd: sysinfo answers written into the caller's memory by a writer process (see
 * sysinfo_writer.h). A writer is vpsd's own binary exec'd with --sysinfo-writer: exec, not a
 * bare fork, so that vpsd's pages are not shared copy-on-write with a long-lived child (each
 * page vpsd then wrote would fault), and so it holds nothing of vpsd's but its socket. It
 * dies with the thread that started it (PR_SET_PDEATHSIG) and at the end of its socket. */
#include "sysinfo_writer.h"

#include "selfexec.h"

#include "sandbox/sandbox.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITER_FD VPSD_SELFEXEC_FD

/* 'O': open /proc/PID/mem of pid (answered); 'W': write si at addr through it (answered);
 * 'C': close it (no answer). */
struct writer_req {
        char op;
        int32_t pid;
        uint64_t addr;
        struct sysinfo si;
};

int vpsd_writer_spawn(struct vpsd_writer *w, vps_error *err)
{
        *w = (struct vpsd_writer){.pid = -1, .pidfd = -1, .sock = -1};
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return vps_err_sys(err, errno, "socketpair");
        _cleanup_close_ int mine = sv[0], theirs = sv[1];
        pid_t pid;
        int pidfd;
        int r = vpsd_selfexec("--sysinfo-writer", theirs, &pid, &pidfd, err);
        if (r < 0)
                return r;
        *w = (struct vpsd_writer){.pid = pid, .pidfd = pidfd, .sock = TAKE_FD(mine)};
        return 0;
}

static int request(struct vpsd_writer *w, const struct writer_req *q)
{
        ssize_t n = send(w->sock, q, sizeof(*q), MSG_NOSIGNAL | MSG_DONTWAIT);
        return n == (ssize_t)sizeof(*q) ? 0 : n < 0 ? -errno : -EPIPE;
}

int vpsd_writer_open(struct vpsd_writer *w, pid_t pid)
{
        w->writing = false;
        return request(w, &(struct writer_req){.op = 'O', .pid = pid});
}

int vpsd_writer_write(struct vpsd_writer *w, uint64_t addr, const struct sysinfo *si)
{
        return request(w, &(struct writer_req){.op = 'W', .addr = addr, .si = *si});
}

int vpsd_writer_step(struct vpsd_writer *w, int listener, const struct vps_sysinfo_call *c,
                     const struct sysinfo *si, int r, int *error)
{
        *error = EFAULT;
        if (r < 0)
                return -1;
        if (w->writing) {
                *error = r == 0 ? 0 : EFAULT;
                return 0;
        }
        /* The caller's memory could not be opened (it died): the call runs as the kernel
         * would. */
        *error = -1;
        if (r > 0)
                return 0;
        /* Opened: only now is the PID known to be the caller's (it cannot have died and been
         * reused while its notification is still pending), and the file its memory. */
        if (vps_sysinfo_pending(listener, c->id) < 0)
                return vpsd_writer_drop(w) < 0 ? -1 : 0;
        *error = EFAULT;
        if (vpsd_writer_write(w, c->addr, si) < 0)
                return -1;
        w->writing = true;
        return 1;
}

int vpsd_writer_drop(struct vpsd_writer *w)
{
        return request(w, &(struct writer_req){.op = 'C'});
}

int vpsd_writer_result(struct vpsd_writer *w)
{
        int32_t res;
        ssize_t n = recv(w->sock, &res, sizeof(res), MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
        return n == (ssize_t)sizeof(res) && res >= 0 ? res : -EPIPE;
}

void vpsd_writer_kill(struct vpsd_writer *w)
{
        if (w->pidfd >= 0)
                (void)vps_sys_pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
        vps_closep(&w->sock);
}

bool vpsd_writer_reap(struct vpsd_writer *w)
{
        siginfo_t si = {0};
        if (w->pidfd >= 0 && waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) == 0 &&
            si.si_pid == 0)
                return false; /* still running */
        vps_closep(&w->pidfd);
        vps_closep(&w->sock);
        return true;
}

int vpsd_writer_main(void)
{
        /* Gone with the thread that started it, and at the end of its socket (the thread went
         * before the prctl). */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!vps_sock_peer_is_root(WRITER_FD))
                _exit(1);
        (void)vps_sys_close_range(WRITER_FD + 1, ~0U, 0);
        int mem = -1;
        for (;;) {
                struct writer_req q;
                ssize_t n = recv(WRITER_FD, &q, sizeof(q), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(q))
                        _exit(0);
                int32_t res = EINVAL;
                if (q.op == 'C') {
                        vps_closep(&mem);
                        continue;
                } else if (q.op == 'O') {
                        /* May wait on the guest too: opening it takes the caller's
                         * exec_update_lock, which its own execve holds while it closes a file
                         * on its FUSE mount. */
                        char path[64];
                        (void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)q.pid);
                        vps_closep(&mem);
                        mem = open(path, O_WRONLY | O_CLOEXEC);
                        res = mem < 0 ? errno : 0;
                } else if (q.op == 'W' && mem >= 0) {
                        /* The write that may wait on the guest (its FUSE daemon). */
                        ssize_t w = pwrite(mem, &q.si, sizeof(q.si), (off_t)q.addr);
                        res = w == (ssize_t)sizeof(q.si) ? 0 : w < 0 ? errno : EFAULT;
                        vps_closep(&mem);
                }
                if (send(WRITER_FD, &res, sizeof(res), MSG_NOSIGNAL) != (ssize_t)sizeof(res))
                        _exit(0);
        }
}
