/* vpsd: vpsd's own binary exec'd as a helper (selfexec.h). */
#include "selfexec.h"

#include "vps/cleanup.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int vpsd_selfexec(const char *option, int theirs, pid_t *ret_pid, int *ret_pidfd, vps_error *err)
{
        _cleanup_close_ int moved = -1;
        if (theirs == VPSD_SELFEXEC_FD) { /* dup2 onto itself would keep it close-on-exec */
                moved = theirs = fcntl(theirs, F_DUPFD_CLOEXEC, VPSD_SELFEXEC_FD + 1);
                if (theirs < 0)
                        return vps_err_sys(err, errno, "dup");
        }
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&at);
        (void)posix_spawn_file_actions_adddup2(&fa, theirs, VPSD_SELFEXEC_FD);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        (void)posix_spawnattr_setsigmask(&at, &none);
        (void)posix_spawnattr_setsigdefault(&at, &all);
        (void)posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        char *argv[] = {"vpsd", (char *)option, NULL};
        pid_t pid;
        int r = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (r != 0)
                return vps_err_sys(err, r, "starting vpsd %s", option);
        int pidfd = vps_sys_pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = errno;
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return vps_err_sys(err, r, "pidfd_open");
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}
