/* vpsd: the API's side of the fleet. GET /v1/nodes and GET /v1/vps?all_nodes=1 read etcd's
 * records (serializable reads: a member without quorum still answers, maybe behind); a
 * create's claim is fleet_create.c's. Each is a task of the fleet's thread; the request waits
 * suspended, the loop goes on. */
#include "fleet_api.h"

#include "api.h"
#include "fleet.h"
#include "fleet_int.h"
#include "fleet/fleet.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
