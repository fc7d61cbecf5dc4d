/* vpsd: the API endpoints (see docs/api.md), each a thin call into libvps. */
#include "handlers.h"

#include "events.h"
#include "migration_events.h"
#include "api.h"
#include "auth.h"
#include "metrics.h"
#include "remote_routes.h"
#include "backup.h"
#include "copy_job.h"
#include "fleet_api.h"
#include "jobs.h"
#include "list_view.h"
#include "log.h"
#include "pause_routes.h"
#include "suspend_routes.h"
#include "power_routes.h"
#include "starts.h"
#include "template_routes.h"
#include "vps/cleanup.h"
#include "templates/templates.h"
#include "storage/storage.h"
#include "guest/guest.h"
#include "config/config.h"
#include "sandbox/sandbox.h"
#include "core/core.h"
#include "net/net.h"
#include "snapshot_routes.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

/* rx_bytes, rx_packets, tx_bytes, tx_packets of VPS vi into obj: its totals over every run
 * (traffic.h), the live part from one counters query. */
static int by_id(const void *a, const void *b)
{
        return strcmp((*(struct vps_inst *const *)a)->cfg.id,
                      (*(struct vps_inst *const *)b)->cfg.id);
}

static json_t *ok_obj(const struct vpsd *d, struct vps_inst *vi)
{
        return vps_inst_to_json(&d->m, vi);
}

static int get_version(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        /* A test holds the loop here (a positive control for work done off it). */
        const char *stall = vpsd_request_arg(req, "stall");
        if (d->test_stall_ms && stall && !strcmp(stall, "1")) {
                vpsd_log("test: holding the loop %u ms (VPS_TEST_LOOP_STALL_MS)", d->test_stall_ms);
                struct timespec ts = {d->test_stall_ms / 1000,
                                      (d->test_stall_ms % 1000) * 1000000L};
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        /* And what a script needs to know of this vpsd: its PID, its root, and the bridged
         * network it hands out addresses from (quickstart picks VPS 101's there). */
        char subnet[64];
        ns_addr_format(&d->m.net.subnet, subnet, sizeof(subnet));
        (void)snprintf(subnet + strlen(subnet), sizeof(subnet) - strlen(subnet), "/%u",
                       d->m.net.subnet.prefix);
        *ret = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "version", VPS_VERSION, "api", "v1",
                         "pid", (json_int_t)getpid(), "root", d->m.root, "bridge", d->m.net.bridge,
                         "subnet", subnet, "netmode", vps_netmode_name(d->m.net.default_mode));
        /* Probed now: LXCFS may have come or gone since vpsd started. */
        struct vps_lxcfs_status lx;
        vps_lxcfs_probe(d->m.lxcfs, &lx);
        if (*ret)
                json_object_set_new(*ret, "lxcfs", vps_lxcfs_status_json(&lx));
        /* Probed at start-up (criu_probe.c): "probing" until that ends. */
        if (*ret)
                json_object_set_new(*ret, "checkpoint", vps_criu_status_json(&d->criu));
        return *ret ? 0 : vps_err(err, ENOMEM, "cannot format the version");
}

static int list_vps(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                    unsigned int *status, json_t **ret, vps_error *err)
{
        /* Sorted by ID as vzlist does; ?up=1: only VPSes that are up (running, stopping). */
        const char *up = vpsd_request_arg(req, "up"), *all = vpsd_request_arg(req, "all_nodes");
        if (all && strcmp(all, "0") != 0) { /* every node's, from the cluster's records */
                /* Not for a token: the fleet's other nodes and owners are the provider's. */
                const struct vpsd_client *c = vpsd_request_client(req);
                if (c && c->kind == VPSD_CLIENT_TOKEN)
                        return vps_err(err, EACCES, "a token may not list the fleet's VPSes");
                return vpsd_fleet_list_all(d, req, err);
        }
        /* ?stats=1: usage from each running VPS's cgroup (a few small reads per VPS, so only
         * when asked: `vpsctl list -o memory_current,...`). */
        const char *st = vpsd_request_arg(req, "stats");
        bool stats = st && strcmp(st, "0") != 0;
        if (!stats) { /* the common case as text, stopped VPSes' entries kept (list_view.c) */
                const char *pretty = vpsd_request_arg(req, "pretty");
                char *text;
                size_t len;
                int r = vpsd_list_text(d, vpsd_request_client(req), up && strcmp(up, "0") != 0,
                                       pretty && strcmp(pretty, "0") != 0, &text, &len, err);
                if (r < 0)
                        return r;
                vpsd_request_set_raw(req, text, len);
                *ret = json_array(); /* in its place: what a JSON answer is, never sent */
                return 0;
        }
        *ret = vps_manager_list_json(&d->m, up && strcmp(up, "0") != 0);
        _cleanup_json_ json_t *counters = vps_net_counters(&d->m, NULL);
        /* Each object's VPS by a binary search: a list of thousands stays linear-ish. */
        _cleanup_free_ struct vps_inst **v = calloc(d->m.n ? d->m.n : 1, sizeof(*v));
        if (v && d->m.n)
                memcpy(v, d->m.v, d->m.n * sizeof(*v));
        if (v)
                qsort(v, d->m.n, sizeof(*v), by_id);
        size_t i;
        json_t *o;
        json_array_foreach(*ret, i, o)
        {
                struct vps_inst key, *kp = &key, **hit = NULL;
                const char *id = json_string_value(json_object_get(o, "id"));
                if (v && id && strlen(id) < sizeof(key.cfg.id)) {
                        strcpy(key.cfg.id, id);
                        hit = bsearch(&kp, v, d->m.n, sizeof(*v), by_id);
                }
                vpsd_add_traffic(d, hit ? *hit : NULL, o, counters);
                vps_stats_flatten(o, json_string_value(json_object_get(o, "cgroup")));
        }
        return 0;
}

/* A plan's name into a change set: the one it was created with or last set to. */
static void change_plan(struct vps_change *ch, const char *plan)
{
        ch->given |= 1u << VPS_F_PLAN;
        (void)snprintf(ch->v.plan, sizeof(ch->v.plan), "%s", plan);
}

/* The local part of a create (with a cluster: once etcd holds its ID and addresses). */
static int create_local(struct vpsd *d, json_t *request, unsigned int *status, json_t **ret,
                        vps_error *err)
{
        /* A plan's fields under the request's own (plans.h). */
        char plan[VPS_PLAN_NAME_MAX + 1];
        bool plan_given;
        _cleanup_json_ json_t *body = NULL;
        int r = vps_plan_body(d->m.plans_dir, d->m.default_plan, request, true, plan, &plan_given,
                              &body, err);
        if (r < 0)
                return r;
        /* create = the defaults + a change set (config.h) */
        struct vps_config base;
        struct vps_change ch;
        vps_manager_new_config(&d->m, &base);
        if ((r = vps_change_from_json(body, &base, true, &ch, err)) < 0 ||
            (r = vpsd_job_check_busy(d, NULL, VPS_CHANGE_GIVEN(&ch, VPS_F_IP) && ch.v.n_ip > 0,
                                     err)) < 0)
                return r;
        if (plan[0])
                change_plan(&ch, plan);
        struct vps_inst *vi = NULL;
        if ((r = vps_manager_create(&d->m, &ch, &vi, err)) < 0)
                return r;
        vpsd_log("VPS %s created from %s%s%s", vi->cfg.id, vi->cfg.ostemplate,
                 plan[0] ? ", plan " : "", plan);
        vpsd_emit(d, "created", vi->cfg.id, NULL);
        *status = 201;
        *ret = ok_obj(d, vi);
        vpsd_report_warning(d, vi->cfg.id, *ret);
        return 0;
}

static int create_vps(struct vpsd *d, struct request *req, const char *arg, json_t *request,
                      unsigned int *status, json_t **ret, vps_error *err)
{
        /* "node": NAME or "auto" (create --node): placed by the fleet (fleet_place.c). */
        const char *node = json_string_value(json_object_get(request, "node"));
        _cleanup_json_ json_t *here = node ? json_copy(request) : NULL;
        if (node && !here)
                return vps_err(err, ENOMEM, "out of memory");
        if (here) {
                json_object_del(here, "node");
                request = here;
        }
        /* Checked here first: a bad request never reaches the cluster. */
        char plan[VPS_PLAN_NAME_MAX + 1];
        bool plan_given;
        _cleanup_json_ json_t *body = NULL;
        struct vps_config base;
        struct vps_change ch;
        vps_manager_new_config(&d->m, &base);
        int r = vps_plan_body(d->m.plans_dir, d->m.default_plan, request, true, plan, &plan_given,
                              &body, err);
        if (r == 0)
                r = vps_change_from_json(body, &base, true, &ch, err);
        if (r == 0 && (r = vps_id_check(ch.v.id, err)) == 0 &&
            vps_manager_find(&d->m, ch.v.id, err))
                r = vps_err(err, EEXIST, "VPS %s already exists", ch.v.id);
        if (r < 0)
                return r;
        const uint64_t *lim = ch.v.limits.v;
        if (node && (r = vpsd_fleet_place(
                             d, req, request, node, ch.v.id, ch.v.ostemplate,
                             lim[VPS_LIM_RAM] == VPS_LIMIT_NONE ? 0 : lim[VPS_LIM_RAM],
                             lim[VPS_LIM_DISKSPACE] == VPS_LIMIT_NONE ? 0 : lim[VPS_LIM_DISKSPACE],
                             create_vps, err)) != 0)
                return r;
        return vpsd_fleet_create(d, req, request, ch.v.id, ch.v.ip, ch.v.n_ip, create_local,
                                 node != NULL, status, ret, err);
}

static int get_vps(struct vpsd *d, struct request *req, const char *id, json_t *body,
                   unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        *ret = ok_obj(d, vi);
        _cleanup_json_ json_t *counters = vi->cfg.n_ip ? vps_net_counters(&d->m, vi) : NULL;
        vpsd_add_traffic(d, vi, *ret, counters);
        /* Where `vpsctl exec` hands its command's sysinfo listener (notify.c). */
        if (d->sysinfo_fd >= 0 && *ret)
                json_object_set_new(*ret, "sysinfo_socket", json_string(d->sysinfo_path));
        return 0;
}

/* Applies a checked change set: in the loop, or in a job when it enters the running guest. */
static int patch_apply(struct vpsd *d, struct vps_inst *vi, void *arg, vps_error *err)
{
        const struct vps_change *ch = arg;
        int r = vps_manager_update(&d->m, vi, ch, err);
        if (r < 0)
                return r;
        /* The password is never logged. */
        if (ch->userpasswd)
                vpsd_log("VPS %s: password of a user set", vi->cfg.id);
        if (ch->ssh_keys)
                vpsd_log("VPS %s: ssh key added to /root/.ssh/authorized_keys", vi->cfg.id);
        if (ch->reset_counters)
                vpsd_log("VPS %s: traffic counters reset", vi->cfg.id);
        return 0;
}

/* Whether the change enters a running guest: its files, its hostname, its eth0. A guest can
 * stall those (a FUSE mount over its /), so they run in a job, off the loop. */
static bool enters_guest(const struct vps_change *ch)
{
        for (unsigned int i = 0; i < VPS_F_COUNT; i++)
                if (((ch->given >> i) & 1u) && (vps_fields[i].flags & VPS_FIELD_GUEST))
                        return true;
        return ch->userpasswd || ch->ssh_keys;
}

static int patch_vps(struct vpsd *d, struct request *req, const char *id, json_t *request,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        /* Its images hold its running state: settings change once it runs again; only its
         * mark (an online migration's fence, set or lifted) changes meanwhile. */
        struct vps_loop *lc = vi->loop_data;
        bool mark_only = json_object_size(request) == 1 && json_object_get(request, "migrated_to");
        if ((vi->suspended && !mark_only) || (lc && lc->criu))
                return vps_err(err, EBUSY, "VPS %s is %s: resume it before changing its settings",
                               id, vi->suspended ? "suspended" : "being suspended or resumed");
        /* A migration's fence is for a source that does not run (stopped, or suspended with
         * its images): one that runs again (started while it was copied) stays the only copy,
         * and the migration rolls back. */
        const char *fence_arg = vpsd_request_arg(req, "fence");
        if (fence_arg && strcmp(fence_arg, "0") && vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY, "VPS %s runs here: not fenced for a migration", id);
        /* set --plan NAME: the plan's fields under the request's own, as on create. */
        char plan[VPS_PLAN_NAME_MAX + 1];
        bool plan_given;
        _cleanup_json_ json_t *body = NULL;
        int r = vps_plan_body(d->m.plans_dir, NULL, request, false, plan, &plan_given, &body, err);
        if (r < 0)
                return r;
        struct vps_change ch;
        if ((r = vps_change_from_json(body, &vi->cfg, false, &ch, err)) < 0)
                return r;
        if (plan_given)
                change_plan(&ch, plan);
        /* Everything it can refuse, before anything changes (a job cannot refuse cheaply). */
        bool addresses = VPS_CHANGE_GIVEN(&ch, VPS_F_IP);
        /* A paused guest would hold the change's helpers until their deadline. */
        if (enters_guest(&ch) &&
            (r = vps_manager_check_unpaused(
                     vi, "change its hostname, addresses, name servers or logins", err)) < 0)
                return r;
        if ((r = vps_manager_update_check(&d->m, vi, &ch, err)) < 0 ||
            (r = vpsd_job_check_busy(d, vi, addresses, err)) < 0)
                return r;
        if (vi->status == VPS_RUNNING && enters_guest(&ch))
                return vpsd_job_start(d, req, vi, addresses, patch_apply, &ch, err);
        if ((r = patch_apply(d, vi, &ch, err)) < 0)
                return r;
        vpsd_emit(d, "changed", id, NULL);
        /* vpsctl migrate's end: marked as migrated (--keep-src's last step), it runs there
         * now; "" (its roll-back of a stopped VPS), the migration under way failed. With
         * ?fence=1 the mark is the move's fence (set before the destination's copy starts),
         * not its end. */
        vps_error ignored;
        bool ends =
                VPS_CHANGE_GIVEN(&ch, VPS_F_MIGRATED_TO) && !(fence_arg && strcmp(fence_arg, "0"));
        if (ends && !ch.v.migrated_to[0])
                vpsd_migration_end(d, id, true, NULL,
                                   &(vps_error){ECANCELED, "rolled back: the VPS stays here"});
        else if (ends && vpsd_migration_peer_check("migrated_to", ch.v.migrated_to, &ignored) == 0)
                vpsd_migration_end(d, id, true, ch.v.migrated_to, NULL);
        *ret = ok_obj(d, vi);
        vpsd_report_warning(d, id, *ret);
        return 0;
}

static int stats_vps(struct vpsd *d, struct request *req, const char *id, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        if (vi->status == VPS_STOPPED)
                return vps_err(err, EALREADY, "VPS %s is not running", id);
        json_t *s = vps_cgroup_stats(vi->st.cgroup);
        if (!s)
                return vps_err(err, ENOMEM, "out of memory");
        json_object_set_new(s, "id", json_string(id));
        json_object_set_new(s, "limits", vps_limits_to_json(&vi->cfg.limits));
        vps_disk_usage_json(&d->m, &vi->cfg, s);
        json_object_set_new(s, "snapshots", vps_snapshot_usage(vi));
        /* The network group: the totals list -j shows. */
        _cleanup_json_ json_t *counters = vi->cfg.n_ip ? vps_net_counters(&d->m, vi) : NULL;
        json_t *net = json_object();
        vpsd_add_traffic(d, vi, net, counters);
        json_object_set_new(s, "network", net);
        *ret = s;
        return 0;
}

const struct vpsd_route vpsd_routes[] = {
        {"GET", "version", 0, NULL, VPSD_VERB_ANY, get_version},
        {"GET", "nodes", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_nodes},
        {"POST", "nodes", 2, "drain", VPSD_VERB_ADMIN, vpsd_route_node_drain},
        {"POST", "nodes", 2, "undrain", VPSD_VERB_ADMIN, vpsd_route_node_undrain},
        {"POST", "vps", 2, "move", VPSD_VERB_ADMIN, vpsd_route_vps_move},
        {"POST", "shutdown", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_shutdown},
        {"GET", "vps", 0, NULL, VPSD_VERB_STATUS, list_vps},
        {"POST", "vps", 0, NULL, VPSD_VERB_ADMIN, create_vps},
        {"GET", "vps", 1, NULL, VPSD_VERB_STATUS, get_vps},
        {"PATCH", "vps", 1, NULL, VPSD_VERB_ADMIN, patch_vps},
        {"DELETE", "vps", 1, NULL, VPSD_VERB_ADMIN, vpsd_route_destroy},
        {"POST", "vps", 2, "start", VPSD_VERB_START, vpsd_route_start},
        {"GET", "vps", 2, "stats", VPSD_VERB_STATUS, stats_vps},
        {"POST", "vps", 2, "stop", VPSD_VERB_STOP, vpsd_route_stop},
        {"POST", "vps", 2, "restart", VPSD_VERB_RESTART, vpsd_route_restart},
        {"POST", "vps", 2, "pause", VPSD_VERB_ADMIN, vpsd_route_pause},
        {"POST", "vps", 2, "unpause", VPSD_VERB_ADMIN, vpsd_route_unpause},
        {"POST", "vps", 2, "suspend", VPSD_VERB_ADMIN, vpsd_route_suspend},
        {"POST", "vps", 2, "resume", VPSD_VERB_ADMIN, vpsd_route_resume},
        {"GET", "templates", 0, NULL, VPSD_VERB_REINSTALL, vpsd_route_templates},
        {"POST", "templates", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_template_build},
        {"GET", "templates", 1, NULL, VPSD_VERB_ADMIN, vpsd_route_template},
        {"GET", "templates", 2, "build", VPSD_VERB_ADMIN, vpsd_route_template_status},
        {"DELETE", "templates", 1, NULL, VPSD_VERB_ADMIN, vpsd_route_template_remove},
        {"POST", "vps", 2, "snapshots", VPSD_VERB_SNAPSHOT, vpsd_snapshot_create},
        {"GET", "vps", 2, "snapshots", VPSD_VERB_SNAPSHOT, vpsd_snapshot_list},
        {"POST", "vps", 2, "snapshot-delete", VPSD_VERB_SNAPSHOT, vpsd_snapshot_delete},
        {"POST", "vps", 2, "snapshot-switch", VPSD_VERB_SNAPSHOT, vpsd_snapshot_switch},
        /* The admin's: the body names a host directory to mount on (a token's snapshot
         * mounted on /etc/ssh/sshd_config.d or /etc/udev/rules.d would run the guest's
         * files as host root). */
        {"POST", "vps", 2, "snapshot-mount", VPSD_VERB_ADMIN, vpsd_snapshot_mount},
        {"POST", "vps", 2, "snapshot-umount", VPSD_VERB_ADMIN, vpsd_snapshot_umount},
        {"POST", "vps", 2, "reinstall", VPSD_VERB_REINSTALL, vpsd_reinstall},
        {"POST", "vps", 2, "clone", VPSD_VERB_ADMIN, vpsd_clone},
        /* Answered by api.c before the table's functions (upgrades and streams); here for
         * their verbs. */
        {"POST", "vps", 2, "console", VPSD_VERB_CONSOLE, NULL},
        {"GET", "vps", 2, "console", VPSD_VERB_CONSOLE, NULL}, /* WebSocket (ws_console.c) */
        {"POST", "vps", 2, "backup", VPSD_VERB_BACKUP, NULL},
        {"POST", "vps", 2, "exec", VPSD_VERB_EXEC, NULL},
        {"POST", "restore", 0, NULL, VPSD_VERB_ADMIN, NULL},
        /* The event stream (events.c): a token's VPSes' events, with its status verb. */
        {"GET", "events", 0, NULL, VPSD_VERB_STATUS, NULL},
        /* The remote API's credentials and audit log (remote_routes.c). */
        {"GET", "trust", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_trust_list},
        {"POST", "trust", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_trust_add},
        {"DELETE", "trust", 1, NULL, VPSD_VERB_ADMIN, vpsd_route_trust_remove},
        {"GET", "tokens", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_token_list},
        {"POST", "tokens", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_token_create},
        {"DELETE", "tokens", 1, NULL, VPSD_VERB_ADMIN, vpsd_route_token_revoke},
        {"GET", "audit", 0, NULL, VPSD_VERB_ADMIN, vpsd_route_audit},
        /* Also at /metrics (api.c), where Prometheus looks. */
        {"GET", "metrics", 0, NULL, VPSD_VERB_METRICS, vpsd_route_metrics},
};
const size_t vpsd_n_routes = sizeof(vpsd_routes) / sizeof(vpsd_routes[0]);

/* Splits "/v1/WHAT[/ARG[/ACTION]]". */
static int split(const char *url, char *what, char *arg, char *action, int *n)
{
        char buf[256];
        if (strncmp(url, "/v1/", 4) != 0 || strlen(url) >= sizeof(buf))
                return -1;
        strcpy(buf, url + 4);
        char *save = NULL, *parts[4] = {0};
        int k = 0;
        for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (k == 3 || strlen(p) > 127)
                        return -1;
                parts[k++] = p;
        }
        if (k == 0)
                return -1;
        strcpy(what, parts[0]);
        strcpy(arg, parts[1] ? parts[1] : "");
        strcpy(action, parts[2] ? parts[2] : "");
        *n = k - 1;
        return 0;
}

int vpsd_handle(struct vpsd *d, struct request *req, const char *method, const char *url,
                const char *text, size_t len, unsigned int *status, json_t **ret)
{
        vps_error err = {0};
        char what[128], arg[128], action[128];
        int n = 0, r;
        _cleanup_json_ json_t *body = NULL;
        *status = 200;
        *ret = NULL;
        const struct vpsd_route *match = NULL;
        bool path_known = false;
        if (split(url, what, arg, action, &n) == 0)
                for (size_t i = 0; i < vpsd_n_routes; i++) {
                        const struct vpsd_route *rt = &vpsd_routes[i];
                        if (strcmp(rt->what, what) != 0 || rt->nparts != n ||
                            (rt->action && strcmp(rt->action, action) != 0))
                                continue;
                        path_known = true;
                        if (strcmp(rt->method, method) == 0 && rt->fn)
                                match = rt;
                }
        if (!match) {
                r = path_known ? vps_err(&err, EINVAL, "method %s not allowed on %s", method, url)
                               : vps_err(&err, ENOENT, "no such endpoint: %s %s", method, url);
        } else if (!strcmp(what, "vps") && n > 0 && strcmp(method, "GET") != 0 &&
                   vpsd_stream_busy(d, arg, &err) < 0) {
                r = -err.code; /* a backup or restore of it is under way (backup.c) */
        } else if (!strcmp(what, "vps") && n > 0 && strcmp(method, "GET") != 0 &&
                   vpsd_copy_busy(d, arg, !strcmp(method, "DELETE"), &err) < 0) {
                r = -err.code; /* a snapshot, switch, clone or reinstall is copying it (copy_job.c)
                                */
        } else if (!strcmp(what, "vps") && n > 0 && strcmp(method, "GET") != 0 &&
                   vpsd_start_busy(d, arg, &err) < 0) {
                r = -err.code; /* it is starting (starts.c) */
        } else if (!strcmp(what, "vps") && n > 0 && strcmp(method, "GET") != 0 &&
                   vpsd_criu_busy(d, arg, &err) < 0) {
                r = -err.code; /* it is being suspended or resumed (suspend_routes.c) */
        } else if (len > 0 && !(body = json_loadb(text, len, 0, NULL))) {
                r = vps_err(&err, EINVAL, "malformed JSON in the request body");
        } else if (body && !json_is_object(body)) {
                r = vps_err(&err, EINVAL, "the request body must be a JSON object");
        } else {
                if (!body)
                        body = json_object();
                r = match->fn(d, req, arg, body, status, ret, &err);
        }
        if (r == 1)
                return 1;
        if (r < 0) {
                *status = !match ? (path_known ? 405 : 404)
                                 : (unsigned int)vps_err_http_status(err.code);
                json_decref(*ret);
                *ret = json_pack("{s:s, s:i}", "error", err.msg, "errno", err.code);
        }
        return 0;
}

const struct vpsd_route *vpsd_route_find(const char *method, const char *url, char ret_arg[128])
{
        char what[128], action[128];
        int n = 0;
        if (split(url, what, ret_arg, action, &n) < 0)
                return NULL;
        for (size_t i = 0; i < vpsd_n_routes; i++) {
                const struct vpsd_route *rt = &vpsd_routes[i];
                if (!strcmp(rt->what, what) && rt->nparts == n &&
                    (!rt->action || !strcmp(rt->action, action)) && !strcmp(rt->method, method))
                        return rt;
        }
        return NULL;
}

int vpsd_handle_console_check(struct vpsd *d, const char *url, struct vps_inst **ret,
                              vps_error *err)
{
        char what[128], arg[128], action[128];
        int n = 0;
        if (split(url, what, arg, action, &n) < 0 || strcmp(what, "vps") != 0 || n != 2)
                return vps_err(err, ENOENT, "no such endpoint: POST %s", url);
        struct vps_inst *vi = vps_manager_find(&d->m, arg, err);
        if (!vi)
                return -err->code;
        if (vi->status == VPS_STOPPED)
                return vps_err(err, EALREADY, "VPS %s is not running", vi->cfg.id);
        int r = vps_manager_check_unpaused(vi, "use its console", err);
        if (r < 0)
                return r;
        if (vi->console_fd < 0)
                return vps_err(err, ENODEV,
                               "the console of VPS %s was lost when vpsd restarted; restart "
                               "the VPS to get it back",
                               vi->cfg.id);
        *ret = vi;
        return 0;
}
