/* copy_job.c: a copy of a guest's tree (a clone's, a snapshot's, a switch's) runs in a child of
 * vpsd, watched by the loop; its request is answered when the child ends. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct request;
struct vps_capture;

/* In the child: the copy; *cap its figures (left zero when there are none). */
typedef int (*vpsd_copy_fn)(struct vpsd *d, void *arg, struct vps_capture *cap, vps_error *err);
/* In the loop, when the child has ended: r and err its outcome (an abnormal end is EIO);
 * finishes the work, answers req (NULL when vpsd is exiting) and frees arg. */
typedef void (*vpsd_copy_end_fn)(struct vpsd *d, void *arg, struct request *req, int r,
                                 vps_error *err, const struct vps_capture *cap);
/* Starts fn in a child; a and b (b may be NULL) are busy until end has run. Returns 1 (req
 * suspended), or a negative errno: nothing started, end not called, arg still the caller's. */
int vpsd_copy_start(struct vpsd *d, struct request *req, struct vps_inst *a, struct vps_inst *b,
                    vpsd_copy_fn fn, vpsd_copy_end_fn end, void *arg, vps_error *err);
/* EBUSY while a copy involves vi. */
int vpsd_copy_check_busy(const struct vpsd *d, const struct vps_inst *vi, vps_error *err);
/* vpsd exits: the requests of the copies get an error (the children die with vpsd; the next
 * one removes what they left); true when there was one. */
bool vpsd_copy_answer_all(struct vpsd *d);
