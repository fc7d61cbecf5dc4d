/* reap.c: the end of a VPS's run (its init exited) and of the loop's hold on it. */
#pragma once

struct vpsd;
struct vps_inst;

/* A VPS's init has exited (its pidfd is readable; watch.c calls it through d->vps_exited):
 * reap it, restart it or answer its waiters. */
void vpsd_vps_exited(struct vpsd *d, struct vps_inst *vi);
/* Drops the loop's hold on a VPS and its loop data (stopped, destroyed, or vpsd exiting). */
void vpsd_forget_vps(struct vpsd *d, struct vps_inst *vi);
/* After a VPS stopped: answer its waiters, run what the stop was for. */
void vpsd_after_stop(struct vpsd *d, struct vps_inst *vi);
