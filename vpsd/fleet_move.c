/* vpsd: POST /v1/vps/ID/move, the fleet's side of `vpsctl migrate --to-node` (which moves
 * the VPS itself over the nodes' remote APIs). {"check": true}: the destination ("to": NAME,
 * or "auto": the placement rule without the source and drained nodes) checked (up, not
 * drained, a remote API, the template unless "full", room) and its address, key pin and
 * fingerprint answered with this node's certificate to present to it, after a quorum read of
 * the VPS's record (it is "from"'s: this node unless said). Without "check": the owner
 * records move from "from" to "to" in one compare-and-swap transaction (fleet_move). */
#include "fleet_api.h"

#include "api.h"
#include "fleet.h"
#include "fleet_int.h"
#include "fleet/fleet.h"
#include "log.h"
#include "vps/cleanup.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key)) ?: "";
}

/* The VPS's record read with quorum (a node cut off from the majority is refused here). */
static int owner(struct vpsd_fleet *f, const char *id, const char *from, vps_error *err)
{
        _cleanup_free_ char *vk = fleet_key(f->prefix, "vps", id, NULL);
        if (!vk)
                return vps_err(err, ENOMEM, "out of memory");
        struct etcd_kvs kvs = {0};
        int r = etcd_range(f->etcd, vk, 0, 1, &kvs, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *rec = kvs.n ? json_loads(kvs.v[0].value, 0, NULL) : NULL;
        etcd_kvs_free(&kvs);
        if (!rec)
                return vps_err(err, ENOENT, "VPS %s has no record in the cluster", id);
        if (strcmp(str(rec, "node"), from) != 0)
                return vps_err(err, EEXIST, "VPS %s is owned by node %s, not %s", id,
                               str(rec, "node"), from);
        return 0;
}

static int check_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        _cleanup_json_ json_t *live = NULL, *members = NULL, *drained = NULL;
        const char *from = str(t->in, "from");
        int r = owner(f, t->id, from, err);
        if (r == 0)
                r = fleet_read_view(f, &live, &members, &drained, err);
        if (r < 0)
                return r;
        if (json_is_true(json_object_get(t->in, "full")))
                json_object_set_new(t->in, "ostemplate", json_string(""));
        if (!strcmp(str(t->in, "to"), "auto")) {
                json_object_set(t->in, "node", json_object_get(t->in, "to"));
                if ((r = fleet_pick(f, live, drained, t->in, from, err)) < 0)
                        return r;
                json_object_set(t->in, "to", json_object_get(t->in, "node"));
        }
        const char *to = str(t->in, "to");
        json_t *rec = json_object_get(live, to);
        char why[160];
        if (!strcmp(to, from))
                return vps_err(err, EEXIST, "VPS %s is on node %s already", t->id, to);
        if (!rec && json_object_get(members, to))
                return vps_err(err, EHOSTDOWN, "node %s is down (its lease in etcd expired)", to);
        if (!rec)
                return vps_err(err, ENOENT, "node %s is not a node of this cluster", to);
        if (json_object_get(drained, to))
                return vps_err(err, EBUSY, "node %s is drained (unschedulable)", to);
        if (!str(rec, "pubkey")[0] || !str(rec, "advertise")[0] || !str(rec, "fingerprint")[0])
                return vps_err(err, EOPNOTSUPP,
                               "node %s has no remote API (vpsd --listen, --advertise)", to);
        fleet_unfit(f, to, rec, drained, t->in, why, sizeof(why));
        if (why[0])
                return vps_err(err, strncmp(why, "no template", 11) ? ENOSPC : ENOENT,
                               "node %s cannot take VPS %s: %s%s", to, t->id, why,
                               strncmp(why, "no template", 11) ? "" : " (--full carries it along)");
        t->out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O}", "node", to, "from", from, "self",
                           f->node, "advertise", str(rec, "advertise"), "pubkey",
                           str(rec, "pubkey"), "cert", json_object_get(t->in, "cert"), "key",
                           json_object_get(t->in, "key"));
        if (t->out)
                json_object_set(t->out, "fingerprint", json_object_get(rec, "fingerprint"));
        return t->out ? 0 : vps_err(err, ENOMEM, "out of memory");
}

static int move_run(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err)
{
        const char *from = str(t->in, "from"), *to = str(t->in, "to");
        _cleanup_free_ char *text = NULL;
        int r = fleet_move(f->etcd, f->prefix, t->id, from, to, str(t->in, "state"), &text, err);
        if (r < 0)
                return r;
        /* This node's view of what it owns, so its reconcile neither fights the move nor
         * logs it: a VPS still here but moved away is left alone until the next full read
         * (by which time it is removed here). */
        if (!strcmp(from, f->node))
                json_object_set_new(f->owned, t->id, json_pack("{s:b}", "conflict", 1));
        json_t *rec = !strcmp(to, f->node) && text ? json_loads(text, 0, NULL) : NULL;
        if (rec)
                json_object_set_new(f->owned, t->id, rec);
        t->out = json_pack("{s:s, s:s, s:s}", "id", t->id, "from", from, "node", to);
        return t->out ? 0 : vps_err(err, ENOMEM, "out of memory");
}

static void answer(struct vpsd *d, struct fleet_task *t)
{
        if (t->r < 0) {
                vpsd_request_fail(d, t->req, &t->err);
                return;
        }
        if (t->run == move_run)
                vpsd_log("cluster: VPS %s now owned by node %s (was %s)", t->id,
                         str(t->out, "node"), str(t->out, "from"));
        vpsd_request_finish(d, t->req, 200, t->out);
        t->out = NULL;
}

int vpsd_route_vps_move(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                        unsigned int *status, json_t **ret, vps_error *err)
{
        if (!d->fleet)
                return vps_err(err, EOPNOTSUPP,
                               "--to-node: this vpsd is not a node of a cluster (vpsd --cluster)");
        if (vps_id_check(arg, err) < 0)
                return -err->code;
        const char *to = str(body, "to"), *from = str(body, "from");
        if (!from[0])
                from = vpsd_fleet_node(d->fleet);
        if (strcmp(to, "auto") && fleet_name_check(to, err) < 0)
                return vps_err_wrap(err, "to");
        if (fleet_name_check(from, err) < 0)
                return vps_err_wrap(err, "from");
        bool check = json_is_true(json_object_get(body, "check"));
        struct fleet_task *t = vpsd_fleet_task(check ? check_run : move_run, answer, req);
        if (t)
                t->in = json_pack(
                        "{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:s+, s:s+}", "to", to, "from", from,
                        "state", str(body, "state"), "full",
                        json_is_true(json_object_get(body, "full")), "ostemplate",
                        str(body, "ostemplate"), "ram",
                        (json_int_t)json_integer_value(json_object_get(body, "ram")), "disk",
                        (json_int_t)json_integer_value(json_object_get(body, "disk")), "cert",
                        d->auth.dir, "/server.crt", "key", d->auth.dir, "/server.key");
        if (!t || !t->in) {
                free(t);
                return vps_err(err, ENOMEM, "out of memory");
        }
        (void)snprintf(t->id, sizeof(t->id), "%s", arg);
        vpsd_fleet_post(d, t);
        return 1;
}
