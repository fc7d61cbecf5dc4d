/* vpsd: the snapshot endpoints (docs/api.md, "Snapshots"), each a thin call into
 * storage/snapshot.c. They run in the loop, one at a time: a snapshot, a switch, a stop or a
 * destroy of the same VPS come one after the other, the later one seeing what the earlier
 * did; a change under way in a job (jobs.c) makes them wait their turn with EBUSY. */
#include "copy_job.h"
#include "copy_routes.h"
#include "trash.h"
#include "snapshot_routes.h"

#include "jobs.h"
#include "log.h"
#include "vpsd.h"
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "guest/guest.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* The VPS of the request, not busy with a job. */
static struct vps_inst *find_idle(struct vpsd *d, const char *id, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (vi &&
            (vpsd_job_check_busy(d, vi, false, err) < 0 || vpsd_copy_check_busy(d, vi, err) < 0))
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
        (void)status;
        struct vps_inst *vi = find_idle(d, id, err);
        if (!vi)
                return -err->code;
        const char *name, *desc;
        int r = body_string(body, "name", false, &name, err);
        if (r == 0)
                r = body_string(body, "description", false, &desc, err);
        /* The copy in a child; answered when it ends (copy_routes.c). */
        if (r == 0)
                r = vpsd_snapshot_begin(d, req, vi, name, desc, err);
        if (r < 0)
                vpsd_log("VPS %s: %s", id, err->msg);
        (void)ret;
        return r;
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
        vpsd_trash_sweep_vps(d, vi); /* its files: answered before they are gone */
        *ret = json_pack("{s:s, s:s, s:b}", "id", id, "name", name, "deleted", 1);
        return 0;
}

int vpsd_snapshot_switch(VPSD_SNAPSHOT_ROUTE_ARGS)
{
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
        /* The copy in a child; answered when it ends (copy_routes.c). */
        return r < 0 ? r : vpsd_switch_begin(d, req, vi, name, err);
}

int vpsd_snapshot_mount(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        const char *name, *dir = NULL;
        struct vps_inst *vi = named(d, id, body, &name, err);
        int r = vi ? body_string(body, "dir", true, &dir, err) : -err->code;
        if (r == 0)
                r = vps_snapshot_mount(&d->m, vi, name, dir, err);
        if (r < 0)
                return r;
        vpsd_log("VPS %s: snapshot %s mounted read-only on %s", id, name, dir);
        *ret = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "mounted", dir);
        return 0;
}

int vpsd_snapshot_umount(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        const char *name;
        char dir[512] = "";
        struct vps_inst *vi = named(d, id, body, &name, err);
        int r = vi ? vps_snapshot_umount(&d->m, vi, name, dir, sizeof(dir), err) : -err->code;
        if (r < 0)
                return r;
        vpsd_log("VPS %s: snapshot %s unmounted from %s", id, name, dir);
        *ret = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "name", name, "dir", dir, "mounted", 0);
        return 0;
}

/* POST /v1/vps/ID/reinstall: a stopped VPS only (vpsctl stops and starts it). */
int vpsd_reinstall(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)req;
        (void)status;
        struct vps_inst *vi = find_idle(d, id, err);
        if (!vi)
                return -err->code;
        const char *tpl = NULL, *pw = NULL, *keys = NULL;
        json_t *keep = json_object_get(body, "keep");
        json_t *dry = json_object_get(body, "dry_run");
        int r = body_string(body, "ostemplate", false, &tpl, err);
        if (r == 0)
                r = body_string(body, "userpasswd", false, &pw, err);
        if (r == 0)
                r = body_string(body, "ssh_key", false, &keys, err);
        if (r == 0 && ((keep && !json_is_boolean(keep)) || (dry && !json_is_boolean(dry))))
                r = vps_err(err, EINVAL, "'keep' and 'dry_run' must be true or false");
        if (r == 0 && pw)
                r = vps_userpasswd_check(pw, err);
        _cleanup_json_ json_t *meta = NULL;
        if (r == 0)
                r = vps_template_get(&d->m, tpl && *tpl ? tpl : vi->cfg.ostemplate, &meta, err);
        if (r < 0 || json_is_true(dry)) {
                if (r == 0)
                        *ret = json_pack("{s:s, s:b}", "id", id, "reinstalled", 0);
                return r;
        }
        char snap[VPS_SNAPSHOT_NAME_MAX + 1] = "";
        r = vps_reinstall(&d->m, vi, tpl, !json_is_false(keep), snap, sizeof(snap), err);
        vpsd_trash_sweep_vps(d, vi); /* the old layer unless kept */
        if (r < 0) {
                vpsd_log("VPS %s: %s", id, err->msg);
                return r;
        }
        vpsd_log("VPS %s reinstalled from template %s%s%s", id, vi->cfg.ostemplate,
                 snap[0] ? "; the old root kept as snapshot " : "", snap);
        /* Logins into the fresh root (the password is never logged). */
        if (pw && (r = vps_manager_set_userpasswd(&d->m, vi, pw, NULL, err)) < 0)
                return r;
        if (keys && (r = vps_manager_add_ssh_keys(&d->m, vi, keys, NULL, err)) < 0)
                return r;
        *ret = json_pack("{s:s, s:s, s:b, s:s?}", "id", id, "ostemplate", vi->cfg.ostemplate,
                         "reinstalled", 1, "snapshot", snap[0] ? snap : NULL);
        return 0;
}

/* POST /v1/vps/ID/clone {"id": NEWID, "hostname": H, "ip": [...]}: 201 the new VPS. */
int vpsd_clone(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        struct vps_inst *vi = find_idle(d, id, err);
        if (!vi)
                return -err->code;
        const char *new_id, *host;
        int r = body_string(body, "id", true, &new_id, err);
        if (r == 0)
                r = body_string(body, "hostname", false, &host, err);
        json_t *jip = json_object_get(body, "ip");
        char ips[VPS_MAX_IPS][VPS_IP_MAX];
        unsigned int n = 0;
        if (r == 0 && jip && (!json_is_array(jip) || json_array_size(jip) > VPS_MAX_IPS))
                r = vps_err(err, EINVAL, "'ip' must be an array of at most %d addresses",
                            VPS_MAX_IPS);
        for (size_t i = 0; r == 0 && i < json_array_size(jip); i++) {
                const char *a = json_string_value(json_array_get(jip, i));
                if (!a || strlen(a) >= sizeof(ips[0]))
                        r = vps_err(err, EINVAL, "'ip' must be an array of addresses");
                else
                        (void)snprintf(ips[n++], sizeof(ips[0]), "%s", a);
        }
        struct vps_inst *nvi = NULL;
        if (r == 0)
                r = vps_clone_prepare(&d->m, vi, new_id, host, ips, n, &nvi, err);
        /* The copy in a child; answered (201) when it ends (copy_routes.c). */
        if (r == 0)
                r = vpsd_clone_begin(d, req, vi, nvi, err);
        if (r < 0)
                vpsd_log("VPS %s: %s", id, err->msg);
        (void)ret;
        (void)status;
        return r;
}
