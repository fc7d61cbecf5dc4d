/* vpsd: node drain / undrain. A drained node has a key drained/NAME in etcd (no lease: it
 * outlives the node's restarts); create --node auto skips it, create --node NAME refuses it,
 * `nodes` shows it unschedulable. A drain answers the VPSes the node still owns, with what
 * vpsctl needs to move them (vpsctl node drain migrates each, on the drained node): this
 * node's name ("self"), the drained node's remote API ("advertise", "pubkey",
 * "fingerprint", when it is up) and this node's certificate to present to it. */
#include "fleet_api.h"

#include "api.h"
#include "fleet.h"
#include "fleet_int.h"
#include "log.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The node named t->id must be one etcd knows (a member or live). */
static int known(struct vpsd_fleet *f, const char *node, vps_error *err)
{
        _cleanup_json_ json_t *members = NULL, *live = NULL;
        int r = fleet_read_kind(f, "members", &members, err);
        if (r == 0)
                r = fleet_read_kind(f, "nodes", &live, err);
        if (r == 0 && !json_object_get(members, node) && !json_object_get(live, node))
                r = vps_err(err, ENOENT, "node %s is not a node of this cluster", node);
        return r;
}

static int drain_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        _cleanup_free_ char *k = fleet_key(f->prefix, "drained", t->id, NULL);
        _cleanup_free_ char *owners = fleet_key(f->prefix, "owners", t->id, "");
        _cleanup_json_ json_t *rec =
                json_pack("{s:I, s:s}", "since", (json_int_t)time(NULL), "by", f->node);
        _cleanup_free_ char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
        if (!k || !owners || !text)
                return vps_err(err, ENOMEM, "out of memory");
        int r = known(f, t->id, err);
        if (r == 0)
                r = etcd_put(f->etcd, k, text, 0, err);
        struct etcd_kvs kvs = {0};
        if (r == 0)
                r = etcd_range_pages(f->etcd, owners, ETCD_PREFIX | ETCD_KEYS_ONLY, 0, &kvs, err);
        if (r < 0)
                return r;
        json_t *ids = json_array();
        for (size_t i = 0; i < kvs.n; i++)
                json_array_append_new(ids, json_string(kvs.v[i].key + strlen(owners)));
        etcd_kvs_free(&kvs);
        _cleanup_json_ json_t *live = NULL;
        if ((r = fleet_read_kind(f, "nodes", &live, err)) < 0) {
                json_decref(ids);
                return r;
        }
        json_t *node = json_object_get(live, t->id);
        t->out = json_pack("{s:s, s:b, s:o, s:s, s:b, s:O}", "node", t->id, "schedulable", 0, "vps",
                           ids, "self", f->node, "up", node != NULL, "cert",
                           json_object_get(t->in, "cert"));
        if (!t->out)
                return vps_err(err, ENOMEM, "out of memory");
        json_object_set(t->out, "key", json_object_get(t->in, "key"));
        static const char *const keys[] = {"advertise", "pubkey", "fingerprint"};
        for (size_t i = 0; i < 3; i++)
                if (json_is_string(json_object_get(node, keys[i])))
                        json_object_set(t->out, keys[i], json_object_get(node, keys[i]));
        return 0;
}

static int undrain_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        _cleanup_free_ char *k = fleet_key(f->prefix, "drained", t->id, NULL);
        if (!k)
                return vps_err(err, ENOMEM, "out of memory");
        int r = known(f, t->id, err);
        if (r == 0)
                r = etcd_delete(f->etcd, k, 0, NULL, err);
        if (r < 0)
                return r;
        t->out = json_pack("{s:s, s:b}", "node", t->id, "schedulable", 1);
        return t->out ? 0 : vps_err(err, ENOMEM, "out of memory");
}

static void answer(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0) {
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        vpsd_log("cluster: node %s %s", t->id,
                 t->run == drain_run ? "drained (unschedulable)" : "undrained (schedulable)");
        vpsd_request_finish(d, t->req, 200, t->out);
        t->out = NULL;
}

static int post(struct vpsd *d, struct request *req, const char *node, fleet_run_fn run,
                vps_error *err)
{
        if (!d->fleet)
                return vps_err(err, EOPNOTSUPP,
                               "this vpsd is not a node of a cluster (vpsd --cluster)");
        if (fleet_name_check(node, err) < 0)
                return -err->code;
        struct fleet_task *t = vpsd_fleet_task(run, answer, req);
        if (!t)
                return vps_err(err, ENOMEM, "out of memory");
        (void)snprintf(t->id, sizeof(t->id), "%s", node);
        t->in = json_pack("{s:s+, s:s+}", "cert", d->auth.dir, "/server.crt", "key", d->auth.dir,
                          "/server.key");
        if (!t->in) {
                free(t);
                return vps_err(err, ENOMEM, "out of memory");
        }
        vpsd_fleet_post(d, t);
        return 1;
}

int vpsd_route_node_drain(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                          unsigned int *status, json_t **ret, vps_error *err)
{
        return post(d, req, arg, drain_run, err);
}

int vpsd_route_node_undrain(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err)
{
        return post(d, req, arg, undrain_run, err);
}
