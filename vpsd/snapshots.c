/* vpsd: the snapshot endpoints (docs/api.md, "Snapshots"), each a thin call into
 * storage/snapshot.c, and reinstall and clone. A snapshot, a switch, a clone and a reinstall
 * copy or walk the guest's files (of its choosing, in size and number): they run in a child
 * (copy_job.c) and are answered when it ends, their VPSes busy meanwhile. The others run in
 * the loop, one at a time, the later one seeing what the earlier did; a change under way in
 * a job (jobs.c) or a copy makes them wait their turn with EBUSY. */
#include "trash.h"
#include "events.h"
#include "snapshot_routes.h"

#include "api.h"
#include "copy_job.h"
#include "jobs.h"
#include "log.h"
#include "restore.h"
#include "stream.h"
#include "vpsd.h"
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "guest/guest.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

bool vpsd_progress_route(const char *url)
{
        static const char *const actions[] = {"/snapshots", "/snapshot-switch", "/clone",
                                              "/reinstall"};
        if (strncmp(url, "/v1/vps/", 8) != 0)
                return false;
        const char *slash = strchr(url + 8, '/');
        for (size_t i = 0; slash && slash > url + 8 && i < sizeof(actions) / sizeof(actions[0]);
             i++)
                if (!strcmp(slash, actions[i]))
                        return true;
        return false;
}

/* The VPS of the request, not busy with a job. */
static struct vps_inst *find_idle(struct vpsd *d, const char *id, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (vi && vpsd_job_check_busy(d, vi, false, err) < 0)
                return NULL;
        return vi;
}

/* A customer's token keeps the VPS's snapshots (outside its --diskspace: docs/api.md) to a
 * budget: at most vpsd.conf's token_snapshots, and no new one once they take the VPS's
 * diskspace. Else one customer's token, snapshotting or reinstalling in a loop, fills the
 * host's disk. */
static int token_budget(struct vpsd *d, struct request *req, struct vps_inst *vi, vps_error *err)
{
        const struct vpsd_client *c = vpsd_request_client(req);
        if (!c || c->kind != VPSD_CLIENT_TOKEN)
                return 0;
        _cleanup_json_ json_t *u = vps_snapshot_usage(vi);
        json_int_t n = json_integer_value(json_object_get(u, "count"));
        json_int_t size = json_integer_value(json_object_get(u, "size"));
        uint64_t disk = vi->cfg.limits.v[VPS_LIM_DISKSPACE];
        if (n >= (json_int_t)d->token_snapshots)
                return vps_err(err, EPERM,
                               "VPS %s has %lld snapshots, as many as a token may keep: delete "
                               "one first",
                               vi->cfg.id, (long long)n);
        if (disk != VPS_LIMIT_NONE && (uint64_t)size >= disk)
                return vps_err(err, EPERM,
                               "VPS %s's snapshots take %lld bytes, its diskspace: delete one "
                               "first",
                               vi->cfg.id, (long long)size);
        return 0;
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

/* In the copy's child: the snapshot taken (storage/snapshot.c), its meta.json the answer. */
static int snapshot_child(struct vpsd *d, json_t *arg, struct vpsd_progress *pr, json_t **ret,
                          vps_error *err)
{
        const char *id = json_string_value(json_object_get(arg, "id"));
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        struct vps_copy_progress cb;
        int r = vps_snapshot_create(&d->m, vi, json_string_value(json_object_get(arg, "name")),
                                    json_string_value(json_object_get(arg, "description")),
                                    vpsd_copy_progress_begin(pr, vi->dir_fd, "upper", &cb), ret,
                                    err);
        if (r == 0)
                vpsd_copy_progress_end(pr);
        return r;
}

static int snapshot_done(struct vpsd *d, json_t *arg, int r, json_t *result, unsigned int *status,
                         json_t **ret, vps_error *err)
{
        (void)d;
        (void)status;
        const char *id = json_string_value(json_object_get(arg, "id"));
        if (r == 0 && !result)
                r = vps_err(err, EIO, "the snapshot of VPS %s gave no answer", id);
        if (r < 0) {
                vpsd_log("VPS %s: %s", id, err->msg);
                return r;
        }
        vpsd_log("VPS %s: snapshot %s taken: frozen %.2f ms, %lld files, %lld bytes, %.2f ms in "
                 "all",
                 id, json_string_value(json_object_get(result, "name")),
                 json_real_value(json_object_get(result, "frozen_ms")),
                 (long long)json_integer_value(json_object_get(result, "files")),
                 (long long)json_integer_value(json_object_get(result, "size")),
                 json_real_value(json_object_get(result, "total_ms")));
        *ret = json_incref(result);
        return 0;
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
        if (r == 0 && name && *name)
                r = vps_snapshot_name_check(name, err);
        if (r == 0 && vi->status == VPS_STOPPING)
                r = vps_err(err, EBUSY, "VPS %s is stopping; try again when it has stopped", id);
        if (r == 0)
                r = token_budget(d, req, vi, err);
        _cleanup_json_ json_t *arg =
                r == 0 ? json_pack("{s:s, s:s?, s:s?}", "id", id, "name", name, "description", desc)
                       : NULL;
        if (r == 0 && !arg)
                r = vps_err(err, ENOMEM, "out of memory");
        if (r < 0)
                return r;
        struct vpsd_copy_spec s = {.what = "snapshot",
                                   .id = id,
                                   .cancellable = true,
                                   .child = snapshot_child,
                                   .done = snapshot_done,
                                   .arg = arg};
        return vpsd_copy_start(d, req, &s, err);
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
        vpsd_emit(d, "snapshot-deleted", id, json_pack("{s:s}", "name", name));
        vpsd_trash_sweep_vps(d, vi); /* its files: answered before they are gone */
        *ret = json_pack("{s:s, s:s, s:b}", "id", id, "name", name, "deleted", 1);
        return 0;
}

/* In the copy's child: the snapshot's files copied beside the VPS's and put in place with
 * one rename (storage/snapshot.c); what it replaced is in the trash then. */
static int switch_child(struct vpsd *d, json_t *arg, struct vpsd_progress *pr, json_t **ret,
                        vps_error *err)
{
        const char *name = json_string_value(json_object_get(arg, "name"));
        struct vps_inst *vi =
                vps_manager_find(&d->m, json_string_value(json_object_get(arg, "id")), err);
        if (!vi)
                return -err->code;
        char path[VPS_SNAPSHOT_NAME_MAX + 32];
        (void)snprintf(path, sizeof(path), "snapshots/%s/upper", name); /* a checked name */
        struct vps_copy_progress cb;
        struct vps_copy_stats st;
        int r = vps_snapshot_switch(&d->m, vi, name,
                                    vpsd_copy_progress_begin(pr, vi->dir_fd, path, &cb), &st, err);
        if (r < 0)
                return r;
        vpsd_copy_progress_end(pr);
        *ret = json_pack("{s:I, s:I}", "files", (json_int_t)st.files, "bytes",
                         (json_int_t)st.bytes);
        return 0;
}

/* In the loop when the child has ended: the old layer (or what a failure left) removed off
 * the loop, and the answer. */
static int switch_done(struct vpsd *d, json_t *arg, int r, json_t *result, unsigned int *status,
                       json_t **ret, vps_error *err)
{
        (void)status;
        const char *id = json_string_value(json_object_get(arg, "id"));
        const char *name = json_string_value(json_object_get(arg, "name"));
        vps_error e;
        struct vps_inst *vi = vps_manager_find(&d->m, id, &e);
        if (vi)
                vpsd_trash_sweep_vps(d, vi);
        if (r == 0 && !vi)
                r = vps_err(err, ENOENT, "VPS %s was destroyed during its switch", id);
        if (r < 0) {
                vpsd_log("VPS %s: %s", id, err->msg);
                return r;
        }
        json_int_t files = json_integer_value(json_object_get(result, "files"));
        json_int_t bytes = json_integer_value(json_object_get(result, "bytes"));
        vpsd_log("VPS %s: switched to snapshot %s (%lld files, %lld bytes copied)", id, name,
                 (long long)files, (long long)bytes);
        *ret = json_pack("{s:s, s:s, s:b, s:I, s:I}", "id", id, "name", name, "switched", 1,
                         "files", files, "bytes", bytes);
        return 0;
}

/* POST /v1/vps/ID/snapshot-switch: a stopped VPS only (vpsctl stops and starts it); the copy
 * runs in a child (copy_job.c), the VPS busy meanwhile and a destroy cancelling it. */
int vpsd_snapshot_switch(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)status;
        const char *name;
        struct vps_inst *vi = named(d, id, body, &name, err);
        int r = vi ? 0 : -err->code;
        json_t *dry = json_object_get(body, "dry_run");
        if (r == 0 && dry && !json_is_boolean(dry))
                r = vps_err(err, EINVAL, "'dry_run' must be true or false");
        if (r == 0)
                r = vps_manager_not_suspended(vi, err);
        if (r == 0)
                r = vps_snapshot_switch_check(vi, name, err);
        if (r < 0 || json_is_true(dry)) {
                if (r == 0)
                        *ret = json_pack("{s:s, s:s, s:b}", "id", id, "name", name, "switched", 0);
                return r;
        }
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY,
                               "VPS %s is running: stop it first (vpsctl snapshot-switch does)",
                               id);
        _cleanup_json_ json_t *arg = json_pack("{s:s, s:s}", "id", id, "name", name);
        if (!arg)
                return vps_err(err, ENOMEM, "out of memory");
        struct vpsd_copy_spec s = {.what = "switch",
                                   .id = id,
                                   .cancellable = true,
                                   .child = switch_child,
                                   .done = switch_done,
                                   .arg = arg};
        return vpsd_copy_start(d, req, &s, err);
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

static void on_walk(void *arg, const struct vps_copy_stats *s)
{
        struct vpsd_progress *pr = arg;
        pr->files = pr->done = s->files;
        pr->bytes = s->bytes;
        vpsd_progress_update(pr);
}

/* In the copy's child: the reinstall (storage/reinstall.c: the old layer walked for its
 * figures and kept as a snapshot, or dropped), the kept snapshot's name the answer. Its
 * progress: that walk's (phase "walk", unit "files", the total unknown until its end): the
 * layer is moved, not copied. */
static int reinstall_child(struct vpsd *d, json_t *arg, struct vpsd_progress *pr, json_t **ret,
                           vps_error *err)
{
        struct vps_inst *vi =
                vps_manager_find(&d->m, json_string_value(json_object_get(arg, "id")), err);
        if (!vi)
                return -err->code;
        struct vps_copy_progress cb = {.fn = on_walk, .arg = pr};
        if (pr) {
                pr->phase = "walk";
                pr->unit = "files";
                vpsd_progress_send(pr);
        }
        char snap[VPS_SNAPSHOT_NAME_MAX + 1] = "";
        int r = vps_reinstall(&d->m, vi, json_string_value(json_object_get(arg, "ostemplate")),
                              json_is_true(json_object_get(arg, "keep")), pr ? &cb : NULL, snap,
                              sizeof(snap), err);
        if (r == 0 && pr)
                vpsd_progress_end(pr);
        if (r == 0)
                *ret = json_pack("{s:s?}", "snapshot", snap[0] ? snap : NULL);
        return r;
}

/* In the loop when the child has ended: the config it may have changed (the template) taken
 * in, then the logins written into the fresh root. */
static int reinstall_done(struct vpsd *d, json_t *arg, int r, json_t *result, unsigned int *status,
                          json_t **ret, vps_error *err)
{
        (void)status;
        const char *id = json_string_value(json_object_get(arg, "id"));
        const char *pw = json_string_value(json_object_get(arg, "userpasswd"));
        const char *keys = json_string_value(json_object_get(arg, "ssh_key"));
        vps_error e;
        struct vps_inst *vi = vps_manager_find(&d->m, id, &e);
        struct vps_config c;
        if (vi && vps_config_load(vi->dir_fd, &c, &e) == 0)
                vi->cfg = c;
        if (vi)
                vps_inst_touch(&d->m, vi);
        if (vi)
                vpsd_trash_sweep_vps(d, vi); /* the old layer unless kept, or what a failure left */
        if (r == 0 && !vi)
                r = vps_err(err, ENOENT, "VPS %s was destroyed during its reinstall", id);
        if (r < 0) {
                vpsd_log("VPS %s: %s", id, err->msg);
                return r;
        }
        const char *snap = json_string_value(json_object_get(result, "snapshot"));
        vpsd_log("VPS %s reinstalled from template %s%s%s", id, vi->cfg.ostemplate,
                 snap ? "; the old root kept as snapshot " : "", snap ? snap : "");
        /* Logins into the fresh root (the password is never logged). */
        if (pw && (r = vps_manager_set_userpasswd(&d->m, vi, pw, NULL, err)) < 0)
                return r;
        if (keys && (r = vps_manager_add_ssh_keys(&d->m, vi, keys, NULL, err)) < 0)
                return r;
        *ret = json_pack("{s:s, s:s, s:b, s:s?}", "id", id, "ostemplate", vi->cfg.ostemplate,
                         "reinstalled", 1, "snapshot", snap);
        return 0;
}

/* POST /v1/vps/ID/reinstall: a stopped VPS only (vpsctl stops and starts it). */
int vpsd_reinstall(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)status;
        struct vps_inst *vi = find_idle(d, id, err);
        if (!vi || vps_manager_not_suspended(vi, err) < 0)
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
        if (r == 0 && !json_is_false(keep)) /* the old root kept as a snapshot */
                r = token_budget(d, req, vi, err);
        /* Another VPS's restored template holds that VPS's files: a token answers as if it
         * did not exist (its own VPS's current template stays its). */
        const struct vpsd_client *c = vpsd_request_client(req);
        if (r == 0 && tpl && c && c->kind == VPSD_CLIENT_TOKEN && vpsd_template_restored(tpl) &&
            strcmp(tpl, vi->cfg.ostemplate) != 0)
                r = vps_err(err, ENOENT, "unknown template '%s' (see 'vpsctl template list')", tpl);
        _cleanup_json_ json_t *meta = NULL;
        if (r == 0)
                r = vps_template_get(&d->m, tpl && *tpl ? tpl : vi->cfg.ostemplate, &meta, err);
        if (r < 0 || json_is_true(dry)) {
                if (r == 0)
                        *ret = json_pack("{s:s, s:b}", "id", id, "reinstalled", 0);
                return r;
        }
        _cleanup_json_ json_t *arg =
                json_pack("{s:s, s:s?, s:b, s:s?, s:s?}", "id", id, "ostemplate", tpl, "keep",
                          !json_is_false(keep), "userpasswd", pw, "ssh_key", keys);
        if (!arg)
                return vps_err(err, ENOMEM, "out of memory");
        struct vpsd_copy_spec s = {.what = "reinstall",
                                   .id = id,
                                   .cancellable = true,
                                   .child = reinstall_child,
                                   .done = reinstall_done,
                                   .arg = arg};
        return vpsd_copy_start(d, req, &s, err);
}

/* In the copy's child: the copy into the new VPS's hidden directory (core/clone.c). */
static int clone_child(struct vpsd *d, json_t *arg, struct vpsd_progress *pr, json_t **ret,
                       vps_error *err)
{
        struct vps_inst *src =
                vps_manager_find(&d->m, json_string_value(json_object_get(arg, "id")), err);
        struct vps_inst *dst =
                src ? vps_manager_find(&d->m, json_string_value(json_object_get(arg, "new_id")),
                                       err)
                    : NULL;
        if (!dst)
                return -err->code;
        struct vps_capture cap;
        struct vps_copy_progress cb;
        int r = vps_clone_copy(&d->m, src, dst,
                               vpsd_copy_progress_begin(pr, src->dir_fd, "upper", &cb), &cap, err);
        if (r < 0)
                return r;
        vpsd_copy_progress_end(pr);
        *ret = json_pack("{s:I, s:I, s:I, s:I}", "frozen_us", (json_int_t)cap.frozen_us, "total_us",
                         (json_int_t)cap.total_us, "files", (json_int_t)cap.copy.files, "bytes",
                         (json_int_t)cap.copy.bytes);
        return 0;
}

/* In the loop when the child has ended: the new VPS published, or forgotten and removed. */
static int clone_done(struct vpsd *d, json_t *arg, int r, json_t *result, unsigned int *status,
                      json_t **ret, vps_error *err)
{
        const char *id = json_string_value(json_object_get(arg, "id"));
        const char *new_id = json_string_value(json_object_get(arg, "new_id"));
        vps_error e;
        struct vps_inst *dst = vps_manager_find(&d->m, new_id, &e);
        if (!dst) /* cannot be: it is busy while the copy runs */
                return r < 0 ? r : vps_err(err, ENOENT, "VPS %s vanished", new_id);
        r = vps_clone_end(&d->m, dst, r, err);
        if (r < 0) {
                vpsd_log("VPS %s: %s", id, err->msg);
                return r;
        }
        double frozen_ms =
                (double)json_integer_value(json_object_get(result, "frozen_us")) / 1000.0;
        vpsd_log("VPS %s cloned to %s: frozen %.2f ms, %lld files, %.2f ms in all", id, new_id,
                 frozen_ms, (long long)json_integer_value(json_object_get(result, "files")),
                 (double)json_integer_value(json_object_get(result, "total_us")) / 1000.0);
        *ret = vps_inst_to_json(&d->m, dst);
        if (*ret) {
                json_object_set_new(*ret, "frozen_ms",
                                    json_real((double)(json_integer_value(json_object_get(
                                                               result, "frozen_us")) /
                                                       10) /
                                              100.0));
                json_object_set_new(*ret, "copied",
                                    json_pack("{s:O, s:O}", "files",
                                              json_object_get(result, "files"), "bytes",
                                              json_object_get(result, "bytes")));
        }
        *status = 201;
        return 0;
}

/* POST /v1/vps/ID/clone {"id": NEWID, "hostname": H, "ip": [...]}: 201 the new VPS. */
int vpsd_clone(VPSD_SNAPSHOT_ROUTE_ARGS)
{
        (void)status;
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
                r = vps_clone_begin(&d->m, vi, new_id, host, ips, n, &nvi, err);
        _cleanup_json_ json_t *arg =
                r == 0 ? json_pack("{s:s, s:s}", "id", id, "new_id", new_id) : NULL;
        if (r == 0 && !arg) {
                r = vps_err(err, ENOMEM, "out of memory");
                (void)vps_clone_end(&d->m, nvi, r, err);
        }
        struct vpsd_copy_spec s = {.what = "clone",
                                   .id = id,
                                   .new_id = new_id,
                                   .child = clone_child,
                                   .done = clone_done,
                                   .arg = arg};
        if (r == 0 && (r = vpsd_copy_start(d, req, &s, err)) < 0) {
                vps_error e;
                (void)vps_clone_end(&d->m, nvi, r, &e);
        }
        if (r < 0)
                vpsd_log("VPS %s: %s", id, err->msg);
        return r;
}
