/* libvpsfleet: etcd's key-value, transaction and lease calls over the JSON gateway (etcd.c),
 * the bytes base64 and the 64-bit numbers strings, as the gateway writes them. */
#include "fleet/etcd.h"
#include "json_cleanup.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *b64s(const char *text)
{
        char *b = etcd_b64(text, strlen(text));
        json_t *j = b ? json_string(b) : NULL;
        free(b);
        return j;
}

static json_t *num(int64_t v)
{
        char buf[24];
        (void)snprintf(buf, sizeof(buf), "%" PRId64, v);
        return json_string(buf);
}

static int64_t num_of(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        if (json_is_integer(v))
                return json_integer_value(v);
        return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

/* The end of the range of keys starting with key: key with its last byte one up. */
static json_t *prefix_end(const char *key)
{
        _cleanup_free_ char *end = strdup(key);
        if (!end || !*end)
                return end ? b64s("\0") : NULL;
        end[strlen(end) - 1]++;
        return b64s(end);
}

static json_t *key_req(const char *key, unsigned int flags)
{
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "key", b64s(key)) < 0) {
                json_decref(o);
                return NULL;
        }
        if ((flags & ETCD_PREFIX) && json_object_set_new(o, "range_end", prefix_end(key)) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

void etcd_kvs_free(struct etcd_kvs *k)
{
        for (size_t i = 0; k->v && i < k->n; i++) {
                free(k->v[i].key);
                free(k->v[i].value);
        }
        free(k->v);
        *k = (struct etcd_kvs){0};
}

static int kvs_from(json_t *reply, struct etcd_kvs *ret, vps_error *err)
{
        json_t *kvs = json_object_get(reply, "kvs");
        *ret = (struct etcd_kvs){0};
        ret->revision = num_of(json_object_get(reply, "header"), "revision");
        ret->more = json_is_true(json_object_get(reply, "more"));
        ret->count = num_of(reply, "count");
        size_t n = json_array_size(kvs);
        if (n && !(ret->v = calloc(n, sizeof(*ret->v))))
                return vps_err(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_t *kv = json_array_get(kvs, i);
                struct etcd_kv *o = &ret->v[ret->n];
                const char *k = json_string_value(json_object_get(kv, "key"));
                const char *v = json_string_value(json_object_get(kv, "value"));
                o->key = k ? etcd_unb64(k, NULL) : NULL;
                o->value = etcd_unb64(v ? v : "", &o->value_len);
                if (!o->key || !o->value) {
                        free(o->key);
                        free(o->value);
                        etcd_kvs_free(ret);
                        return vps_err(err, EBADMSG, "etcd: a record that is not base64");
                }
                o->create_rev = num_of(kv, "create_revision");
                o->mod_rev = num_of(kv, "mod_revision");
                o->lease = num_of(kv, "lease");
                ret->n++;
        }
        return 0;
}

static int range_call(struct etcd *e, json_t *req, unsigned int flags, int64_t limit, int64_t rev,
                      struct etcd_kvs *ret, vps_error *err)
{
        _cleanup_fjson_ json_t *reply = NULL;
        if (limit > 0)
                json_object_set_new(req, "limit", num(limit));
        if (rev > 0)
                json_object_set_new(req, "revision", num(rev));
        if (flags & ETCD_SERIALIZABLE)
                json_object_set_new(req, "serializable", json_true());
        if (flags & ETCD_KEYS_ONLY)
                json_object_set_new(req, "keys_only", json_true());
        if (flags & ETCD_COUNT_ONLY)
                json_object_set_new(req, "count_only", json_true());
        int r = etcd_call(e, "/v3/kv/range", req, &reply, err);
        return r < 0 ? r : kvs_from(reply, ret, err);
}

int etcd_range(struct etcd *e, const char *key, unsigned int flags, int64_t limit,
               struct etcd_kvs *ret, vps_error *err)
{
        _cleanup_fjson_ json_t *req = key_req(key, flags);
        if (!req)
                return vps_err(err, ENOMEM, "out of memory");
        int r = range_call(e, req, flags, limit, 0, ret, err);
        if (r == 0)
                ret->pages = 1;
        return r;
}

/* part's records moved to the end of all's. */
static int kvs_append(struct etcd_kvs *all, struct etcd_kvs *part, vps_error *err)
{
        if (!part->n)
                return 0;
        struct etcd_kv *v = realloc(all->v, (all->n + part->n) * sizeof(*v));
        if (!v)
                return vps_err(err, ENOMEM, "out of memory");
        memcpy(v + all->n, part->v, part->n * sizeof(*v));
        all->v = v;
        all->n += part->n;
        free(part->v);
        *part = (struct etcd_kvs){0};
        return 0;
}

/* The key just after key: key and a NUL byte. */
static json_t *key_after(const char *key)
{
        char *b = etcd_b64(key, strlen(key) + 1);
        json_t *j = b ? json_string(b) : NULL;
        free(b);
        return j;
}

/* One read of every page, all at the revision of the first. */
static int read_pages(struct etcd *e, const char *key, unsigned int flags, int64_t page,
                      struct etcd_kvs *ret, vps_error *err)
{
        *ret = (struct etcd_kvs){0};
        _cleanup_fjson_ json_t *end = prefix_end(key), *from = b64s(key);
        if (!end || !from)
                return vps_err(err, ENOMEM, "out of memory");
        for (;;) {
                struct etcd_kvs part = {0};
                if (ret->pages)
                        etcd_page_turned(e);
                _cleanup_fjson_ json_t *req =
                        json_pack("{s:O, s:O}", "key", from, "range_end", end);
                int r = req ? range_call(e, req, flags, page > 0 ? page : ETCD_PAGE, ret->revision,
                                         &part, err)
                            : vps_err(err, ENOMEM, "out of memory");
                if (r == 0 && !ret->pages++) { /* the later pages read at the first's revision */
                        ret->revision = part.revision;
                        ret->count = part.count;
                }
                bool more = r == 0 && part.more && part.n;
                if (r == 0)
                        r = kvs_append(ret, &part, err);
                etcd_kvs_free(&part);
                json_decref(from);
                from = r == 0 && more ? key_after(ret->v[ret->n - 1].key) : NULL;
                if (r == 0 && more && !from)
                        r = vps_err(err, ENOMEM, "out of memory");
                if (r < 0) {
                        etcd_kvs_free(ret);
                        return r;
                }
                if (!more)
                        return 0;
        }
}

int etcd_range_pages(struct etcd *e, const char *key, unsigned int flags, int64_t page,
                     struct etcd_kvs *ret, vps_error *err)
{
        if (!(flags & ETCD_PREFIX) || (flags & ETCD_COUNT_ONLY))
                return etcd_range(e, key, flags, 0, ret, err);
        int r = -ERANGE;
        for (int tries = 0; tries < 3 && r == -ERANGE; tries++)
                r = read_pages(e, key, flags, page, ret, err);
        return r;
}

int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease, vps_error *err)
{
        _cleanup_fjson_ json_t *req = etcd_op_put(key, value, lease), *reply = NULL;
        json_t *put = json_object_get(req, "request_put");
        if (!put)
                return vps_err(err, ENOMEM, "out of memory");
        return etcd_call(e, "/v3/kv/put", put, &reply, err);
}

int etcd_delete(struct etcd *e, const char *key, unsigned int flags, int64_t *ret_deleted,
                vps_error *err)
{
        _cleanup_fjson_ json_t *req = key_req(key, flags), *reply = NULL;
        if (!req)
                return vps_err(err, ENOMEM, "out of memory");
        int r = etcd_call(e, "/v3/kv/deleterange", req, &reply, err);
        if (r == 0 && ret_deleted)
                *ret_deleted = num_of(reply, "deleted");
        return r;
}

int etcd_txn(struct etcd *e, json_t *compare, json_t *success, json_t *failure, bool *ret_ok,
             json_t **ret_resp, vps_error *err)
{
        _cleanup_fjson_ json_t *req = json_object(), *reply = NULL;
        if (!req || !compare || !success || json_object_set(req, "compare", compare) < 0 ||
            json_object_set(req, "success", success) < 0 ||
            (failure && json_object_set(req, "failure", failure) < 0))
                return vps_err(err, ENOMEM, "out of memory");
        int r = etcd_call(e, "/v3/kv/txn", req, &reply, err);
        if (r < 0)
                return r;
        *ret_ok = json_is_true(json_object_get(reply, "succeeded"));
        if (ret_resp)
                *ret_resp = TAKE_PTR(reply);
        return 0;
}

static json_t *cmp(const char *key, const char *target, const char *field, json_t *value)
{
        json_t *o = json_pack("{s:o?, s:s, s:s, s:o?}", "key", b64s(key), "result", "EQUAL",
                              "target", target, field, value);
        return o;
}

json_t *etcd_cmp_absent(const char *key)
{
        return cmp(key, "CREATE", "create_revision", num(0));
}

json_t *etcd_cmp_value(const char *key, const char *value)
{
        return cmp(key, "VALUE", "value", b64s(value));
}

json_t *etcd_cmp_mod(const char *key, int64_t rev)
{
        return cmp(key, "MOD", "mod_revision", num(rev));
}

json_t *etcd_op_put(const char *key, const char *value, int64_t lease)
{
        json_t *put = json_pack("{s:o?, s:o?}", "key", b64s(key), "value", b64s(value));
        if (put && lease)
                json_object_set_new(put, "lease", num(lease));
        return put ? json_pack("{s:o}", "request_put", put) : NULL;
}

json_t *etcd_op_delete(const char *key)
{
        return json_pack("{s:o?}", "request_delete_range", key_req(key, 0));
}

json_t *etcd_op_range(const char *key)
{
        return json_pack("{s:o?}", "request_range", key_req(key, 0));
}

int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *ret_id, vps_error *err)
{
        _cleanup_fjson_ json_t *req = json_pack("{s:o?}", "TTL", num(ttl)), *reply = NULL;
        int r = req ? etcd_call(e, "/v3/lease/grant", req, &reply, err)
                    : vps_err(err, ENOMEM, "out of memory");
        if (r < 0)
                return r;
        if (!(*ret_id = num_of(reply, "ID")))
                return vps_err(err, EIO, "etcd granted no lease: %s",
                               json_string_value(json_object_get(reply, "error")) ?: "no ID");
        return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ret_ttl, vps_error *err)
{
        _cleanup_fjson_ json_t *req = json_pack("{s:o?}", "ID", num(id)), *reply = NULL;
        int r = req ? etcd_call(e, "/v3/lease/keepalive", req, &reply, err)
                    : vps_err(err, ENOMEM, "out of memory");
        if (r < 0)
                return r;
        /* A stream of one answer: {"result": {"ID", "TTL"}}; no TTL: the lease is gone. */
        json_t *res = json_object_get(reply, "result");
        *ret_ttl = num_of(res ? res : reply, "TTL");
        if (*ret_ttl <= 0)
                return vps_err(err, ENOENT, "etcd lease %" PRIx64 " has expired", (uint64_t)id);
        return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, vps_error *err)
{
        _cleanup_fjson_ json_t *req = json_pack("{s:o?}", "ID", num(id)), *reply = NULL;
        return req ? etcd_call(e, "/v3/lease/revoke", req, &reply, err)
                   : vps_err(err, ENOMEM, "out of memory");
}
