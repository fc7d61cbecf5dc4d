/* The host's kernel limits that VPSes draw on (runtime/cgroup/hostlimits.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define VPS_HOST_LIMIT_LINE 200

/* Reads the limits that matter to many VPSes, raises those below what many VPSes need
 * (inotify, keys, aio, map count, neighbours; each VPS is one host user to the per-user
 * ones: spawn.c), and describes each in one line for vpsd's log. Returns the number of
 * lines (at most max; 11 today). */
size_t vps_host_limits(char (*ret)[VPS_HOST_LIMIT_LINE], size_t max, unsigned int devpts_max);
