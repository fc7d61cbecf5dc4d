/* watch.c: the loop's hold on each running VPS: its init's pidfd (its exit goes to the
 * d->vps_exited hook) and its console. */
#pragma once

#include "vps/error.h"

#include <stdint.h>

struct vpsd;
struct vps_inst;

/* Starts watching a VPS that just started or was re-adopted. */
int vpsd_watch_vps(struct vpsd *d, struct vps_inst *vi, vps_error *err);
/* Stops watching a VPS's init (its pidfd, or the timer of vpsd_watch_exit_later). */
void vpsd_unwatch_pid(struct vpsd *d, struct vps_inst *vi);
/* Its pidfd is readable but its exit not yet collectable (a tracer holds it): the pidfd,
 * which stays readable, is let go and the exit looked at again in MS milliseconds. */
int vpsd_watch_exit_later(struct vpsd *d, struct vps_inst *vi, int64_t ms, vps_error *err);
/* Watches every running VPS (at start-up). */
int vpsd_watch_all(struct vpsd *d, vps_error *err);
/* vpsd's /proc/meminfo views (lxcfs.h) follow each VPS's usage every few seconds: returns
 * the milliseconds until the next round (a loop prepare hook; userdata is the vpsd). */
int vpsd_meminfo_tick(void *userdata);
