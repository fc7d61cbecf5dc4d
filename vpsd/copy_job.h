/* copy_job.c: the long copies of a guest's files (a snapshot, a switch to one, a clone, a
 * reinstall's kept layer) in a child of vpsd watched by the loop, so that no guest's size or file
 * count holds the loop. The child works on its copy of vpsd's state and changes only files; the
 * parent changes its state (the manager's VPS list, claims) before the child starts and when it has
 * ended, and answers the suspended request then. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct request;
struct vpsd_progress;
struct vps_copy_progress;
typedef struct json_t json_t;

/* In the child: the work, its answer's data in *ret (small: it crosses a pipe); pr: where its
 * progress goes when the request is a progress stream (api.h), else NULL. */
typedef int (*vpsd_copy_fn)(struct vpsd *d, json_t *arg, struct vpsd_progress *pr, json_t **ret,
                            vps_error *err);
/* In the parent when the child has ended: r and *result are the child's (r < 0 with err set
 * when it failed, was killed or cancelled; result may be NULL); makes the answer (*status
 * defaults to 200) or returns a negative errno with err set. */
typedef int (*vpsd_copy_done_fn)(struct vpsd *d, json_t *arg, int r, json_t *result,
                                 unsigned int *status, json_t **ret, vps_error *err);

struct vpsd_copy_spec {
        const char *what;   /* "snapshot", "switch", "clone", "reinstall": for messages */
        const char *id;     /* the VPS copied: busy meanwhile */
        const char *new_id; /* a clone's new VPS (busy too), or NULL */
        bool cancellable;   /* a destroy of id cancels it (all it made is inside vps/ID) */
        vpsd_copy_fn child;
        vpsd_copy_done_fn done;
        json_t *arg; /* a reference is taken */
};

/* Forks the child and suspends req: 1, or a negative errno (nothing started). */
int vpsd_copy_start(struct vpsd *d, struct request *req, const struct vpsd_copy_spec *s,
                    vps_error *err);
/* EBUSY while a copy of (or into) VPS id runs; a destroy passes when it cancels the copy. */
int vpsd_copy_busy(struct vpsd *d, const char *id, bool destroy, vps_error *err);
/* A destroy of id goes ahead: its cancellable copy's child is killed (answered when reaped). */
void vpsd_copy_cancel(struct vpsd *d, const char *id);
/* True while a copy runs (a SIGHUP re-exec waits). */
bool vpsd_copy_running(struct vpsd *d);
/* vpsd exits: the requests get an error (the children die with vpsd); true if any. */
bool vpsd_copy_answer_all(struct vpsd *d);

/* In the child, pr not NULL: the progress of a copy of the tree at path (under dir_fd) in
 * bytes, its total counted first (vps_tree_usage) and a first frame sent; *cb, returned, is
 * what the library calls as it copies. NULL (no progress) when pr is NULL. */
const struct vps_copy_progress *vpsd_copy_progress_begin(struct vpsd_progress *pr, int dir_fd,
                                                         const char *path,
                                                         struct vps_copy_progress *cb);
/* The copy is done: the last frame (done equal to total). */
void vpsd_copy_progress_end(struct vpsd_progress *pr);
