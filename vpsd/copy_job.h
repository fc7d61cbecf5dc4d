/* clone_job.c: a clone's copy of the source's files runs in a child of vpsd, watched by the
 * loop; the POST is answered when it ends. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct request;

/* Starts the copy from src into dst (vps_clone_prepare made it); returns 1 (req suspended)
 * or a negative errno (dst then destroyed). */
int vpsd_clone_start(struct vpsd *d, struct request *req, struct vps_inst *src,
                     struct vps_inst *dst, vps_error *err);
/* EBUSY while vi is the source or the new VPS of a clone under way. */
int vpsd_clone_check_busy(const struct vpsd *d, const struct vps_inst *vi, vps_error *err);
/* vpsd exits: the requests of the clones get an error (the children die with vpsd; the next
 * one removes the hidden copies); true when there was one. */
bool vpsd_clone_answer_all(struct vpsd *d);
