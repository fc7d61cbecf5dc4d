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
        char phase[32];        /* starting, resolving, downloading, extracting, installing,
                                  fix-ups, publishing, done, failed */
        unsigned int packages; /* packages debootstrap fetched */
        unsigned int done;     /* steps (packages, files of an import) of the current phase */
        unsigned int total;    /* steps the current phase will take, 0: not known */
        unsigned int files;    /* entries of an import written */
        unsigned int refused;  /* entries of an import refused (escaping paths) */
        char last[200];        /* the builder's last line of output */
        char error[512];       /* why it failed */
        int64_t started_at, ended_at;
        char buf[1024];
        size_t len;
};

/* What a template is built from: a recipe (debootstrap from mirror), or a rootfs tarball. */
struct vps_build_source {
        const char *mirror;      /* for a recipe */
        const char *import_path; /* absolute path of a tarball, or NULL for the recipe */
};

/* Starts building template name from src: its recipe, or the tarball. On success the
 * caller watches b->out_fd (readable: vps_template_build_read) and b->pidfd (readable:
 * vps_template_build_end). */
int vps_template_build_start(struct vps_manager *m, const char *name,
                             const struct vps_build_source *src, struct vps_build *b,
                             vps_error *err);
/* Reads what the builder printed so far (never blocks) and updates the progress. */
void vps_template_build_read(struct vps_build *b);
/* Reaps the builder once its pidfd is readable and closes the fds: 0 when the template was
 * published; otherwise an error carrying the builder's message, with its staging dir gone. */
int vps_template_build_end(struct vps_manager *m, struct vps_build *b, vps_error *err);
/* {"name", "status": "building"|"ready"|"failed", "phase", "packages", "done", "total",
 *  "elapsed", "last", "error"} */
struct json_t *vps_template_build_json(const struct vps_build *b);
/* Removes the staging dirs of builders that are gone (a vpsd that died mid-build). */
void vps_template_build_sweep(struct vps_manager *m);

/* template_import.c: unpacks the tarball at archive_path into rootfs_fd; progress is called
 * for each entry (refused: why it was not written, or NULL). Fails on a broken archive or
 * when every entry was refused. */
int vps_template_extract(const char *archive_path, int rootfs_fd,
                         void (*progress)(const char *path, const char *refused, void *arg),
                         void *arg, unsigned int *ret_entries, unsigned int *ret_refused,
                         vps_error *err);

/* template_import.c: fails naming what an imported tree lacks to boot as a VPS: /etc and /bin
 * (directories, through symlinks inside the tree as merged /usr has them) and an executable
 * init (a regular file at init_path, "/sbin/init" for every distro today). */
int vps_template_rootfs_check(int rootfs_fd, const char *init_path, vps_error *err);

/* template_store.c, for the builder: meta.json of a finished tree, and its size. */
int vps_template_write_meta(int dfd, const char *name, const char *version, const char *distro,
                            unsigned long long size, vps_error *err);
unsigned long long vps_template_tree_size(int dfd);

/* The template store (template_store.c). */
int vps_templates_list(struct vps_manager *m, struct json_t **ret, vps_error *err);
int vps_template_get(struct vps_manager *m, const char *name, struct json_t **ret, vps_error *err);
int vps_template_build(struct vps_manager *m, const char *name, struct json_t **ret,
                       vps_error *err);
/* Renamed to templates/.del-NAME (.N, VPS_TRASH_PREFIX): gone at once; its files (a guest's
 * for a template made from a VPS or a backup) are the caller's to remove off its loop. */
int vps_template_remove(struct vps_manager *m, const char *name, vps_error *err);
/* Gives every entry of templates/ mode 0700 (vps_manager_open, for roots made by older
 * vpsds). */
int vps_templates_tighten(struct vps_manager *m, vps_error *err);
