/* jobs.c: a change that enters a running guest (its files, its namespaces) runs in a child
 * of vpsd with the guest_timeout deadline, so nothing a guest does can make the loop wait.
 * fn runs in the child on its copy of d and vi; what it changes of them (vi's config, the
 * network's state, the warning) comes back, and req is answered, when the child ends. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct request;

typedef int (*vpsd_job_fn)(struct vpsd *d, struct vps_inst *vi, void *arg, vps_error *err);
/* Returns 1 (req suspended) or a negative errno. addresses: the job changes vi's addresses
 * (no other VPS's may change meanwhile: the child checks against the others it knows). */
int vpsd_job_start(struct vpsd *d, struct request *req, struct vps_inst *vi, bool addresses,
                   vpsd_job_fn fn, void *arg, vps_error *err);
/* Refuses (EBUSY) a change to vi while a job changes it, or (addresses) while any job
 * changes addresses. */
int vpsd_job_check_busy(struct vpsd *d, const struct vps_inst *vi, bool addresses, vps_error *err);
/* vpsd exits: the requests of the jobs get an error (the jobs finish on their own); true
 * when there was one. */
bool vpsd_job_answer_all(struct vpsd *d);
