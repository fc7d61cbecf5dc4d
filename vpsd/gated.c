/* vpsd: a child of vpsd that does nothing until the loop watches it. It waits for one byte
 * on a pipe; vpsd sends it once the child's pidfd is in the loop, so a child is never left
 * unwatched: if watching fails, the pipe closes unwritten and the child exits at once. */
#include "gated.h"

#include "vps/cleanup.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int vpsd_gated_fork(const struct vpsd_gated *g, pid_t *pid, int *pidfd, int *out_fd, vps_error *err)
{
        int go[2] = {-1, -1}, out[2] = {-1, -1};
        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                int e = errno;
                vps_closep(&go[0]);
                vps_closep(&go[1]);
                return vps_err_sys(err, e, "VPS %s: preparing the %s", g->id, g->what);
        }
        _cleanup_close_ int go_rd = go[0], go_wr = go[1], out_wr = out[1];
        *out_fd = out[0];
        fflush(NULL);
        *pid = fork();
        if (*pid == 0) {
                close(go_wr);
                close(*out_fd);
                g->child(g->arg, go_rd, out_wr);
                _exit(1); /* it does not return */
        }
        int r = 0;
        if (*pid < 0)
                r = vps_err_sys(err, errno, "fork");
        else if ((*pidfd = vps_sys_pidfd_open(*pid, 0)) < 0)
                r = vps_err_sys(err, errno, "pidfd_open");
        else
                r = g->watch(g->arg, *pidfd, err);
        if (r == 0 && write(go_wr, "g", 1) != 1) {
                r = vps_err_sys(err, errno, "VPS %s: starting the %s", g->id, g->what);
                g->unwatch(g->arg);
        }
        if (r < 0 && *pid > 0) {
                close(TAKE_FD(go_wr));
                while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        return r;
}
