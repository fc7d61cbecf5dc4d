/* trash.c: a guest's files (a destroyed VPS, a removed template, a deleted snapshot, a dropped
 * upper layer) removed by a child, watched by the loop. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct request;

/* Destroys a stopped VPS: forgotten at once, its files removed by a child; the waiters (the
 * suspended DELETE requests, may be NULL) are answered when they are gone. Returns 1 when it
 * took them (0: done already, the caller answers). */
int vpsd_destroy(struct vpsd *d, struct vps_inst *vi, struct request *waiters, vps_error *err);
/* A child for each trash entry (.del-*) of a VPS (ID/ and ID/snapshots/) or of templates/ not
 * being removed yet: after a snapshot delete or switch, a reinstall, a template remove. */
void vpsd_trash_sweep_vps(struct vpsd *d, struct vps_inst *vi);
void vpsd_trash_sweep_templates(struct vpsd *d);
/* The cgroups of a stopped VPS that its stop left (vps_cgroup_remove out of time), removed
 * by a child. */
void vpsd_trash_cgroup(struct vpsd *d, const char *id);
/* At start-up: removes what an earlier vpsd left (vps/.del-*, templates/.del-*, and each
 * VPS's, the cgroups of stopped VPSes). */
void vpsd_trash_resume(struct vpsd *d);
/* As vpsd exits: fails the requests still waiting; true if there were any. */
bool vpsd_trash_answer_all(struct vpsd *d);
