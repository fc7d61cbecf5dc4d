/* libvps, private to sandbox/: the tables of what a start binds into a guest's tree from the
 * host (mounts.c makes the mounts; hostbinds.c names them for a checkpoint and its restore). */
#pragma once

#include <stddef.h>

/* Kernel interfaces a VPS has no business with: files get /dev/null bound over them,
 * directories an empty read-only tmpfs. */
extern const char *const vps_masked_paths[];
extern const size_t vps_n_masked_paths;
/* Host device nodes bound into the guest's /dev (a user namespace cannot mknod). */
extern const char *const vps_dev_nodes[];
#define VPS_N_DEV_NODES 6
/* LXCFS's views over /proc and /sys, when LXCFS serves. */
extern const char *const vps_lxcfs_views[];
extern const size_t vps_n_lxcfs_views;
