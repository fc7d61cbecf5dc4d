/* sysinfo_thread.c: sysinfo(2) of VPS processes, answered by a thread of its own, off vpsd's
 * loop: no request, clone or snapshot in the loop delays a VPS's `free`, and no guest can
 * make the loop wait through it. */
#pragma once

#include <stddef.h>

#include "vps/error.h"

struct vpsd_sysinfo;
struct vpsd_sysinfo_shared;

/* Starts the thread over sh (listeners handed over, the VPSes' plans); accept_fd (or -1) is
 * the socket vpsctl hands exec'd commands' listeners to, taken over by the thread. A write
 * into a caller's memory that takes longer than timeout_s fails the call with EFAULT. */
int vpsd_sysinfo_start(struct vpsd_sysinfo **ret, struct vpsd_sysinfo_shared *sh, int accept_fd,
                       unsigned int timeout_s, const char *cgroup_mount, vps_error *err);
/* Stops it: no new call is read; those under way get up to a second to be written, then
 * EFAULT; its writers are killed. The listeners stay open (for a re-exec). */
void vpsd_sysinfo_stop(struct vpsd_sysinfo *t);
/* After the stop: the listeners it served (not the connections handing them over). */
size_t vpsd_sysinfo_listeners(const struct vpsd_sysinfo *t, int *fds, size_t max);
