/* Unit tests' fixture: a child that sits in a network namespace of its own until killed
 * (test_nsrun.c, test_netlock.c), as the init of a running VPS would. */
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vps/syscalls.h"

static pid_t holder = -1;
static int holder_pidfd = -1;

static int setup(void **state)
{
        (void)state;
        int p[2];
        if (pipe(p) < 0)
                return -1;
        holder = fork();
        if (holder == 0) {
                char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
                (void)!write(p[1], &ok, 1);
                for (;;)
                        pause();
        }
        char ok = 'n';
        (void)!read(p[0], &ok, 1);
        close(p[0]);
        close(p[1]);
        holder_pidfd = vps_sys_pidfd_open(holder, 0);
        return ok == 'y' && holder_pidfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        if (holder > 0) {
                (void)kill(holder, SIGKILL);
                (void)waitpid(holder, NULL, 0);
        }
        if (holder_pidfd >= 0)
                close(holder_pidfd);
        return 0;
}
