/* vpsd: a create on a node of a fleet (fleet_api.h). Its ID and addresses are claimed in etcd
 * (the fleet's thread), the VPS is made here (the loop), then the claim becomes its record by a
 * transaction that holds only while the claim is still this node's (the thread, fleet_finish):
 * a claim lost meanwhile fails the create and the VPS made here goes again (the loop). Until
 * then the create is in flight (f->inflight): the reconcile neither releases nor rewrites
 * its records, whatever the snapshot it works from says. */
#include "fleet_api.h"

#include "api.h"
#include "fleet.h"
#include "fleet_int.h"
#include "fleet/fleet.h"
#include "log.h"
#include "reap.h"
#include "stop.h"
#include "trash.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The claim t's input describes (ID, addresses, nonce, time), for node in state. */
static void claim_of(struct fleet_task *t, const char *node, const char *state, const char *ips[64],
                     struct fleet_claim *c)
{
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(json_object_get(t->in, "ips"), i, v) if (n < 64) ips[n++] =
                json_string_value(v);
        *c = (struct fleet_claim){
                .id = t->id,
                .node = node,
                .state = state,
                .nonce = json_string_value(json_object_get(t->in, "nonce")),
                .ips = ips,
                .n_ips = n,
                .updated = json_integer_value(json_object_get(t->in, "updated")),
        };
}

static int claim_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        const char *ips[64];
        struct fleet_claim c;
        claim_of(t, f->node, "creating", ips, &c);
        /* The exact text the claim writes: what its finish compares. */
        _cleanup_free_ char *text = fleet_vps_record(&c);
        json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
        if (!rec)
                return vps_err(err, ENOMEM, "out of memory");
        int r = fleet_claim(f->etcd, f->prefix, &c, err);
        if (r < 0) {
                json_decref(rec);
                return r;
        }
        json_object_set_new(f->inflight, t->id, json_string(text));
        json_object_set_new(f->owned, t->id, rec); /* ours before it shows up here */
        return 0;
}

/* A create that did not happen gives its claim back. Its ID is marked seen (made here, or
 * not at all): should etcd not answer now, or the VPS still be here a while (killed first),
 * the reconcile releases what records it has once it is gone from here, rather than marking
 * them missing. */
static int release_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        json_object_del(f->inflight, t->id);
        json_object_set_new(f->seen, t->id, json_true());
        int r = fleet_release(f->etcd, f->prefix, t->id, f->node, err);
        if (r == 0 || r == -ENOENT || r == -EEXIST) { /* EEXIST: another node's by now */
                json_object_del(f->owned, t->id);
                return 0;
        }
        return r;
}

static void release_done(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0)
                vpsd_log("cluster: VPS %s: the claim of a failed create not released yet: %s",
                         t->id, t->err.msg);
}

static void give_back(struct vpsd *d, const char *id)
{
        struct fleet_task *rel = vpsd_fleet_task(release_run, release_done, NULL);
        if (!rel)
                return; /* the reconcile releases a stale "creating" claim (CREATING_GRACE) */
        (void)snprintf(rel->id, sizeof(rel->id), "%s", id);
        vpsd_fleet_post(d, rel);
}

/* The VPS of a create whose claim was lost, removed here: at once when stopped, else (started
 * meanwhile by another request) killed, then destroyed by its reap. */
static void remove_local(struct vpsd *d, const char *id)
{
        vps_error err;
        struct vps_inst *vi = vps_manager_find(&d->m, id, &err);
        if (!vi)
                return;
        struct vps_loop *l = vpsd_loop_of(vi);
        int r = 0;
        if (vi->status == VPS_STOPPED) {
                vpsd_forget_vps(d, vi);
                r = vpsd_destroy(d, vi, NULL, &err);
        } else if (!l || l->after != AFTER_NOTHING) {
                r = vps_err(&err, EBUSY, "busy with another request: left as it is");
        } else if ((r = vpsd_stop_begin(d, vi, true, 0, &err)) >= 0) {
                l->after = AFTER_DESTROY;
        }
        if (r < 0)
                vpsd_log("cluster: VPS %s: removing the create that lost its claim: %s", id,
                         err.msg);
        fleet_report_now(d); /* the thread's view: gone */
}

static int finish_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        const char *claimed = json_string_value(json_object_get(f->inflight, t->id));
        if (!claimed)
                return vps_err(err, ESTALE, "VPS %s: its claim in the cluster was given up", t->id);
        const char *ips[64];
        struct fleet_claim c;
        claim_of(t, f->node, json_string_value(json_object_get(t->in, "state")), ips, &c);
        c.updated = time(NULL);
        int r = fleet_finish(f->etcd, f->prefix, &c, claimed, err);
        if (r < 0)
                return r; /* in flight still: the loop removes the VPS, then gives it back */
        _cleanup_free_ char *text = fleet_vps_record(&c);
        json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
        if (rec)
                json_object_set_new(f->owned, t->id, rec);
        /* Made here: the reconcile releases its records once it is destroyed. */
        json_object_set_new(f->seen, t->id, json_true());
        json_object_del(f->inflight, t->id);
        return 0;
}

static void finish_done(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0) {
                vpsd_log("cluster: create of VPS %s undone: %s", t->id, t->err.msg);
                remove_local(d, t->id);
                give_back(d, t->id);
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        json_t *ret = json_incref(json_object_get(t->in, "answer"));
        if (json_is_true(json_object_get(t->in, "placed")))
                json_object_set_new(ret, "node", json_string(vpsd_fleet_node(d->fleet)));
        vpsd_request_finish(
                d, t->req, (unsigned int)json_integer_value(json_object_get(t->in, "status")), ret);
}

/* Tests only: VPS_TEST_FLEET_HOLD_MS (fleet_report.c) holds the loop between a create's
 * local part and its finish, as a loop that stalls there would. */
static void test_hold(struct vpsd_fleet *f, const char *id)
{
        if (!f->test_hold_ms)
                return;
        vpsd_log("test: holding the create of VPS %s %u ms (VPS_TEST_FLEET_HOLD_MS)", id,
                 f->test_hold_ms);
        struct timespec ts = {f->test_hold_ms / 1000, (f->test_hold_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
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
        struct vps_inst *vi = r < 0 ? NULL : vps_manager_find(&d->m, t->id, &err);
        if (r < 0) {
                json_decref(ret);
                give_back(d, t->id);
                vpsd_request_fail(d, t->req, &err);
                return;
        }
        /* The thread's view of what runs here has the VPS before the create is finished: no
         * sync after the finish takes it for destroyed from an older view. */
        fleet_report_now(d);
        test_hold(d->fleet, t->id);
        struct fleet_task *fin = vpsd_fleet_task(finish_run, finish_done, t->req);
        if (fin) {
                fin->in = TAKE_PTR(t->in);
                (void)snprintf(fin->id, sizeof(fin->id), "%s", t->id);
        }
        if (!fin || json_object_set_new(fin->in, "answer", ret) < 0 ||
            json_object_set_new(fin->in, "status", json_integer(status)) < 0 ||
            json_object_set_new(
                    fin->in, "state",
                    json_string(vi && vi->status != VPS_STOPPED ? "running" : "stopped")) < 0) {
                free(fin);
                remove_local(d, t->id);
                give_back(d, t->id);
                vpsd_request_fail(d, t->req, &(vps_error){ENOMEM, "out of memory"});
                return;
        }
        vpsd_fleet_post(d, fin);
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
                t->in = json_pack("{s:O, s:o?, s:s, s:b, s:I}", "request", request, "ips", list,
                                  "nonce", nonce, "placed", placed, "updated",
                                  (json_int_t)ts.tv_sec);
        if (!t || !t->in) {
                free(t);
                return vps_err(err, ENOMEM, "out of memory");
        }
        (void)snprintf(t->id, sizeof(t->id), "%s", id);
        t->create_local = local;
        vpsd_fleet_post(d, t);
        return 1;
}
