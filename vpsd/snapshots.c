/* vpsd: the snapshot endpoints (docs/api.md, "Snapshots"), each a thin call into
 * storage/snapshot.c. They run in the loop, one at a time: a snapshot, a switch, a stop or a
 * destroy of the same VPS come one after the other, the later one seeing what the earlier
 * did; a change under way in a job (jobs.c) makes them wait their turn with EBUSY. */
#include "snapshot_routes.h"

#include "jobs.h"
#include "log.h"
#include "vpsd.h"
#include "storage/snapshot.h"

#include <errno.h>
#include <jansson.h>

/* The VPS of the request, not busy with a job. */
static struct vps_inst *find_idle(struct vpsd *d, const char *id, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (vi && vpsd_job_check_busy(d, vi, false, err) < 0)
                return NULL;
        return vi;
}

/* "name" of the body: a string, or absent when optional. */
static int body_string(json_t *body, const char *key, bool required, const char **ret,
                       vps_error *err)
{
        json_t *j = json_object_get(body, key);
        *ret = NULL;
        if (!j && !required)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'%s' must be a string", key);
        *ret = json_string_value(j);
        return 0;
}

/* The idle VPS and the snapshot "name" a delete or switch is about. */
static struct vps_inst *named(struct vpsd *d, const char *id, json_t *body, const char **name,
                              vps_error *err)
{
        struct vps_inst *vi = find_idle(d, id, err);
        return vi && body_string(body, "name", true, name, err) == 0 ? vi : NULL;
}

int vpsd_snapshot_create(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        struct vps_inst *vi = find_idle(d, id, err);
        if (!vi)
                return -err->code;
        const char *name, *desc;
        int r = body_string(body, "name", false, &name, err);
        if (r == 0)
                r = body_string(body, "description", false, &desc, err);
        if (r == 0)
                r = vps_snapshot_create(&d->m, vi, name, desc, ret, err);
        if (r < 0) {
                vpsd_log("VPS %s: %s", id, err->msg);
                return r;
        }
        vpsd_log("VPS %s: snapshot %s taken: frozen %.2f ms, %lld files, %lld bytes, %.2f ms in "
                 "all",
                 id, json_string_value(json_object_get(*ret, "name")),
                 json_real_value(json_object_get(*ret, "frozen_ms")),
                 (long long)json_integer_value(json_object_get(*ret, "files")),
                 (long long)json_integer_value(json_object_get(*ret, "size")),
                 json_real_value(json_object_get(*ret, "total_ms")));
        return 0;
}

int vpsd_snapshot_list(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        (void)body;
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        json_t *arr = NULL;
        int r = vps_snapshot_list(&d->m, vi, &arr, err);
        if (r == 0)
                *ret = json_pack("{s:s, s:o}", "id", id, "snapshots", arr);
        return r;
}

int vpsd_snapshot_delete(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        const char *name;
        struct vps_inst *vi = named(d, id, body, &name, err);
        int r = vi ? vps_snapshot_delete(&d->m, vi, name, err) : -err->code;
        if (r < 0)
                return r;
        vpsd_log("VPS %s: snapshot %s deleted", id, name);
        *ret = json_pack("{s:s, s:s, s:b}", "id", id, "name", name, "deleted", 1);
        return 0;
}

int vpsd_snapshot_switch(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        const char *name;
        struct vps_inst *vi = named(d, id, body, &name, err);
        int r = vi ? 0 : -err->code;
        json_t *dry = json_object_get(body, "dry_run");
        if (r == 0 && dry && !json_is_boolean(dry))
                r = vps_err(err, EINVAL, "'dry_run' must be true or false");
        if (r == 0 && json_is_true(dry)) {
                r = vps_snapshot_switch_check(vi, name, err);
                if (r == 0)
                        *ret = json_pack("{s:s, s:s, s:b}", "id", id, "name", name, "switched", 0);
                return r;
        }
        if (r == 0)
                r = vps_snapshot_switch(&d->m, vi, name, err);
        if (r < 0)
                return r;
        vpsd_log("VPS %s: switched to snapshot %s", id, name);
        *ret = json_pack("{s:s, s:s, s:b}", "id", id, "name", name, "switched", 1);
        return 0;
}
