/* libvps: disk limits of a VPS (--diskspace, --diskinodes) through project quotas on its
 * upper/ and work/ dirs: one project id per VPS, kept in config.json, allocated at create,
 * freed at destroy. Usage is read from the quota, never by walking files. */
#include "quota/quota.h"
#include "vps/cleanup.h"
#include "storage/storage.h"
#include "inst/inst.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define PROJID_START 100000u

void vps_disk_probe(struct vps_manager *m)
{
        vps_error e;
        m->quota_ok = vq_probe(m->vps_fd, m->quota_fs, sizeof(m->quota_fs), &e) == 0;
        if (!m->quota_ok)
                (void)snprintf(m->quota_why, sizeof(m->quota_why), "%.399s", e.msg);
}

static void add_warning(struct vps_manager *m, const char *text)
{
        size_t used = strlen(m->warning);
        (void)snprintf(m->warning + used, sizeof(m->warning) - used, "%s%s", used ? "; " : "",
                       text);
}

int vps_disk_check(struct vps_manager *m, const struct vps_limits *l, vps_error *err)
{
        if (m->quota_ok || !vps_limits_have_disk(l))
                return 0;
        const char *what = l->v[VPS_LIM_DISKSPACE] != VPS_LIMIT_NONE ||
                                           l->soft[VPS_LIM_DISKSPACE] != VPS_LIMIT_NONE
                                   ? "'diskspace'"
                                   : "'diskinodes'";
        if (!m->enforce_warn)
                return vps_err(err, EOPNOTSUPP,
                               "cannot enforce %s on %s: %s (or run vpsd with --enforce-limits "
                               "warn)",
                               what, m->root, m->quota_why);
        char w[160];
        (void)snprintf(w, sizeof(w), "%s not enforced (no project quotas on %.100s)", what,
                       m->root);
        add_warning(m, w);
        return 0;
}

/* The lowest id from PROJID_START that no VPS has and the filesystem shows unused. */
static int alloc_projid(struct vps_manager *m, uint32_t *ret, vps_error *err)
{
        for (uint32_t id = PROJID_START; id < PROJID_START + 1000000u; id++) {
                bool taken = false;
                for (size_t i = 0; i < m->n && !taken; i++)
                        taken = m->v[i]->cfg.projid == id;
                if (taken)
                        continue;
                bool free_id = false;
                int r = vq_is_free(m->vps_fd, id, &free_id, err);
                if (r < 0)
                        return r;
                if (free_id) {
                        *ret = id;
                        return 0;
                }
        }
        return vps_err(err, ENOSPC, "no free project id");
}

static int set_limits(struct vps_manager *m, uint32_t projid, const struct vps_limits *l,
                      vps_error *err)
{
        return vq_set(m->vps_fd, projid, l->soft[VPS_LIM_DISKSPACE], l->v[VPS_LIM_DISKSPACE],
                      l->soft[VPS_LIM_DISKINODES], l->v[VPS_LIM_DISKINODES], err);
}

/* Puts upper/ and work/ (overlayfs renames from work/ into upper/: both must be in the same
 * project) into projid. */
static int assign(int dir_fd, uint32_t projid, vps_error *err)
{
        static const char *const dirs[] = {"upper", "work"};
        for (size_t i = 0; i < 2; i++) {
                _cleanup_close_ int fd =
                        openat(dir_fd, dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return vps_err_sys(err, errno, "opening %s", dirs[i]);
                int r = vq_project_assign(fd, projid, err);
                if (r < 0)
                        return vps_err_wrap(err, "%s", dirs[i]);
        }
        return 0;
}

int vps_disk_setup(struct vps_manager *m, int dir_fd, struct vps_config *cfg, vps_error *err)
{
        if (!m->quota_ok)
                return 0;
        uint32_t id = 0;
        int r = alloc_projid(m, &id, err);
        if (r < 0 || (r = assign(dir_fd, id, err)) < 0)
                return vps_err_wrap(err, "disk quota");
        cfg->projid = id;
        if ((r = set_limits(m, id, &cfg->limits, err)) < 0)
                return vps_err_wrap(err, "disk quota");
        return 0;
}

static bool disk_changed(const struct vps_limits *a, const struct vps_limits *b)
{
        return a->v[VPS_LIM_DISKSPACE] != b->v[VPS_LIM_DISKSPACE] ||
               a->soft[VPS_LIM_DISKSPACE] != b->soft[VPS_LIM_DISKSPACE] ||
               a->v[VPS_LIM_DISKINODES] != b->v[VPS_LIM_DISKINODES] ||
               a->soft[VPS_LIM_DISKINODES] != b->soft[VPS_LIM_DISKINODES];
}

static void warn_over(struct vps_manager *m, uint32_t projid, const struct vps_limits *l)
{
        struct vq_usage u;
        vps_error e;
        if (vq_get(m->vps_fd, projid, &u, &e) < 0)
                return;
        char w[200];
        if (l->v[VPS_LIM_DISKSPACE] != VPS_LIMIT_NONE && u.space > l->v[VPS_LIM_DISKSPACE]) {
                (void)snprintf(w, sizeof(w),
                               "%llu bytes in use, above the new 'diskspace': writes fail until "
                               "files are deleted",
                               (unsigned long long)u.space);
                add_warning(m, w);
        }
        if (l->v[VPS_LIM_DISKINODES] != VPS_LIMIT_NONE && u.inodes > l->v[VPS_LIM_DISKINODES]) {
                (void)snprintf(w, sizeof(w),
                               "%llu inodes in use, above the new 'diskinodes': new files fail "
                               "until some are deleted",
                               (unsigned long long)u.inodes);
                add_warning(m, w);
        }
}

int vps_disk_apply(struct vps_manager *m, int dir_fd, struct vps_config *cfg,
                   const struct vps_limits *old, vps_error *err)
{
        if (!m->quota_ok || !disk_changed(&cfg->limits, old))
                return 0;
        int r;
        if (!cfg->projid) {
                /* A VPS from before the root had quotas: its tree joins a project now. */
                uint32_t id = 0;
                if ((r = alloc_projid(m, &id, err)) < 0 || (r = assign(dir_fd, id, err)) < 0)
                        return vps_err_wrap(err, "disk quota");
                cfg->projid = id;
        }
        if ((r = set_limits(m, cfg->projid, &cfg->limits, err)) < 0)
                return vps_err_wrap(err, "disk quota");
        warn_over(m, cfg->projid, &cfg->limits);
        return 0;
}

void vps_disk_restore(struct vps_manager *m, uint32_t projid, const struct vps_limits *old)
{
        vps_error e;
        if (m->quota_ok && projid)
                (void)set_limits(m, projid, old, &e);
}

void vps_disk_release(struct vps_manager *m, uint32_t projid)
{
        vps_error e;
        if (m->quota_ok && projid)
                (void)vq_set(m->vps_fd, projid, VQ_NONE, VQ_NONE, VQ_NONE, VQ_NONE, &e);
}

static json_t *num(uint64_t v)
{
        return v == VQ_NONE ? json_null() : json_integer((json_int_t)v);
}

uint64_t vps_disk_usage_key(const struct vps_manager *m, const struct vps_config *cfg)
{
        struct vq_usage u;
        vps_error e;
        if (!m->quota_ok || !cfg->projid || vq_get(m->vps_fd, cfg->projid, &u, &e) < 0)
                return 0;
        uint64_t h = 1, w[] = {u.space,      u.inodes,      u.space_soft,
                               u.space_hard, u.inodes_soft, u.inodes_hard};
        for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
                h = (h ^ w[i]) * 0x100000001b3ULL;
        return h;
}

void vps_disk_usage_json(const struct vps_manager *m, const struct vps_config *cfg, json_t *obj)
{
        struct vq_usage u;
        vps_error e;
        if (!m->quota_ok || !cfg->projid || vq_get(m->vps_fd, cfg->projid, &u, &e) < 0) {
                json_object_set_new(obj, "diskspace", json_null());
                json_object_set_new(obj, "diskinodes", json_null());
                return;
        }
        json_object_set_new(obj, "diskspace",
                            json_pack("{s:I, s:o, s:o}", "used", (json_int_t)u.space, "soft",
                                      num(u.space_soft), "hard", num(u.space_hard)));
        json_object_set_new(obj, "diskinodes",
                            json_pack("{s:I, s:o, s:o}", "used", (json_int_t)u.inodes, "soft",
                                      num(u.inodes_soft), "hard", num(u.inodes_hard)));
}
