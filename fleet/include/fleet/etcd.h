/* libvpsfleet: an etcd v3 client through etcd's JSON gateway (POST /v3/kv/range, put, txn,
 * deleterange, /v3/lease/grant, keepalive, revoke, /v3/watch), keys and values base64 in
 * the JSON as the gateway wants them. libcurl and jansson, no gRPC. Every call blocks (up to
 * the client's timeout per endpoint): vpsd makes them from a thread of its own, never from
 * its loop. One client is used by one thread at a time. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json_t json_t;
struct etcd;

#define ETCD_MAX_ENDPOINTS 16

/* TLS to etcd (https:// endpoints): a CA file to check its certificate with (the system's
 * when empty), and a client certificate and key when etcd asks for one. */
struct etcd_tls {
        char cacert[256], cert[256], key[256];
};

/* urls: "http[s]://HOST:PORT[,...]", the cluster's client endpoints. */
int etcd_open(const char *urls, const struct etcd_tls *tls, struct etcd **ret, vps_error *err);
void etcd_close(struct etcd *e);
/* Per endpoint and request (default 3000 ms; connecting: at most a third of it). */
void etcd_set_timeout(struct etcd *e, unsigned int ms);
/* Tests: fn(arg) runs between two pages of etcd_range_pages (to compact the store there). */
void etcd_set_page_hook(struct etcd *e, void (*fn)(void *arg), void *arg);
void etcd_page_turned(struct etcd *e); /* etcd_range_pages' own call of it */
/* The endpoint the last request went to (after a failover: the one that answered). */
const char *etcd_endpoint(const struct etcd *e);

/* POSTs body to path (e.g. "/v3/kv/range") on the current endpoint, moving on to the next
 * one while an endpoint cannot be reached or answers that it cannot serve (no leader, no
 * quorum, timed out); when none can, fails with EHOSTUNREACH and "cluster unavailable: "
 * and each endpoint's reason. An error etcd gives for the request itself: EIO and its text
 * (ERANGE when it is that a revision asked for was compacted).
 * *ret: the answer's JSON object. */
int etcd_call(struct etcd *e, const char *path, json_t *body, json_t **ret, vps_error *err);

/* base64 (RFC 4648, with padding), as the gateway takes and gives bytes. */
char *etcd_b64(const void *data, size_t len);
/* Decodes text; NULL when it is not base64 or out of memory. *ret_len without the NUL that
 * ends the result. */
char *etcd_unb64(const char *text, size_t *ret_len);

/* A key-value as read: key and value decoded (value NUL-terminated). */
struct etcd_kv {
        char *key, *value;
        size_t value_len;
        int64_t create_rev, mod_rev, lease;
};
struct etcd_kvs {
        struct etcd_kv *v;
        size_t n;
        int64_t revision; /* of the store when read */
        bool more;        /* a limit cut it short */
        int64_t count;    /* keys in the range (all of them, whatever the limit) */
        int pages;        /* the range responses it took */
};
void etcd_kvs_free(struct etcd_kvs *k);

#define ETCD_PREFIX       (1u << 0) /* every key that starts with key */
#define ETCD_SERIALIZABLE (1u << 1) /* the member's own copy: answers without quorum */
#define ETCD_KEYS_ONLY    (1u << 2)
#define ETCD_COUNT_ONLY   (1u << 3) /* no keys: ret->count alone */

int etcd_range(struct etcd *e, const char *key, unsigned int flags, int64_t limit,
               struct etcd_kvs *ret, vps_error *err);
/* Every key of a prefix (ETCD_PREFIX; anything else as etcd_range), in range responses of at
 * most page keys each (0: ETCD_PAGE), each going on from the last key read, all at the
 * revision of the first: one consistent view, and no response that grows with the fleet.
 * Where etcd compacts that revision away between two pages, the read begins again at the
 * newest (three times at most; then ERANGE). */
#define ETCD_PAGE 1000
int etcd_range_pages(struct etcd *e, const char *key, unsigned int flags, int64_t page,
                     struct etcd_kvs *ret, vps_error *err);
int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease, vps_error *err);
/* *ret_deleted: how many keys went (may be NULL). */
int etcd_delete(struct etcd *e, const char *key, unsigned int flags, int64_t *ret_deleted,
                vps_error *err);

/* A transaction: if every compare holds, the success ops, else the failure ops. The arrays
 * are the gateway's JSON (made with the helpers below); *ret_ok says which ran. */
int etcd_txn(struct etcd *e, json_t *compare, json_t *success, json_t *failure, bool *ret_ok,
             json_t **ret_resp, vps_error *err);
/* Compare: key absent (its create revision 0); key's value equal to value; key's mod
 * revision equal to rev. */
json_t *etcd_cmp_absent(const char *key);
json_t *etcd_cmp_value(const char *key, const char *value);
json_t *etcd_cmp_mod(const char *key, int64_t rev);
json_t *etcd_op_put(const char *key, const char *value, int64_t lease);
json_t *etcd_op_delete(const char *key);
json_t *etcd_op_range(const char *key);

/* Leases: granted for ttl seconds; a keep-alive renews it and gives the TTL it now has (0:
 * the lease is gone: expired or revoked, ENOENT). */
int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *ret_id, vps_error *err);
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ret_ttl, vps_error *err);
int etcd_lease_revoke(struct etcd *e, int64_t id, vps_error *err);

/* A watch of key (a prefix with ETCD_PREFIX) from revision start_rev (0: from now), over the
 * gateway's stream: fn is called for each event (put: value set; delete: value NULL) until
 * it returns non-zero, *stop turns true (checked at least once a second) or the stream ends.
 * Returns 0, or a negative errno (the endpoint lost: call again from the last revision + 1). */
typedef int (*etcd_watch_fn)(const char *key, const char *value, int64_t mod_rev, void *userdata);
int etcd_watch(struct etcd *e, const char *key, unsigned int flags, int64_t start_rev,
               etcd_watch_fn fn, void *userdata, const volatile bool *stop, vps_error *err);
