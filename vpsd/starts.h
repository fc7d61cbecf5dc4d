/* starts.c: VPS starts run by the loop in steps (core.h's vps_manager_start_begin), so that
 * several progress at once: the loop does vpsd's part of each (the host side before the
 * clone, the network's host side, the state) and the start's processes do the rest
 * meanwhile. The onboot starts after a host boot go through a queue, VPSD_START_PARALLEL at
 * a time; API starts beyond d->start_parallel in flight through another. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vps/error.h"

struct vpsd;
struct request;
struct vps_inst;

/* Onboot starts beyond this many in flight wait in the onboot queue. Two, one per CPU of the
 * machine measured: 8 in flight made a boot storm of 200 slower there (bench/README.md,
 * "Parallel starts"). API starts beyond vpsd.conf start_parallel in flight (default
 * VPSD_START_API_PARALLEL) wait in a queue of their own, in order; none is refused. */
#define VPSD_START_PARALLEL     2
#define VPSD_START_API_PARALLEL 8

/* Sets the manager's reap hook (the start's own processes reaped off the loop). */
void vpsd_starts_init(struct vpsd *d);
/* Begins vi's start; req (or NULL) is answered when it is over, with the VPS or the error.
 * reason: the "started" event's ("start", "onboot"). 0: under way; < 0 (err set): it did not
 * begin. */
int vpsd_start_vps(struct vpsd *d, struct vps_inst *vi, struct request *req, const char *reason,
                   vps_error *err);
/* Queues the onboot starts of list (in its order). */
void vpsd_starts_onboot(struct vpsd *d, struct vps_inst **list, size_t n);
/* EBUSY (err set) while id is starting: nothing else may change it meanwhile. */
int vpsd_start_busy(struct vpsd *d, const char *id, vps_error *err);
/* Starts under way or queued. */
bool vpsd_starts_pending(struct vpsd *d);
/* Kills every start under way and empties the queue; their requests get err. True when a
 * request was answered. */
bool vpsd_starts_abort_all(struct vpsd *d, const vps_error *err);
