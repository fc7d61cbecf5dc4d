/* trash.c: a destroyed VPS's files removed by a child, watched by the loop. */
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
/* At start-up: removes what destroys left when an earlier vpsd died (vps/.del-*). */
void vpsd_trash_resume(struct vpsd *d);
/* As vpsd exits: fails the requests still waiting; true if there were any. */
bool vpsd_trash_answer_all(struct vpsd *d);
