/* restore.c: a restore from its stream: the child of vpsd that extracts and checks the chain of
 * archives into a staging directory, and the loop's commit of it. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>

/* The template a --full restore makes of the backup's merged root: that VPS's own files. */
#define VPSD_RESTORED_PREFIX "restored-"
/* A customer's token never sees or reinstalls from another VPS's restored template. */
bool vpsd_template_restored(const char *name);

struct vpsd;
struct vpsd_stream;

/* Runs in the child on s->sock; asks the loop (s->ctl) to commit; never returns. */
_Noreturn void vpsd_restore_child(struct vpsd *d, struct vpsd_stream *s);
/* In the loop: the child has everything in s->staging: put it in place as VPS s->id. */
int vpsd_restore_commit(struct vpsd *d, struct vpsd_stream *s, vps_error *err);
/* At start: a restored template whose VPS was never published (vpsd died between the two
 * renames) is removed; one whose VPS is there loses its mark. */
void vpsd_restore_sweep(struct vpsd *d);
