/* Whether a VPS's init can take its halt signal yet. The kernel drops a signal sent to the
 * init of a pid namespace while its handler is SIG_DFL and it is not blocked, so a halt sent
 * early in a boot (before systemd blocks SIGRTMIN+3 for its signalfd, before busybox init
 * blocks SIGUSR2 for its sigtimedwait) is lost; vpsd sends it again until the init is ready. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"

/* From the text of /proc/PID/status: sig has a handler (SigCgt), or is blocked (SigBlk: it
 * stays pending for a signalfd or sigwait) and not ignored. False when a line is missing. */
bool vps_halt_status_ready(const char *status, int sig);
/* From the text of /proc/PID/syscall: true when the task sleeps in rt_sigtimedwait (which
 * unblocks the signals it waits for while it sleeps, so SigBlk does not show them); *ret_set
 * gets the address of the set it waits for. */
bool vps_halt_syscall_sigwait(const char *syscall_text, uint64_t *ret_set);
/* 1: process pid (a host PID) takes sig now, 0: not yet, or a negative errno (vps_error). */
int vps_halt_ready(pid_t pid, int sig, vps_error *err);
