/* vpsd: create --node NAME|auto. The fleet's thread reads the nodes' records and picks one
 * (the rule: up, schedulable, has the template, room for the RAM and disk asked; the most
 * free RAM first, then the name); this node's create goes on here, another's is sent to its
 * remote API by a thread of its own (the fleet's thread keeps the lease alive meanwhile),
 * pinned to the key that node published in etcd, this node presenting its own certificate. */
#include "fleet_api.h"

#include "api.h"
#include "fleet.h"
#include "fleet_int.h"
#include "fleet/peer.h"
#include "log.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

static const char *str(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key)) ?: "";
}

void fleet_unfit(struct vpsd_fleet *f, const char *name, json_t *rec, json_t *drained, json_t *in,
                 char *why, size_t size)
{
        const char *tpl = str(in, "ostemplate");
        uint64_t ram = (uint64_t)json_integer_value(json_object_get(in, "ram"));
        uint64_t disk = (uint64_t)json_integer_value(json_object_get(in, "disk"));
        uint64_t ram_free = (uint64_t)json_integer_value(json_object_get(rec, "ram_free"));
        uint64_t disk_free = (uint64_t)json_integer_value(json_object_get(rec, "disk_free"));
        bool has = false;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(rec, "templates"), i, v) has =
                has || !strcmp(json_string_value(v) ?: "", tpl);
        why[0] = '\0';
        if (json_object_get(drained, name) || json_is_false(json_object_get(rec, "schedulable")))
                (void)snprintf(why, size, "drained");
        else if (strcmp(name, f->node) && !str(rec, "pubkey")[0])
                (void)snprintf(why, size, "no remote API (vpsd --listen)");
        else if (tpl[0] && !has)
                (void)snprintf(why, size, "no template %s", tpl);
        else if (ram_free < ram || ram_free == 0)
                (void)snprintf(why, size, "%.0f MiB RAM free, %.0f asked", ram_free / MIB,
                               ram / MIB);
        else if (disk_free < disk)
                (void)snprintf(why, size, "%.0f MiB disk free, %.0f asked", disk_free / MIB,
                               disk / MIB);
}

int fleet_pick(struct vpsd_fleet *f, json_t *live, json_t *drained, json_t *in, const char *exclude,
               vps_error *err)
{
        char reasons[900] = "", why[160];
        size_t used = 0;
        const char *name, *best = NULL;
        json_int_t best_free = -1;
        json_t *rec;
        json_object_foreach(live, name, rec)
        {
                if (exclude && !strcmp(name, exclude))
                        continue;
                fleet_unfit(f, name, rec, drained, in, why, sizeof(why));
                json_int_t free_ram = json_integer_value(json_object_get(rec, "ram_free"));
                if (!why[0] &&
                    (free_ram > best_free || (free_ram == best_free && strcmp(name, best) < 0))) {
                        best = name;
                        best_free = free_ram;
                } else if (why[0] && used < sizeof(reasons)) {
                        used += (size_t)snprintf(reasons + used, sizeof(reasons) - used, "%s%s: %s",
                                                 used ? "; " : "", name, why);
                }
        }
        if (!best)
                return vps_err(err, ENOSPC, "no node fits: %s", used ? reasons : "no node is up");
        json_object_set_new(in, "node", json_string(best));
        return 0;
}

int fleet_read_view(struct vpsd_fleet *f, json_t **live, json_t **members, json_t **drained,
                    vps_error *err)
{
        int r = fleet_read_kind(f, "nodes", live, err);
        if (r == 0)
                r = fleet_read_kind(f, "members", members, err);
        if (r == 0)
                r = fleet_read_kind(f, "drained", drained, err);
        return r;
}

static int place_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        _cleanup_json_ json_t *live = NULL, *members = NULL, *drained = NULL;
        int r = fleet_read_view(f, &live, &members, &drained, err);
        if (r < 0)
                return r;
        const char *node = str(t->in, "node");
        if (!strcmp(node, "auto") && (r = fleet_pick(f, live, drained, t->in, NULL, err)) < 0)
                return r;
        node = str(t->in, "node");
        json_t *rec = json_object_get(live, node);
        if (!rec && json_object_get(members, node))
                return vps_err(err, EHOSTDOWN, "node %s is down (its lease in etcd expired)", node);
        if (!rec)
                return vps_err(err, ENOENT, "node %s is not a node of this cluster", node);
        if (json_object_get(drained, node))
                return vps_err(err, EBUSY,
                               "node %s is drained (unschedulable): vpsctl node undrain %s first",
                               node, node);
        if (strcmp(node, f->node) && (!str(rec, "pubkey")[0] || !str(rec, "advertise")[0]))
                return vps_err(err, EOPNOTSUPP,
                               "node %s has no remote API to create on (vpsd --listen, "
                               "--advertise)",
                               node);
        json_object_set(t->in, "advertise", json_object_get(rec, "advertise"));
        json_object_set(t->in, "pubkey", json_object_get(rec, "pubkey"));
        return 0;
}

/* A create sent to another node, in a thread of its own. */
struct forward {
        struct vpsd_fleet *f;
        struct fleet_task *t;
        char cert[600], key[600];
};

static void *forward_main(void *arg)
{
        struct forward *fw = arg;
        struct vpsd_fleet *f = fw->f;
        struct fleet_task *t = fw->t;
        _cleanup_free_ char *body = json_dumps(json_object_get(t->in, "request"), JSON_COMPACT);
        struct fleet_peer_call c = {.url = str(t->in, "advertise"),
                                    .pin = str(t->in, "pubkey"),
                                    .cert = fw->cert,
                                    .key = fw->key,
                                    .method = "POST",
                                    .path = "/v1/vps",
                                    .body = body,
                                    .timeout = 600,
                                    .stop = &f->quit};
        long status = 0;
        char *answer = NULL;
        vps_err_clear(&t->err);
        t->r = body ? fleet_peer_request(&c, &status, &answer, &t->err)
                    : vps_err(&t->err, ENOMEM, "out of memory");
        if (t->r < 0)
                (void)vps_err_wrap(&t->err, "node %s", str(t->in, "node"));
        json_t *out = answer ? json_loads(answer, 0, NULL) : NULL;
        free(answer);
        if (t->r == 0 && !json_is_object(out))
                t->r = vps_err(&t->err, EPROTO, "node %s: its answer is not JSON",
                               str(t->in, "node"));
        const char *msg = json_string_value(json_object_get(out, "error"));
        if (t->r == 0 && status >= 400 && msg) /* the refusal says whose it is */
                json_object_set_new(out, "error",
                                    json_sprintf("node %s: %s", str(t->in, "node"), msg));
        if (t->r == 0) {
                json_object_set(out, "node", json_object_get(t->in, "node"));
                t->out = json_pack("{s:I, s:O}", "status", (json_int_t)status, "body", out);
        }
        json_decref(out);
        free(fw);
        vpsd_fleet_hand_back(f, t);
        pthread_mutex_lock(&f->mu);
        f->forwards--;
        pthread_cond_broadcast(&f->fwd_cv);
        pthread_mutex_unlock(&f->mu);
        return NULL;
}

static void forward_done(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0) {
                vpsd_log("cluster: create of VPS %s on node %s failed: %s", t->id,
                         str(t->in, "node"), t->err.msg);
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        unsigned int status = (unsigned int)json_integer_value(json_object_get(t->out, "status"));
        vpsd_log("cluster: create of VPS %s sent to node %s: %u", t->id, str(t->in, "node"),
                 status);
        vpsd_request_finish(d, t->req, status, json_incref(json_object_get(t->out, "body")));
}

static void place_done(struct vpsd *d, struct fleet_task *t)
{
        struct vpsd_fleet *f = d->fleet;
        vps_error err = {0};
        if (t->r < 0) {
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        if (!strcmp(str(t->in, "node"), f->node)) {
                /* This node: the create goes on here, as without --node. */
                unsigned int status = 500;
                json_t *ret = NULL;
                json_t *request = json_object_get(t->in, "request");
                json_object_set_new(request, "node", json_string(f->node));
                int r = t->again(d, t->req, NULL, request, &status, &ret, &err);
                if (r < 0)
                        vpsd_request_fail(d, t->req, &err);
                else if (r == 0)
                        vpsd_request_finish(d, t->req, status, ret);
                return;
        }
        struct fleet_task *n = vpsd_fleet_task(NULL, forward_done, t->req);
        struct forward *fw = n ? calloc(1, sizeof(*fw)) : NULL;
        if (fw) {
                *fw = (struct forward){.f = f, .t = n};
                (void)snprintf(fw->cert, sizeof(fw->cert), "%s/server.crt", d->auth.dir);
                (void)snprintf(fw->key, sizeof(fw->key), "%s/server.key", d->auth.dir);
                n->in = json_incref(t->in);
                memcpy(n->id, t->id, sizeof(n->id));
        }
        pthread_t th;
        pthread_attr_t a;
        (void)pthread_attr_init(&a);
        (void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&f->mu);
        int r = fw ? pthread_create(&th, &a, forward_main, fw) : ENOMEM;
        f->forwards += r == 0;
        pthread_mutex_unlock(&f->mu);
        (void)pthread_attr_destroy(&a);
        if (r != 0) {
                if (n)
                        json_decref(n->in);
                free(n);
                free(fw);
                vpsd_request_fail(d, t->req, &(vps_error){.code = r, .msg = "out of threads"});
        }
}

int vpsd_fleet_place(struct vpsd *d, struct request *req, json_t *request, const char *node,
                     const char *id, const char *ostemplate, uint64_t ram, uint64_t disk,
                     vpsd_place_again_fn again, vps_error *err)
{
        if (!d->fleet)
                return vps_err(err, EOPNOTSUPP,
                               "--node: this vpsd is not a node of a cluster (vpsd --cluster)");
        if (strcmp(node, "auto") && fleet_name_check(node, err) < 0)
                return vps_err_wrap(err, "--node");
        if (!strcmp(node, d->fleet->node))
                return 0;
        struct fleet_task *t = vpsd_fleet_task(place_run, place_done, req);
        if (t)
                t->in = json_pack("{s:O, s:s, s:s, s:I, s:I}", "request", request, "node", node,
                                  "ostemplate", ostemplate, "ram", (json_int_t)ram, "disk",
                                  (json_int_t)disk);
        if (!t || !t->in) {
                free(t);
                return vps_err(err, ENOMEM, "out of memory");
        }
        (void)snprintf(t->id, sizeof(t->id), "%s", id);
        t->again = again;
        vpsd_fleet_post(d, t);
        return 1;
}
