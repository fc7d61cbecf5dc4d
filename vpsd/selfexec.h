/* selfexec.c: helpers of vpsd that are vpsd's own binary exec'd with one option (the sysinfo
 * writer, the starter): exec'd, not forked, so that they share no memory with vpsd and hold
 * nothing of vpsd's but one socket. */
#pragma once

#include <sys/types.h>

#include "vps/error.h"

#define VPSD_SELFEXEC_FD 3

/* `vpsd OPTION` with theirs (one end of a socket) as its fd 3, its signals default and
 * unblocked, by posix_spawn (a vfork: vpsd's page tables are not copied). Returns 0 with its PID
 * and a pidfd of it (nothing in vpsd waits for any child: the PID is vpsd's until reaped). */
int vpsd_selfexec(const char *option, int theirs, pid_t *ret_pid, int *ret_pidfd, vps_error *err);
