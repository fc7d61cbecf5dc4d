/* quota: disk space and inode limits for a directory tree through filesystem project quotas
 * (XFS with prjquota; ext4 with the project and quota features and prjquota). Every call
 * takes an fd on the filesystem concerned (quotactl_fd), so no block device path is needed.
 * Library code: returns errors in a vps_error, never prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

#define VQ_NONE UINT64_MAX /* no limit */

struct vq_usage {
        uint64_t space, inodes;            /* in use: bytes, inodes */
        uint64_t space_soft, space_hard;   /* bytes, VQ_NONE when not set */
        uint64_t inodes_soft, inodes_hard; /* inodes, VQ_NONE when not set */
};

/* Can the filesystem holding fd enforce project quotas? 0 if so, with fs ("xfs", "ext4")
 * filled in; otherwise -EOPNOTSUPP and a message saying what to change. */
int vq_probe(int fd, char *fs, size_t fs_size, vps_error *err);

/* Usage and limits of project id. A project the filesystem has never seen is all zero. */
int vq_get(int fd, uint32_t projid, struct vq_usage *ret, vps_error *err);

/* Sets the four limits of project id (VQ_NONE removes one). space in bytes, rounded up to
 * whole KiB. */
int vq_set(int fd, uint32_t projid, uint64_t space_soft, uint64_t space_hard, uint64_t inodes_soft,
           uint64_t inodes_hard, vps_error *err);

/* Is project id free: no usage and no limits? */
int vq_is_free(int fd, uint32_t projid, bool *ret, vps_error *err);

/* Puts the directory dirfd and everything below it into project id with the inherit flag, so
 * whatever is created there later joins it. Never follows symlinks; symlinks and special
 * files keep the id they were created with. */
int vq_project_assign(int dirfd, uint32_t projid, vps_error *err);

/* The project id of an open file. */
int vq_project_get(int fd, uint32_t *ret, vps_error *err);
