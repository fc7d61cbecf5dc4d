/* stop.c: a requested stop: the halt signal, sent again until the timeout, then a kill. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vps/error.h"

struct vpsd;
struct vps_inst;

/* Seconds a VPS has to halt before it is killed, when a stop request names none. */
#define VPSD_STOP_TIMEOUT_DEFAULT 30

/* Begins a stop: the halt signal and the timer that sends it again and kills the VPS at the
 * timeout, or cgroup.kill when fast. */
int vpsd_stop_begin(struct vpsd *d, struct vps_inst *vi, bool fast, int timeout_s, vps_error *err);
/* How the stop of vi's exited init went, for its log line: " (clean: ...)", or "" when no
 * stop was asked for; forgets it. */
const char *vpsd_stop_describe(struct vps_inst *vi, char *buf, size_t size);
