/* Disk limits of a VPS (--diskspace, --diskinodes) through project quotas (quota/). */
#pragma once

#include <stdint.h>

#include "config/config.h"
#include "vps/error.h"

struct vps_manager;
struct json_t;

/* At open: can the storage root enforce project quotas? Sets m->quota_ok, m->quota_fs or
 * m->quota_why. */
void vps_disk_probe(struct vps_manager *m);
/* Refuses disk limits the root cannot enforce (or, in warn mode, adds to m->warning). */
int vps_disk_check(struct vps_manager *m, const struct vps_limits *l, vps_error *err);
/* At create, in the new VPS's dir dir_fd: a project id for upper/ and work/ (saved in
 * cfg->projid) with cfg's limits. Nothing when the root has no project quotas. */
int vps_disk_setup(struct vps_manager *m, int dir_fd, struct vps_config *cfg, vps_error *err);
/* Writes cfg's disk limits when they differ from old (on a VPS without a project yet, puts
 * its tree into one first). Adds a warning when usage is already above a new limit. */
int vps_disk_apply(struct vps_manager *m, int dir_fd, struct vps_config *cfg,
                   const struct vps_limits *old, vps_error *err);
/* Puts back the limits old after a later step of a change failed. */
void vps_disk_restore(struct vps_manager *m, uint32_t projid, const struct vps_limits *old);
/* After the VPS's files are gone: the project's limits removed, the id free again. */
void vps_disk_release(struct vps_manager *m, uint32_t projid);
/* Sets "diskspace" and "diskinodes" of obj to {"used", "soft", "hard"} or null. */
void vps_disk_usage_json(const struct vps_manager *m, const struct vps_config *cfg,
                         struct json_t *obj);
