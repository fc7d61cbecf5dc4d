/* LXCFS, and what stands in for it: whether the LXCFS vpsd.conf names is serving (probed at
 * vpsd's start-up, by `vpsctl version` and at each VPS start), and the memory figures of a VPS
 * that sysinfo(2) answers and, when LXCFS is not serving, vpsd's own /proc/meminfo view show
 * alike: a file on a tmpfs of vpsd's (VPS_RUN_DIR/meminfo-DEV-INO/ID, host root's, 0644) that
 * ROOT/vps/ID/meminfo links to, bound read-only and locked over the guest's /proc/meminfo
 * (mounts.c), rewritten in place at each sysinfo call and every few seconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

struct json_t;
struct sysinfo;
struct vps_limits;
struct vps_inst;
struct vps_manager;

enum vps_lxcfs_state { VPS_LXCFS_OFF, VPS_LXCFS_SERVING, VPS_LXCFS_DOWN };

struct vps_lxcfs_status {
        enum vps_lxcfs_state state;
        char dir[256]; /* the LXCFS mount vpsd.conf names, "" when off */
        char why[400]; /* when down: what the probe found ("DIR/proc/meminfo: No such file...") */
};

/* Probes dir ("" for lxcfs = off): serving when DIR/proc/meminfo can be opened and read. */
void vps_lxcfs_probe(const char *dir, struct vps_lxcfs_status *ret);
/* "off", "serving", "not serving" */
const char *vps_lxcfs_state_name(enum vps_lxcfs_state s);
/* {"state": "serving"|"not serving"|"off", "serving": bool, "dir": DIR|null,
 *  "detail": WHY|null, "meminfo": "lxcfs"|"vpsd"} */
struct json_t *vps_lxcfs_status_json(const struct vps_lxcfs_status *s);

/* A VPS's memory in bytes, as sysinfo(2) and the meminfo view show it. */
struct vps_mem {
        uint64_t total, free, available, buffers, cached, shared, swap_total, swap_free;
};

/* The figures of the VPS whose cgroup is cg: the total is the least of the host's RAM,
 * memory.max and (where the host has no memory controller) the VPS's --ram; free is the total
 * less memory.current; cached is its page cache (memory.stat file), never above what it
 * uses: total - free - buffers - cached is never negative. Swap likewise. host: the host's
 * own sysinfo. */
void vps_mem_figures(const char *cg, const struct vps_limits *own, const struct sysinfo *host,
                     struct vps_mem *ret);
/* The text of the meminfo view: always the same length, so an in-place rewrite never leaves
 * a reader a shorter or longer file. Returns its length. */
size_t vps_meminfo_text(const struct vps_mem *f, char *buf, size_t size);
#define VPS_MEMINFO_TEXT_MAX 1024
/* Writes the view of vi into its directory's "meminfo": created (create true) or only
 * rewritten in place when it is there (-ENOENT when not: the VPS runs with LXCFS's). */
int vps_meminfo_update(const struct vps_inst *vi, bool create, vps_error *err);
/* The same for the VPS directory dir_fd, cgroup cg and limits own (at start, before vi has
 * its run state). */
int vps_meminfo_write(int dir_fd, const char *cg, const struct vps_limits *own, bool create,
                      vps_error *err);
int vps_meminfo_write_at(int dir_fd, const char *name, const char *cg,
                         const struct vps_limits *own, bool create, vps_error *err);
/* At start: the view of vi (cgroup cg) written on vpsd's tmpfs of views,
 * VPS_RUN_DIR/meminfo-DEV-INO/ID (mounted there once), and ROOT/vps/ID/meminfo linked to it. */
int vps_meminfo_create(const struct vps_manager *m, const struct vps_inst *vi, const char *cg,
                       vps_error *err);
/* Unmounts and removes the tmpfs of views (when no VPS runs). */
void vps_meminfo_views_drop(const struct vps_manager *m);
/* Removes the view (a VPS started with LXCFS serving uses LXCFS's). */
void vps_meminfo_remove(const struct vps_inst *vi);
/* Rewrites the view of every running VPS that has one. */
void vps_meminfo_refresh_all(struct vps_manager *m);
