/* vpsd: the other nodes as clients of the remote API. Each node publishes its remote-API
 * certificate's fingerprint in its live record (nodes/NAME); a client presenting one of
 * those certificates is that node, with a trusted certificate's power (create --node
 * forwards a create so). etcd is the fleet's root of trust: whoever can write its prefix can
 * make any certificate a node's (docs/security.md). The loop checks a cache the thread keeps;
 * an unknown certificate makes the thread read the records again (at most once a second),
 * the request waiting suspended meanwhile. */
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

#define PEERS_EVERY_S 60

static int peers_read(struct vpsd_fleet *f, vps_error *err)
{
        _cleanup_free_ char *k = fleet_key(f->prefix, "nodes", "", NULL);
        _cleanup_json_ json_t *o = json_object();
        if (!k || !o)
                return vps_err(err, ENOMEM, "out of memory");
        struct etcd_kvs kvs = {0};
        int r = etcd_range_pages(f->etcd, k, ETCD_PREFIX | ETCD_SERIALIZABLE, 0, &kvs, err);
        for (size_t i = 0; r == 0 && i < kvs.n; i++) {
                _cleanup_json_ json_t *rec = json_loads(kvs.v[i].value, 0, NULL);
                const char *fp = json_string_value(json_object_get(rec, "fingerprint"));
                if (fp && strlen(fp) == 64)
                        json_object_set_new(o, fp, json_string(kvs.v[i].key + strlen(k)));
        }
        etcd_kvs_free(&kvs);
        if (r < 0)
                return r;
        f->peers_read = time(NULL);
        pthread_mutex_lock(&f->mu);
        json_decref(f->peers);
        f->peers = TAKE_PTR(o);
        pthread_mutex_unlock(&f->mu);
        return 0;
}

void fleet_peers_tick(struct vpsd_fleet *f)
{
        vps_error err;
        if (f->joined && time(NULL) - f->peers_read >= PEERS_EVERY_S)
                (void)peers_read(f, &err);
}

bool vpsd_fleet_peer(struct vpsd *d, const char *fp)
{
        struct vpsd_fleet *f = d->fleet;
        if (!f)
                return false;
        pthread_mutex_lock(&f->mu);
        bool found = json_object_get(f->peers, fp) != NULL;
        pthread_mutex_unlock(&f->mu);
        return found;
}

static int lookup_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        if (time(NULL) - f->peers_read < 1)
                return 0;
        int r = peers_read(f, err);
        pthread_mutex_lock(&f->mu);
        json_t *name = json_object_get(f->peers, json_string_value(json_object_get(t->in, "fp")));
        t->out = name ? json_copy(name) : NULL;
        pthread_mutex_unlock(&f->mu);
        return r;
}

static void lookup_done(struct vpsd *d, struct fleet_task *t)
{
        if (json_is_string(t->out))
                vpsd_log("cluster: node %s's certificate known from a fresh read of the nodes",
                         json_string_value(t->out));
        vpsd_request_resume(d, t->req);
}

int vpsd_fleet_peer_lookup(struct vpsd *d, struct request *req, const char *fp)
{
        struct fleet_task *t = d->fleet ? vpsd_fleet_task(lookup_run, lookup_done, req) : NULL;
        if (t && !(t->in = json_pack("{s:s}", "fp", fp))) {
                free(t);
                t = NULL;
        }
        if (!t)
                return -ENOMEM;
        vpsd_fleet_post(d, t);
        return 0;
}
