/* libvpsfleet: a VPS's ID and addresses claimed, updated and released by transactions on
 * etcd (fleet.h), so that no two nodes hold the same one. */
#include "fleet/fleet.h"
#include "json_cleanup.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of ips/ADDR: which VPS and node hold it (compared byte for byte on release). */
static char *ip_record(const char *id, const char *node)
{
        _cleanup_fjson_ json_t *o = json_pack("{s:s, s:s}", "node", node, "vps", id);
        return o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* The first record a range inside a transaction's answer found, as JSON; NULL: none. */
static json_t *txn_found(json_t *resp, size_t i)
{
        json_t *rr = json_object_get(json_array_get(json_object_get(resp, "responses"), i),
                                     "response_range");
        const char *v64 = json_string_value(
                json_object_get(json_array_get(json_object_get(rr, "kvs"), 0), "value"));
        _cleanup_free_ char *v = v64 ? etcd_unb64(v64, NULL) : NULL;
        return v ? json_loads(v, 0, NULL) : NULL;
}

static const char *str(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "?";
}

static int add(json_t *a, json_t *item, vps_error *err)
{
        if (!item || json_array_append_new(a, item) < 0)
                return vps_err(err, ENOMEM, "out of memory");
        return 0;
}

/* The ops that put vps/ID, owners/NODE/ID and ips/ADDR of each of c's addresses in ips. */
static int put_ops(const char *prefix, const struct fleet_claim *c, const char *const *ips,
                   size_t n_ips, json_t *ops, vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(prefix, "vps", c->id, NULL);
        _cleanup_free_ char *ok = fleet_key(prefix, "owners", c->node, c->id);
        _cleanup_free_ char *rec = fleet_vps_record(c), *iprec = ip_record(c->id, c->node);
        if (!vk || !ok || !rec || !iprec)
                return vps_err(err, ENOMEM, "out of memory");
        int r = add(ops, etcd_op_put(vk, rec, 0), err);
        if (r == 0)
                r = add(ops, etcd_op_put(ok, rec, 0), err);
        for (size_t i = 0; r == 0 && i < n_ips; i++) {
                _cleanup_free_ char *ik = fleet_key(prefix, "ips", ips[i], NULL);
                r = ik ? add(ops, etcd_op_put(ik, iprec, 0), err)
                       : vps_err(err, ENOMEM, "out of memory");
        }
        return r;
}

/* The transaction with c's puts (of addresses ips) added to ok: 1 when it went through, 0
 * when a compare failed (*ret_resp: the failure's answer), or a negative errno. */
static int put_and_run(struct etcd *e, const char *prefix, const struct fleet_claim *c,
                       const char *const *ips, size_t n_ips, json_t *cmp, json_t *ok, json_t *fail,
                       json_t **ret_resp, vps_error *err)
{
        int r = put_ops(prefix, c, ips, n_ips, ok, err);
        bool done = false;
        if (r == 0)
                r = etcd_txn(e, cmp, ok, fail, &done, ret_resp, err);
        return r < 0 ? r : done;
}

/* Why a claim's transaction failed: the holders its failure ranges found (from index at). */
static int refusal(json_t *resp, const struct fleet_claim *c, const char *const *ips, size_t n_ips,
                   size_t at, vps_error *err)
{
        for (size_t i = 0; i < n_ips; i++) {
                _cleanup_fjson_ json_t *o = txn_found(resp, at + i);
                if (o && strcmp(str(o, "vps"), c->id) != 0)
                        return vps_err(err, EADDRINUSE, "address %s is held by VPS %s on node %s",
                                       ips[i], str(o, "vps"), str(o, "node"));
        }
        return vps_err(err, EAGAIN, "VPS %s: its record changed meanwhile, try again", c->id);
}

int fleet_claim(struct etcd *e, const char *prefix, const struct fleet_claim *c, vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(prefix, "vps", c->id, NULL);
        _cleanup_fjson_ json_t *cmp = json_array(), *ok = json_array(), *fail = json_array();
        if (!vk || !cmp || !ok || !fail)
                return vps_err(err, ENOMEM, "out of memory");
        int r = add(cmp, etcd_cmp_absent(vk), err);
        if (r == 0)
                r = add(fail, etcd_op_range(vk), err);
        for (size_t i = 0; r == 0 && i < c->n_ips; i++) {
                _cleanup_free_ char *ik = fleet_key(prefix, "ips", c->ips[i], NULL);
                if (!ik)
                        return vps_err(err, ENOMEM, "out of memory");
                if ((r = add(cmp, etcd_cmp_absent(ik), err)) == 0)
                        r = add(fail, etcd_op_range(ik), err);
        }
        _cleanup_fjson_ json_t *resp = NULL;
        if (r == 0)
                r = put_and_run(e, prefix, c, c->ips, c->n_ips, cmp, ok, fail, &resp, err);
        if (r != 0)
                return r < 0 ? r : 0;
        _cleanup_fjson_ json_t *owner = txn_found(resp, 0);
        if (owner && c->nonce && c->nonce[0] && !strcmp(str(owner, "nonce"), c->nonce))
                return 0; /* ours: a retry of a transaction that went through */
        if (owner)
                return vps_err(err, EEXIST, "VPS %s already exists on node %s", c->id,
                               str(owner, "node"));
        return refusal(resp, c, c->ips, c->n_ips, 1, err);
}

int fleet_finish(struct etcd *e, const char *prefix, const struct fleet_claim *c,
                 const char *claimed, vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(prefix, "vps", c->id, NULL);
        _cleanup_free_ char *ok = fleet_key(prefix, "owners", c->node, c->id);
        _cleanup_free_ char *iprec = ip_record(c->id, c->node);
        _cleanup_fjson_ json_t *cmp = json_array(), *ops = json_array(), *fail = json_array();
        if (!vk || !ok || !iprec || !cmp || !ops || !fail)
                return vps_err(err, ENOMEM, "out of memory");
        /* A value compare on a key that is gone fails: a claim deleted is a claim lost. */
        int r = add(cmp, etcd_cmp_value(vk, claimed), err);
        if (r == 0)
                r = add(cmp, etcd_cmp_value(ok, claimed), err);
        if (r == 0)
                r = add(fail, etcd_op_range(vk), err);
        for (size_t i = 0; r == 0 && i < c->n_ips; i++) {
                _cleanup_free_ char *ik = fleet_key(prefix, "ips", c->ips[i], NULL);
                r = ik ? add(cmp, etcd_cmp_value(ik, iprec), err)
                       : vps_err(err, ENOMEM, "out of memory");
        }
        _cleanup_fjson_ json_t *resp = NULL;
        if (r == 0)
                r = put_and_run(e, prefix, c, c->ips, c->n_ips, cmp, ops, fail, &resp, err);
        if (r != 0)
                return r < 0 ? r : 0;
        _cleanup_fjson_ json_t *owner = txn_found(resp, 0);
        if (owner && strcmp(str(owner, "node"), c->node) != 0)
                return vps_err(err, EEXIST,
                               "VPS %s: this node's claim on it in the cluster was lost before "
                               "the create ended (node %s holds the ID now): not created",
                               c->id, str(owner, "node"));
        return vps_err(err, ESTALE,
                       "VPS %s: this node's claim on its ID and addresses in the cluster was "
                       "lost before the create ended: not created",
                       c->id);
}

static bool has(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(v[i], s))
                        return true;
        return false;
}

/* vps/ID's record (NULL: none) and its mod revision; EEXIST when a node other than node
 * owns it. */
static int read_own(struct etcd *e, const char *vk, const char *id, const char *node, json_t **ret,
                    int64_t *ret_rev, vps_error *err)
{
        struct etcd_kvs cur = {0};
        int r = etcd_range(e, vk, 0, 1, &cur, err);
        if (r < 0)
                return r;
        *ret = cur.n ? json_loads(cur.v[0].value, 0, NULL) : NULL;
        *ret_rev = cur.n ? cur.v[0].mod_rev : 0;
        etcd_kvs_free(&cur);
        if (*ret && strcmp(str(*ret, "node"), node) != 0) {
                r = vps_err(err, EEXIST, "VPS %s is owned by node %s", id, str(*ret, "node"));
                json_decref(*ret);
                *ret = NULL;
        }
        return r;
}

int fleet_update(struct etcd *e, const char *prefix, const struct fleet_claim *c, vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(prefix, "vps", c->id, NULL);
        if (!vk)
                return vps_err(err, ENOMEM, "out of memory");
        _cleanup_fjson_ json_t *old = NULL;
        int64_t rev = 0;
        int r = read_own(e, vk, c->id, c->node, &old, &rev, err);
        if (r < 0)
                return r;
        /* The addresses it gains are claimed, those it lost are let go. */
        const char *gain[64], *lose[64];
        size_t n_gain = 0, n_lose = 0;
        json_t *was = json_object_get(old, "ips"), *v;
        size_t i;
        json_array_foreach(was, i, v)
        {
                if (json_is_string(v) && !has(c->ips, c->n_ips, json_string_value(v)) &&
                    n_lose < 64)
                        lose[n_lose++] = json_string_value(v);
        }
        for (i = 0; i < c->n_ips && n_gain < 64; i++) {
                bool held = false;
                json_t *w;
                size_t j;
                json_array_foreach(was, j, w) held |=
                        !strcmp(json_string_value(w) ?: "", c->ips[i]);
                if (!held)
                        gain[n_gain++] = c->ips[i];
        }
        _cleanup_fjson_ json_t *cmp = json_array(), *ok = json_array(), *fail = json_array();
        if (!cmp || !ok || !fail)
                return vps_err(err, ENOMEM, "out of memory");
        r = add(cmp, old ? etcd_cmp_mod(vk, rev) : etcd_cmp_absent(vk), err);
        /* An address this VPS holds already (its vps/ record lost) is compared as held. */
        _cleanup_free_ char *iprec = ip_record(c->id, c->node);
        for (i = 0; r == 0 && i < n_gain; i++) {
                _cleanup_free_ char *ik = fleet_key(prefix, "ips", gain[i], NULL);
                struct etcd_kvs held = {0};
                if (!ik || !iprec)
                        return vps_err(err, ENOMEM, "out of memory");
                if ((r = etcd_range(e, ik, 0, 1, &held, err)) < 0)
                        return r;
                bool ours = held.n && !strcmp(held.v[0].value, iprec);
                etcd_kvs_free(&held);
                if ((r = add(cmp, ours ? etcd_cmp_value(ik, iprec) : etcd_cmp_absent(ik), err)) ==
                    0)
                        r = add(fail, etcd_op_range(ik), err);
        }
        for (i = 0; r == 0 && i < n_lose; i++) {
                _cleanup_free_ char *ik = fleet_key(prefix, "ips", lose[i], NULL);
                r = ik ? add(ok, etcd_op_delete(ik), err) : vps_err(err, ENOMEM, "out of memory");
        }
        _cleanup_fjson_ json_t *resp = NULL;
        if (r == 0)
                r = put_and_run(e, prefix, c, gain, n_gain, cmp, ok, fail, &resp, err);
        if (r != 0)
                return r < 0 ? r : !old;
        return refusal(resp, c, gain, n_gain, 0, err);
}

int fleet_release(struct etcd *e, const char *prefix, const char *id, const char *node,
                  vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(prefix, "vps", id, NULL);
        _cleanup_free_ char *ok = fleet_key(prefix, "owners", node, id),
                            *iprec = ip_record(id, node);
        if (!vk || !ok || !iprec)
                return vps_err(err, ENOMEM, "out of memory");
        _cleanup_fjson_ json_t *old = NULL;
        int64_t rev = 0;
        int r = read_own(e, vk, id, node, &old, &rev, err);
        if (r < 0 && r != -EEXIST)
                return r;
        /* vps/ID gone or another node's since (a claim lost): this node's owner record and
         * addresses may be left, and go, guarded by the owner record (vps/ID untouched). */
        bool by_owner = !old;
        vps_error theirs = {0};
        if (r == -EEXIST)
                theirs = *err;
        if (by_owner && (r = read_own(e, ok, id, node, &old, &rev, err)) < 0)
                return r;
        if (!old && theirs.code) {
                *err = theirs;
                return -EEXIST;
        }
        if (!old)
                return vps_err(err, ENOENT, "VPS %s has no record in the cluster", id);
        _cleanup_fjson_ json_t *cmp = json_array(), *ops = json_array();
        if (!cmp || !ops)
                return vps_err(err, ENOMEM, "out of memory");
        r = add(cmp, etcd_cmp_mod(by_owner ? ok : vk, rev), err);
        if (r == 0 && !by_owner)
                r = add(ops, etcd_op_delete(vk), err);
        if (r == 0)
                r = add(ops, etcd_op_delete(ok), err);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(old, "ips"), i, v)
        {
                _cleanup_free_ char *ik =
                        json_is_string(v) ? fleet_key(prefix, "ips", json_string_value(v), NULL)
                                          : NULL;
                struct etcd_kvs held = {0};
                if (r == 0 && ik && (r = etcd_range(e, ik, 0, 1, &held, err)) == 0 && held.n &&
                    !strcmp(held.v[0].value, iprec))
                        r = add(ops, etcd_op_delete(ik), err);
                etcd_kvs_free(&held);
        }
        bool done = false;
        if (r == 0)
                r = etcd_txn(e, cmp, ops, NULL, &done, NULL, err);
        if (r == 0 && !done)
                r = vps_err(err, EAGAIN, "VPS %s: its record changed meanwhile, try again", id);
        return r;
}

int fleet_move(struct etcd *e, const char *prefix, const char *id, const char *from, const char *to,
               const char *state, char **ret_rec, vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(prefix, "vps", id, NULL);
        _cleanup_free_ char *fk = fleet_key(prefix, "owners", from, id);
        if (!vk || !fk)
                return vps_err(err, ENOMEM, "out of memory");
        _cleanup_fjson_ json_t *old = NULL;
        int64_t rev = 0;
        int r = read_own(e, vk, id, from, &old, &rev, err);
        if (r < 0)
                return r;
        if (!old)
                return vps_err(err, ENOENT, "VPS %s has no record in the cluster", id);
        const char *ips[64];
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(json_object_get(old, "ips"), i, v) if (json_is_string(v) && n < 64)
                ips[n++] = json_string_value(v);
        struct fleet_claim c = {.id = id,
                                .node = to,
                                .state = state && state[0] ? state : str(old, "state"),
                                .nonce = str(old, "nonce"),
                                .ips = ips,
                                .n_ips = n};
        /* One transaction: the record unchanged since read (so still from's), from's owner
         * key gone, to's and the addresses' written: never two owners, never none. */
        _cleanup_fjson_ json_t *cmp = json_array(), *ok = json_array();
        if (!cmp || !ok)
                return vps_err(err, ENOMEM, "out of memory");
        r = add(cmp, etcd_cmp_mod(vk, rev), err);
        if (r == 0 && strcmp(from, to) != 0)
                r = add(ok, etcd_op_delete(fk), err);
        if (r == 0)
                r = put_and_run(e, prefix, &c, ips, n, cmp, ok, NULL, NULL, err);
        if (r == 0)
                return vps_err(err, EAGAIN, "VPS %s: its record changed meanwhile, try again", id);
        if (r < 0)
                return r;
        if (ret_rec && !(*ret_rec = fleet_vps_record(&c)))
                return vps_err(err, ENOMEM, "out of memory");
        return 0;
}
