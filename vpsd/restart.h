/* restart.c: restarts the guest asks for, held back when they come too fast. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vpsd;
struct vps_inst;

/* After the reap of a VPS whose guest asked for a restart, having run ran_s seconds: starts
 * it again at once or arms its restart timer. */
void vpsd_restart_guest(struct vpsd *d, struct vps_inst *vi, int64_t ran_s, bool oom);
/* An operator's start or stop: no pending restart, and the history starts over. */
void vpsd_restart_cancel(struct vpsd *d, struct vps_inst *vi);
/* Closes the restart timer (the VPS is forgotten or destroyed). */
void vpsd_restart_drop(struct vpsd *d, struct vps_inst *vi);
/* Re-exec: "|r=ID,AT,RESTARTS,DELAY" of each pending restart, appended to buf; after it,
 * the pending restarts read back from env, and their timers armed once the loop is up. */
size_t vpsd_restart_inherit_env(struct vpsd *d, char *buf, size_t size);
void vpsd_restart_inherit(struct vpsd *d, const char *env);
void vpsd_restart_arm_all(struct vpsd *d);
