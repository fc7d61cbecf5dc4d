/* starter.c: vpsd --starter, the small process that clones each start's setup (sandbox.h,
 * struct vps_starter): started before vpsd loads its VPSes, started again if it dies. */
#pragma once

#include "vps/error.h"

struct vpsd;

/* Starts it (exec'd: it shares no memory with vpsd and holds nothing but its socket); the
 * manager's starts go to it (d->m.starter); failing, vpsd clones its starts itself. */
int vpsd_starter_start(struct vpsd *d, vps_error *err);
/* Watches it from the loop: if it dies, it is reaped and started again. */
void vpsd_starter_watch(struct vpsd *d);
/* Before vpsd exits or re-executes: its socket closed, so it exits, and it is reaped. */
void vpsd_starter_stop(struct vpsd *d);
/* vpsd --starter: its own side, on fd 3. */
int vpsd_starter_main(void);
