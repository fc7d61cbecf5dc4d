/* Building a template from a recipe (debootstrap) in a child process of vpsd, so the daemon's
 * loop never waits on it: the child's output is read for progress (phase, package count),
 * its pidfd says when it is over. The child publishes the template with one rename or leaves
 * nothing behind. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"

struct vps_manager;
struct json_t;

#define VPS_DEFAULT_MIRROR "http://deb.debian.org/debian"

struct vps_build {
        char name[64];
        pid_t pid;
        int pidfd, out_fd;     /* -1 once closed */
        char phase[32];        /* starting, resolving, downloading, extracting, unpacking,
                                  configuring, fix-ups, publishing, done, failed */
        unsigned int packages; /* packages debootstrap fetched */
        unsigned int done;     /* packages through the current phase */
        char last[200];        /* the builder's last line of output */
        char error[512];       /* why it failed */
        int64_t started_at, ended_at;
        char buf[1024];
        size_t len;
};

/* Starts building template name (which must have a recipe) from mirror. On success the
 * caller watches b->out_fd (readable: vps_template_build_read) and b->pidfd (readable:
 * vps_template_build_end). */
int vps_template_build_start(struct vps_manager *m, const char *name, const char *mirror,
                             struct vps_build *b, vps_error *err);
/* Reads what the builder printed so far (never blocks) and updates the progress. */
void vps_template_build_read(struct vps_build *b);
/* Reaps the builder once its pidfd is readable and closes the fds: 0 when the template was
 * published; otherwise an error carrying the builder's message, with its staging dir gone. */
int vps_template_build_end(struct vps_manager *m, struct vps_build *b, vps_error *err);
/* {"name", "status": "building"|"ready"|"failed", "phase", "packages", "done", "elapsed",
 *  "last", "error"} */
struct json_t *vps_template_build_json(const struct vps_build *b);
/* Removes the staging dirs of builders that are gone (a vpsd that died mid-build). */
void vps_template_build_sweep(struct vps_manager *m);

/* template_store.c, for the builder: meta.json of a finished tree, and its size. */
int vps_template_write_meta(int dfd, const char *name, const char *version, const char *distro,
                            unsigned long long size, vps_error *err);
unsigned long long vps_template_tree_size(int dfd);
