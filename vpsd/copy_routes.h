/* copy_routes.c: the work around the copies of clone, snapshot and snapshot-switch, which run
 * in children (copy_job.c): what the loop does before and after each. */
#pragma once

#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct request;

/* Each returns 1 (req suspended, answered when the copy ends) or a negative errno. */
int vpsd_clone_begin(struct vpsd *d, struct request *req, struct vps_inst *src,
                     struct vps_inst *dst, vps_error *err);
int vpsd_snapshot_begin(struct vpsd *d, struct request *req, struct vps_inst *vi, const char *name,
                        const char *description, vps_error *err);
int vpsd_switch_begin(struct vpsd *d, struct request *req, struct vps_inst *vi, const char *name,
                      vps_error *err);
