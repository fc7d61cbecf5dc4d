/* vpsd: the node's records in etcd, kept by the fleet's thread (fleet_int.h). The node joins
 * with a lease (its live record nodes/NAME goes with it: the node shows down once the lease
 * expires) and keeps it alive; its VPS records follow what runs here. Reconciling after a
 * join: what runs is this node's truth, who owns what is etcd's; every difference is logged. */
#include "fleet_int.h"

#include "fleet.h"

#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL_EVERY_S   60  /* the owned records read back from etcd */
#define INFO_EVERY_S   30  /* the capacity record rewritten though only load or free RAM moved */
#define CREATING_GRACE 120 /* a claim whose create has not shown up here yet */

static const char *str(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static int join(struct vpsd_fleet *f, const char *info, vps_error *err)
{
        _cleanup_free_ char *mk = fleet_key(f->prefix, "members", f->node, NULL);
        _cleanup_free_ char *nk = fleet_key(f->prefix, "nodes", f->node, NULL);
        _cleanup_json_ json_t *m = json_pack("{s:s, s:s, s:I}", "name", f->node, "advertise",
                                             f->advertise, "joined", (json_int_t)time(NULL));
        _cleanup_free_ char *mtext = m ? json_dumps(m, JSON_COMPACT) : NULL;
        if (!mk || !nk || !mtext)
                return vps_err(err, ENOMEM, "out of memory");
        int64_t lease = 0;
        int r = etcd_lease_grant(f->etcd, f->ttl, &lease, err);
        if (r == 0)
                r = etcd_put(f->etcd, mk, mtext, 0, err);
        if (r == 0)
                r = etcd_put(f->etcd, nk, info, lease, err);
        if (r < 0) {
                vps_error e2;
                if (lease)
                        (void)etcd_lease_revoke(f->etcd, lease, &e2);
                return r;
        }
        f->lease = lease;
        f->joined = true;
        f->last_info = time(NULL);
        free(f->info_put);
        f->info_put = strdup(info);
        vpsd_fleet_log(f, "node %s up: lease %" PRIx64 " (TTL %u s) through %s", f->node,
                       (uint64_t)lease, f->ttl, etcd_endpoint(f->etcd));
        return 0;
}

/* Whether the node record must be written: what placement reads changed, or it is old. */
static bool info_due(struct vpsd_fleet *f, const char *info)
{
        if (!f->info_put || time(NULL) - f->last_info >= INFO_EVERY_S)
                return true;
        _cleanup_json_ json_t *a = json_loads(info, 0, NULL), *b = json_loads(f->info_put, 0, NULL);
        static const char *const keys[] = {"vps_count", "vps_running", "templates",
                                           "advertise", "fingerprint", "pubkey"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
                if ((x || y) && !json_equal(x, y)) /* json_equal of two NULLs is 0 */
                        return true;
        }
        return false;
}

/* The records of the VPSes this node owns, read back: owners/NODE/ID. */
static int read_owned(struct vpsd_fleet *f, vps_error *err)
{
        _cleanup_free_ char *ok = fleet_key(f->prefix, "owners", f->node, "");
        if (!ok)
                return vps_err(err, ENOMEM, "out of memory");
        struct etcd_kvs kvs = {0};
        int r = etcd_range_pages(f->etcd, ok, ETCD_PREFIX, 0, &kvs, err);
        if (r < 0)
                return r;
        json_object_clear(f->owned);
        unsigned int bad = 0;
        for (size_t i = 0; i < kvs.n; i++) {
                /* Whoever writes etcd chose these keys: an ID vpsd would refuse is neither
                 * acted on nor written into the log. */
                vps_error e2;
                if (vps_id_check(kvs.v[i].key + strlen(ok), &e2) < 0) {
                        bad++;
                        continue;
                }
                json_t *rec = json_loads(kvs.v[i].value, 0, NULL);
                json_object_set_new(f->owned, kvs.v[i].key + strlen(ok), rec ? rec : json_object());
        }
        etcd_kvs_free(&kvs);
        if (bad)
                vpsd_fleet_log(
                        f, "reconcile: %u records under %s with a key that is no VPS ID: ignored",
                        bad, ok);
        return 0;
}

static int update(struct vpsd_fleet *f, const char *id, const char *state, json_t *ips,
                  const char *nonce, vps_error *err)
{
        const char *list[64];
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(ips, i, v) if (json_is_string(v) && n < 64) list[n++] =
                json_string_value(v);
        struct fleet_claim c = {
                .id = id, .node = f->node, .state = state, .nonce = nonce, .ips = list, .n_ips = n};
        int r = fleet_update(f->etcd, f->prefix, &c, err);
        if (r >= 0) {
                _cleanup_free_ char *text = fleet_vps_record(&c);
                json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
                if (rec)
                        json_object_set_new(f->owned, id, rec);
        }
        return r;
}

/* One VPS that runs here: its record written when it differs. A VPS another node owns is
 * logged and marked so (until the next full read) rather than tried each second. */
static int sync_one(struct vpsd_fleet *f, json_t *v, bool full, bool force, vps_error *err)
{
        const char *id = str(v, "id"), *state = str(v, "state");
        json_t *ips = json_object_get(v, "ips");
        if (json_object_get(f->inflight, id))
                return 0; /* its create writes its record (fleet_create.c) */
        json_object_set_new(f->seen, id, json_true());
        json_t *rec = json_object_get(f->owned, id);
        if (rec && (json_is_true(json_object_get(rec, "conflict")) ||
                    (!force && !strcmp(str(rec, "state"), state) &&
                     json_equal(json_object_get(rec, "ips"), ips))))
                return 0;
        int r = update(f, id, state, ips, rec ? str(rec, "nonce") : "", err);
        /* Another node owns the ID, or holds an address this VPS was given here (a set
         * --ipadd, which claims nothing before the change): logged, and left until the next
         * full read, without holding up the other VPSes' records. */
        if (r == -EEXIST || r == -EADDRINUSE) {
                vpsd_fleet_log(f, "reconcile: VPS %s runs here but %s: left as it is", id,
                               err->msg);
                json_object_set_new(f->owned, id, json_pack("{s:b}", "conflict", 1));
                return 0;
        }
        if (r < 0)
                return r;
        if (!rec || r == 1)
                vpsd_fleet_log(
                        f, "reconcile: VPS %s is here without a record in the cluster: recorded",
                        id);
        else if (full && strcmp(str(rec, "state"), state) != 0)
                vpsd_fleet_log(f, "reconcile: VPS %s was %s in the cluster, is %s here", id,
                               str(rec, "state"), state);
        else if (full && !json_equal(json_object_get(rec, "ips"), ips))
                vpsd_fleet_log(f,
                               "reconcile: VPS %s: its addresses in the cluster brought up to date",
                               id);
        return 0;
}

/* One VPS the cluster says this node owns that is not here. */
static int sync_gone(struct vpsd_fleet *f, const char *id, json_t *rec, vps_error *err)
{
        /* In flight: made here, maybe not yet in the snapshot the sync works from. */
        if (json_is_true(json_object_get(rec, "conflict")) || json_object_get(f->inflight, id))
                return 0;
        json_int_t updated = json_integer_value(json_object_get(rec, "updated"));
        bool creating = !strcmp(str(rec, "state"), "creating");
        /* (seen: made here, so a claim still "creating" is of a VPS destroyed since.) */
        if (creating && !json_object_get(f->seen, id) && time(NULL) - updated < CREATING_GRACE)
                return 0;
        if (creating || json_object_get(f->seen, id)) {
                int r = fleet_release(f->etcd, f->prefix, id, f->node, err);
                if (r == -EEXIST) { /* another node's by now (moved there): none of it ours */
                        json_object_del(f->seen, id);
                        return 1;
                }
                if (r < 0 && r != -ENOENT)
                        return r;
                vpsd_fleet_log(f,
                               creating ? "VPS %s: a create claimed here never finished (vpsd "
                                          "stopped meanwhile?): its claim released"
                                        : "VPS %s destroyed: its ID and addresses released in "
                                          "the cluster",
                               id);
                json_object_del(f->seen, id);
                return 1; /* owned changed under the iteration */
        }
        if (!strcmp(str(rec, "state"), "missing"))
                return 0;
        vpsd_fleet_log(f,
                       "reconcile: the cluster says this node owns VPS %s, which is not here: "
                       "marked missing",
                       id);
        int r = update(f, id, "missing", json_object_get(rec, "ips"), str(rec, "nonce"), err);
        return r < 0 ? r : 0;
}

/* full: the owned records read back first; force: each VPS here written (after a join: a
 * record lost meanwhile in vps/ comes back). */
static int reconcile(struct vpsd_fleet *f, const char *local_text, bool full, bool force,
                     vps_error *err)
{
        _cleanup_json_ json_t *local = local_text ? json_loads(local_text, 0, NULL) : NULL;
        if (!local)
                return 0;
        int r = full ? read_owned(f, err) : 0;
        if (r < 0)
                return r;
        if (full)
                f->last_full = time(NULL);
        size_t i;
        json_t *v;
        json_array_foreach(local, i, v) if ((r = sync_one(f, v, full, force, err)) < 0) return r;
        _cleanup_json_ json_t *here = json_object();
        json_array_foreach(local, i, v) json_object_set_new(here, str(v, "id"), json_true());
        _cleanup_json_ json_t *owned = json_copy(f->owned);
        const char *id;
        json_object_foreach(owned, id, v)
        {
                if (json_object_get(here, id))
                        continue;
                r = sync_gone(f, id, v, err);
                if (r == 1)
                        json_object_del(f->owned, id);
                else if (r < 0)
                        return r;
        }
        return 0;
}

void fleet_sync(struct vpsd_fleet *f, bool keepalive)
{
        pthread_mutex_lock(&f->mu);
        _cleanup_free_ char *info = f->info ? strdup(f->info) : NULL;
        _cleanup_free_ char *local = f->local ? strdup(f->local) : NULL;
        pthread_mutex_unlock(&f->mu);
        if (!info)
                return;
        vps_error err;
        bool full = false, force = false;
        int64_t ttl = 0;
        if (f->joined && keepalive && etcd_lease_keepalive(f->etcd, f->lease, &ttl, &err) < 0) {
                if (err.code == ENOENT) {
                        /* Only nodes/NAME goes with it: claims and VPS records hold no
                         * lease, so none is lost (a create in flight finishes as usual). */
                        vpsd_fleet_log(f,
                                       "the lease of node %s expired (etcd out of reach, or "
                                       "this vpsd stalled, longer than its TTL): joining again",
                                       f->node);
                        f->joined = false;
                } else {
                        if (!f->down_logged)
                                vpsd_fleet_log(f, "keep-alive failed: %s (the VPSes here go on)",
                                               err.msg);
                        f->down_logged = true;
                        return;
                }
        }
        if (!f->joined) {
                if (!keepalive)
                        return; /* joins are tried at the keep-alive's pace */
                if (join(f, info, &err) < 0) {
                        if (!f->down_logged)
                                vpsd_fleet_log(f,
                                               "cannot join: %s (the VPSes here go on; trying "
                                               "again every %u s)",
                                               err.msg, f->ttl / 3 ? f->ttl / 3 : 1);
                        f->down_logged = true;
                        return;
                }
                full = force = true;
        } else if (f->down_logged && keepalive) {
                vpsd_fleet_log(f, "etcd answers again through %s", etcd_endpoint(f->etcd));
                full = true;
        }
        f->down_logged = false;
        _cleanup_free_ char *nk = fleet_key(f->prefix, "nodes", f->node, NULL);
        if (nk && info_due(f, info)) {
                if (etcd_put(f->etcd, nk, info, f->lease, &err) == 0) {
                        f->last_info = time(NULL);
                        free(f->info_put);
                        f->info_put = TAKE_PTR(info);
                }
        }
        if (time(NULL) - f->last_full >= FULL_EVERY_S)
                full = true;
        if (reconcile(f, local, full, force, &err) < 0)
                vpsd_fleet_log(f, "reconcile: %s", err.msg);
}

void fleet_leave(struct vpsd_fleet *f)
{
        vps_error err;
        if (f->joined && etcd_lease_revoke(f->etcd, f->lease, &err) == 0)
                f->joined = false;
}
