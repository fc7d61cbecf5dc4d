/* vpsd: the API's side of the fleet. GET /v1/nodes and GET /v1/vps?all_nodes=1 read etcd's
 * records (serializable reads: a member without quorum still answers, maybe behind), and a
 * create on a node of a fleet first claims its ID and addresses there. Each is a task of the
 * fleet's thread; the request waits suspended, the loop goes on. */
#include "fleet_api.h"

#include "api.h"
#include "fleet.h"
#include "fleet_int.h"
#include "fleet/fleet.h"
#include "log.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int no_cluster(vps_error *err)
{
        return vps_err(err, EOPNOTSUPP, "this vpsd is not a node of a cluster (vpsd --cluster)");
}

/* PREFIX/KIND/ (serializable) into an object NAME -> record. */
int fleet_read_kind(struct vpsd_fleet *f, const char *kind, json_t **ret, vps_error *err)
{
        _cleanup_free_ char *k = fleet_key(vpsd_fleet_prefix(f), kind, "", NULL);
        _cleanup_json_ json_t *o = json_object();
        if (!k || !o)
                return vps_err(err, ENOMEM, "out of memory");
        struct etcd_kvs kvs = {0};
        int r = etcd_range_pages(vpsd_fleet_etcd(f), k, ETCD_PREFIX | ETCD_SERIALIZABLE, 0, &kvs,
                                 err);
        for (size_t i = 0; r == 0 && i < kvs.n; i++) {
                json_t *rec = json_loads(kvs.v[i].value, 0, NULL);
                json_object_set_new(o, kvs.v[i].key + strlen(k), rec ? rec : json_object());
        }
        etcd_kvs_free(&kvs);
        if (r == 0)
                *ret = TAKE_PTR(o);
        return r;
}

/* How many VPSes the cluster says node owns: its owners/NODE/ keys, counted by etcd. */
static json_int_t owned_count(struct vpsd_fleet *f, const char *node)
{
        _cleanup_free_ char *k = fleet_key(f->prefix, "owners", node, "");
        struct etcd_kvs kvs = {0};
        vps_error err;
        if (!k || etcd_range(f->etcd, k, ETCD_PREFIX | ETCD_SERIALIZABLE | ETCD_COUNT_ONLY, 0, &kvs,
                             &err) < 0)
                return -1;
        json_int_t n = kvs.count;
        etcd_kvs_free(&kvs);
        return n;
}

static int nodes_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        _cleanup_json_ json_t *members = NULL, *live = NULL, *drained = NULL;
        int r = fleet_read_kind(f, "members", &members, err);
        if (r == 0)
                r = fleet_read_kind(f, "nodes", &live, err);
        if (r == 0)
                r = fleet_read_kind(f, "drained", &drained, err);
        if (r < 0)
                return r;
        /* A node known only by its live record (its member record lost) is listed too. */
        const char *name;
        json_t *v;
        json_object_foreach(live, name, v) if (!json_object_get(members, name))
                json_object_set_new(members, name, json_object());
        json_t *out = t->out = json_array();
        json_object_foreach(members, name, v)
        {
                json_t *info = json_object_get(live, name);
                json_t *o = info ? json_deep_copy(info) : json_pack("{s:s}", "name", name);
                json_object_set_new(o, "name", json_string(name));
                json_object_set_new(o, "state", json_string(info ? "up" : "down"));
                /* node drain: the cluster's word (drained/NAME), over the node's own */
                json_object_set_new(
                        o, "schedulable",
                        json_boolean(!json_object_get(drained, name) &&
                                     !json_is_false(json_object_get(o, "schedulable"))));
                /* One count per node (cheap in etcd: no key is sent), not a read of every
                 * VPS record of the fleet. */
                json_int_t n = owned_count(f, name);
                json_object_set_new(o, "vps_owned", n >= 0 ? json_integer(n) : json_null());
                if (!info)
                        json_object_set(o, "advertise",
                                        json_object_get(v, "advertise") ?: json_string(""));
                json_array_append_new(out, o);
        }
        return 0;
}

static void answer(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0) {
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        vpsd_request_finish(d, t->req, 200, t->out);
        t->out = NULL;
}

static int post(struct vpsd *d, struct request *req, fleet_run_fn run, vps_error *err)
{
        struct fleet_task *t = vpsd_fleet_task(run, answer, req);
        if (!t)
                return vps_err(err, ENOMEM, "out of memory");
        vpsd_fleet_post(d, t);
        return 1;
}

int vpsd_route_nodes(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        return d->fleet ? post(d, req, nodes_run, err) : no_cluster(err);
}

static int all_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        _cleanup_json_ json_t *live = NULL, *vps = NULL;
        int r = fleet_read_kind(f, "nodes", &live, err);
        if (r == 0)
                r = fleet_read_kind(f, "vps", &vps, err);
        if (r < 0)
                return r;
        json_t *out = t->out = json_array();
        const char *id;
        json_t *rec;
        json_object_foreach(vps, id, rec)
        {
                const char *node = json_string_value(json_object_get(rec, "node")) ?: "";
                const char *state = json_string_value(json_object_get(rec, "state")) ?: "unknown";
                json_array_append_new(
                        out, json_pack("{s:s, s:s, s:s, s:O*}", "id", id, "node", node, "status",
                                       json_object_get(live, node) ? state : "unknown", "ip",
                                       json_object_get(rec, "ips") ?: json_array()));
        }
        return 0;
}

int vpsd_fleet_list_all(struct vpsd *d, struct request *req, vps_error *err)
{
        return d->fleet ? post(d, req, all_run, err) : no_cluster(err);
}

/* A create: the claim (thread), then the local create (loop). */
static int claim_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        const char *ips[64];
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(json_object_get(t->in, "ips"), i, v) if (n < 64) ips[n++] =
                json_string_value(v);
        struct fleet_claim c = {.id = t->id,
                                .node = vpsd_fleet_node(f),
                                .state = "creating",
                                .nonce = json_string_value(json_object_get(t->in, "nonce")),
                                .ips = ips,
                                .n_ips = n};
        int r = fleet_claim(f->etcd, f->prefix, &c, err);
        _cleanup_free_ char *text = r == 0 ? fleet_vps_record(&c) : NULL;
        json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
        if (rec) /* the reconcile knows it is ours before it shows up here */
                json_object_set_new(f->owned, t->id, rec);
        return r;
}

static int release_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        int r = fleet_release(f->etcd, f->prefix, t->id, f->node, err);
        if (r == 0 || r == -ENOENT)
                json_object_del(f->owned, t->id);
        return r == -ENOENT ? 0 : r;
}

static void release_done(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0)
                vpsd_log("cluster: VPS %s: the claim of a failed create not released: %s", t->id,
                         t->err.msg);
}

/* A create claimed here went through: the reconcile is to release its claim when the VPS is
 * gone (destroyed), even when no sync saw it here in between. */
static int seen_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        (void)err;
        return json_object_set_new(f->seen, t->id, json_true()) < 0 ? -ENOMEM : 0;
}

static void seen_done(struct vpsd *d, struct fleet_task *t)
{
        (void)d;
        (void)t;
}

static void claim_done(struct vpsd *d, struct fleet_task *t)
{
        vps_error err = {0};
        if (t->r < 0) {
                if (t->err.code == EHOSTUNREACH)
                        vpsd_log("cluster: create of VPS %s refused: %s", t->id, t->err.msg);
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        unsigned int status = 201;
        json_t *ret = NULL;
        int r = t->create_local(d, json_object_get(t->in, "request"), &status, &ret, &err);
        if (r < 0) {
                json_decref(ret);
                struct fleet_task *rel = vpsd_fleet_task(release_run, release_done, NULL);
                if (rel) {
                        (void)snprintf(rel->id, sizeof(rel->id), "%s", t->id);
                        vpsd_fleet_post(d, rel);
                }
                vpsd_request_fail(d, t->req, &err);
                return;
        }
        struct fleet_task *seen = vpsd_fleet_task(seen_run, seen_done, NULL);
        if (seen) {
                (void)snprintf(seen->id, sizeof(seen->id), "%s", t->id);
                vpsd_fleet_post(d, seen);
        }
        if (json_is_true(json_object_get(t->in, "placed")))
                json_object_set_new(ret, "node", json_string(vpsd_fleet_node(d->fleet)));
        vpsd_request_finish(d, t->req, status, ret);
}

int vpsd_fleet_create(struct vpsd *d, struct request *req, json_t *request, const char *id,
                      const char (*ips)[46], unsigned int n_ips, vpsd_create_fn local, bool placed,
                      unsigned int *status, json_t **ret, vps_error *err)
{
        if (!d->fleet)
                return local(d, request, status, ret, err);
        struct fleet_task *t = vpsd_fleet_task(claim_run, claim_done, req);
        json_t *list = json_array();
        char nonce[64];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        (void)snprintf(nonce, sizeof(nonce), "%s-%d-%lld.%09ld", vpsd_fleet_node(d->fleet),
                       (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
        for (unsigned int i = 0; list && i < n_ips; i++)
                json_array_append_new(list, json_string(ips[i]));
        if (t)
                t->in = json_pack("{s:O, s:o?, s:s, s:b}", "request", request, "ips", list, "nonce",
                                  nonce, "placed", placed);
        if (!t || !t->in) {
                free(t);
                return vps_err(err, ENOMEM, "out of memory");
        }
        (void)snprintf(t->id, sizeof(t->id), "%s", id);
        t->create_local = local;
        vpsd_fleet_post(d, t);
        return 1;
}
