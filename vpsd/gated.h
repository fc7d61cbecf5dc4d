/* vpsd: a child of vpsd that does nothing until the loop watches it (jobs.c, copy_job.c). */
#pragma once

#include "vps/error.h"

#include <sys/types.h>

struct vpsd_gated {
        const char *id, *what; /* for messages: "VPS ID: starting the WHAT" */
        /* In the child: waits for a byte on go (nothing is done without it), writes its
         * result on out and exits. */
        void (*child)(void *arg, int go, int out); /* does not return */
        /* In vpsd: the loop watches pidfd (0), or why not; unwatch undoes it. */
        int (*watch)(void *arg, int pidfd, vps_error *err);
        void (*unwatch)(void *arg);
        void *arg;
};

/* Forks g's child, watches it, then lets it go. *pid, *pidfd and *out_fd (its result's end)
 * are set as far as they were made (the caller closes them); on a failure the child, told
 * nothing, has ended and been reaped. 0 or -errno. */
int vpsd_gated_fork(const struct vpsd_gated *g, pid_t *pid, int *pidfd, int *out_fd,
                    vps_error *err);
