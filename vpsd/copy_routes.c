/* vpsd: clone, snapshot and snapshot-switch around their copies (copy_job.c): the loop makes
 * the names and directories, a child copies, the loop publishes (one rename) and answers. A
 * copy that failed leaves its files to the trash (trash.c), removed off the loop too. */
#include "copy_routes.h"

#include "api.h"
#include "copy_job.h"
#include "log.h"
#include "trash.h"
#include "vpsd.h"
#include "storage/storage.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct copy_arg {
        struct vps_inst *vi, *dst; /* dst: a clone's */
        char name[VPS_SNAPSHOT_NAME_MAX + 1];
};

static void answer(struct vpsd *d, struct request *req, int r, vps_error *err, json_t *ret,
                   unsigned int status)
{
        if (req && r < 0)
                vpsd_request_fail(d, req, err);
        else if (req)
                vpsd_request_finish(d, req, status, ret);
        else
                json_decref(ret);
}

static struct copy_arg *arg_new(struct vps_inst *vi, struct vps_inst *dst, const char *name,
                                vps_error *err)
{
        struct copy_arg *a = calloc(1, sizeof(*a));
        if (!a) {
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        a->vi = vi;
        a->dst = dst;
        (void)snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
        return a;
}

/* ---- clone */

static int clone_fill(struct vpsd *d, void *arg, struct vps_capture *cap, vps_error *err)
{
        struct copy_arg *a = arg;
        return vps_clone_fill(&d->m, a->vi, a->dst, cap, err);
}

/* A clone that failed: published, then destroyed (its files off the loop). */
static void clone_drop(struct vpsd *d, struct vps_inst *dst)
{
        vps_error e;
        if (vps_clone_publish(&d->m, dst, &e) < 0) {
                vpsd_log("VPS %s: %s", dst->cfg.id, e.msg);
                return;
        }
        /* It never ran (a start is refused while it is filled): nothing of it is watched. */
        free(dst->loop_data);
        dst->loop_data = NULL;
        if (vpsd_destroy(d, dst, NULL, &e) < 0)
                vpsd_log("VPS %s: %s", dst->cfg.id, e.msg);
}

static void clone_end(struct vpsd *d, void *arg, struct request *req, int r, vps_error *err,
                      const struct vps_capture *cap)
{
        struct copy_arg *a = arg;
        /* The child saved the clone's settings (take_settings): config.json has them. */
        struct vps_config c;
        vps_error e;
        if (vps_config_load(a->dst->dir_fd, &c, &e) == 0)
                a->dst->cfg = c;
        if (r == 0)
                r = vps_clone_publish(&d->m, a->dst, err);
        json_t *ret = NULL;
        if (r == 0) {
                vpsd_log("VPS %s cloned to %s: frozen %.2f ms, %llu files, %.2f ms in all",
                         a->vi->cfg.id, a->dst->cfg.id, (double)cap->frozen_us / 1000.0,
                         (unsigned long long)cap->copy.files, (double)cap->total_us / 1000.0);
                ret = vps_inst_to_json(&d->m, a->dst);
                if (ret)
                        json_object_set_new(ret, "frozen_ms",
                                            json_real((double)(cap->frozen_us / 10) / 100.0));
        } else {
                vpsd_log("VPS %s: %s", a->vi->cfg.id, err->msg);
                clone_drop(d, a->dst);
        }
        answer(d, req, r, err, ret, 201);
        free(a);
}

int vpsd_clone_begin(struct vpsd *d, struct request *req, struct vps_inst *src,
                     struct vps_inst *dst, vps_error *err)
{
        struct copy_arg *a = arg_new(src, dst, NULL, err);
        int r = a ? vpsd_copy_start(d, req, src, dst, clone_fill, clone_end, a, err) : -err->code;
        if (r < 0) {
                free(a);
                clone_drop(d, dst);
        }
        return r;
}

/* ---- snapshot */

static int snapshot_fill(struct vpsd *d, void *arg, struct vps_capture *cap, vps_error *err)
{
        struct copy_arg *a = arg;
        return vps_snapshot_create_fill(&d->m, a->vi, a->name, cap, err);
}

static void snapshot_end(struct vpsd *d, void *arg, struct request *req, int r, vps_error *err,
                         const struct vps_capture *cap)
{
        (void)cap;
        struct copy_arg *a = arg;
        json_t *ret = NULL;
        if (r == 0)
                r = vps_snapshot_create_publish(&d->m, a->vi, a->name, &ret, err);
        else
                (void)vps_snapshot_create_drop(&d->m, a->vi, a->name);
        if (r < 0) {
                vpsd_log("VPS %s: %s", a->vi->cfg.id, err->msg);
                vpsd_trash_sweep_vps(d, a->vi); /* the half-made copy */
        } else {
                vpsd_log("VPS %s: snapshot %s taken: frozen %.2f ms, %lld files, %lld bytes, "
                         "%.2f ms in all",
                         a->vi->cfg.id, a->name, json_real_value(json_object_get(ret, "frozen_ms")),
                         (long long)json_integer_value(json_object_get(ret, "files")),
                         (long long)json_integer_value(json_object_get(ret, "size")),
                         json_real_value(json_object_get(ret, "total_ms")));
        }
        answer(d, req, r, err, ret, 200);
        free(a);
}

int vpsd_snapshot_begin(struct vpsd *d, struct request *req, struct vps_inst *vi, const char *name,
                        const char *description, vps_error *err)
{
        char nm[VPS_SNAPSHOT_NAME_MAX + 1];
        int r = vps_snapshot_create_prepare(&d->m, vi, name, description, nm, err);
        if (r < 0)
                return r;
        struct copy_arg *a = arg_new(vi, NULL, nm, err);
        r = a ? vpsd_copy_start(d, req, vi, NULL, snapshot_fill, snapshot_end, a, err) : -err->code;
        if (r < 0) {
                free(a);
                (void)vps_snapshot_create_drop(&d->m, vi, nm);
                vpsd_trash_sweep_vps(d, vi);
        }
        return r;
}

/* ---- snapshot-switch */

static int switch_fill(struct vpsd *d, void *arg, struct vps_capture *cap, vps_error *err)
{
        struct copy_arg *a = arg;
        return vps_snapshot_switch_fill(&d->m, a->vi, a->name, &cap->copy, err);
}

static void switch_end(struct vpsd *d, void *arg, struct request *req, int r, vps_error *err,
                       const struct vps_capture *cap)
{
        (void)cap;
        struct copy_arg *a = arg;
        vps_error e;
        int f = vps_snapshot_switch_finish(&d->m, a->vi, a->name, r == 0, r < 0 ? &e : err);
        if (r == 0)
                r = f;
        vpsd_trash_sweep_vps(d, a->vi); /* the old layer, or what a failure left */
        json_t *ret = NULL;
        if (r < 0)
                vpsd_log("VPS %s: %s", a->vi->cfg.id, err->msg);
        else {
                vpsd_log("VPS %s: switched to snapshot %s", a->vi->cfg.id, a->name);
                ret = json_pack("{s:s, s:s, s:b}", "id", a->vi->cfg.id, "name", a->name, "switched",
                                1);
        }
        answer(d, req, r, err, ret, 200);
        free(a);
}

int vpsd_switch_begin(struct vpsd *d, struct request *req, struct vps_inst *vi, const char *name,
                      vps_error *err)
{
        int r = vps_snapshot_switch_prepare(&d->m, vi, name, err);
        if (r < 0)
                return r;
        struct copy_arg *a = arg_new(vi, NULL, name, err);
        r = a ? vpsd_copy_start(d, req, vi, NULL, switch_fill, switch_end, a, err) : -err->code;
        if (r < 0) {
                free(a);
                vps_error e;
                (void)vps_snapshot_switch_finish(&d->m, vi, name, false, &e);
                vpsd_trash_sweep_vps(d, vi);
        }
        return r;
}
