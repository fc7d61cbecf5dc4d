/* vpsd: the API endpoints (see docs/api.md), each a thin call into libvps. */
#include "handlers.h"

#include "api.h"
#include "backup.h"
#include "jobs.h"
#include "log.h"
#include "power_routes.h"
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
#include <string.h>

struct route {
        const char *method;
        const char *what;   /* "vps" or "templates" */
        int nparts;         /* path segments after /v1/<what> */
        const char *action; /* the third segment, or NULL */
        int (*fn)(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                  unsigned int *status, json_t **ret, vps_error *err);
};

/* rx_bytes, rx_packets, tx_bytes, tx_packets of VPS vi into obj: its totals over every run
 * (traffic.h), the live part from one counters query. */
static void add_traffic(struct vpsd *d, const struct vps_inst *vi, json_t *obj, json_t *counters)
{
        struct vps_traffic t;
        vps_error e;
        if (!vi || !obj)
                return;
        /* A failed save of a snapshot still leaves the total computed. */
        (void)vps_traffic_total(&d->m, vi, json_object_get(counters, vi->cfg.id), false, &t, &e);
        vps_traffic_to_json(&t, obj);
}

static int by_id(const void *a, const void *b)
{
        return strcmp((*(struct vps_inst *const *)a)->cfg.id,
                      (*(struct vps_inst *const *)b)->cfg.id);
}

static json_t *ok_obj(const struct vpsd *d, const struct vps_inst *vi)
{
        return vps_inst_to_json(&d->m, vi);
}

static int get_version(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
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
        return *ret ? 0 : vps_err(err, ENOMEM, "cannot format the version");
}

static int list_vps(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                    unsigned int *status, json_t **ret, vps_error *err)
{
        /* Sorted by ID as vzlist does; ?up=1: only VPSes that are up (running, stopping). */
        const char *up = vpsd_request_arg(req, "up");
        *ret = vps_manager_list_json(&d->m, up && strcmp(up, "0") != 0);
        _cleanup_json_ json_t *counters = vps_net_counters(&d->m, NULL);
        /* ?stats=1: usage from each running VPS's cgroup (a few small reads per VPS, so only
         * when asked: `vpsctl list -o memory_current,...`). */
        const char *st = vpsd_request_arg(req, "stats");
        bool stats = st && strcmp(st, "0") != 0;
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
                add_traffic(d, hit ? *hit : NULL, o, counters);
                if (stats)
                        vps_stats_flatten(o, json_string_value(json_object_get(o, "cgroup")));
        }
        return 0;
}

static const char *body_str(json_t *body, const char *key, bool *bad)
{
        json_t *v = json_object_get(body, key);
        if (v && !json_is_string(v) && !json_is_null(v))
                *bad = true;
        return json_string_value(v);
}

/* Reads a JSON array of address strings into ips (at most VPS_MAX_IPS). */
static int read_ips(json_t *arr, const char *key, char ips[][46], unsigned int *n, vps_error *err)
{
        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return vps_err(err, EINVAL, "'%s' must be an array of addresses", key);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                if (!json_is_string(v) || json_string_length(v) >= 46)
                        return vps_err(err, EINVAL, "'%s' must be an array of addresses", key);
                if (*n >= VPS_MAX_IPS)
                        return vps_err(err, EINVAL, "at most %d addresses per VPS", VPS_MAX_IPS);
                strcpy(ips[(*n)++], json_string_value(v));
        }
        return 0;
}

/* "nameserver": [...], "searchdomain": "a b" in a create or PATCH body. */
struct dns_req {
        bool given;
        char ns[VPS_MAX_IPS][46];
        unsigned int n;
        const char *search;
};

/* "nameserver": [...], "searchdomain": "a b", read and checked (nothing changes). */
static int read_dns(const struct vps_inst *vi, json_t *body, struct dns_req *q, vps_error *err)
{
        json_t *jns = json_object_get(body, "nameserver"),
               *js = json_object_get(body, "searchdomain");
        q->given = jns || js;
        q->n = 0;
        q->search = NULL;
        if (!q->given)
                return 0;
        if (js && !json_is_string(js))
                return vps_err(err, EINVAL, "'searchdomain' must be a string");
        if (!jns)
                for (; q->n < vi->cfg.n_ns; q->n++)
                        strcpy(q->ns[q->n], vi->cfg.nameserver[q->n]);
        q->search = json_string_value(js);
        int r = read_ips(jns, "nameserver", q->ns, &q->n, err);
        return r < 0 ? r : vps_dns_check(&vi->cfg, q->ns, q->n, q->search, err);
}

static int apply_dns(struct vpsd *d, struct vps_inst *vi, json_t *body, vps_error *err)
{
        struct dns_req q;
        int r = read_dns(vi, body, &q, err);
        if (r < 0 || !q.given)
                return r;
        return vps_manager_set_dns(&d->m, vi, q.ns, q.n, q.search, err);
}

/* "onboot": true/false, "bootorder": N, checked (nothing changes). */
static int check_boot(json_t *body, vps_error *err)
{
        json_t *ob = json_object_get(body, "onboot"), *bo = json_object_get(body, "bootorder");
        if ((ob && !json_is_boolean(ob)) || (bo && !json_is_integer(bo)))
                return vps_err(err, EINVAL,
                               "'onboot' must be a boolean and 'bootorder' an "
                               "integer");
        if (bo && (json_integer_value(bo) < -1000000 || json_integer_value(bo) > 1000000))
                return vps_err(err, ERANGE, "--bootorder must be within +-1000000");
        return 0;
}

static int apply_boot(struct vpsd *d, struct vps_inst *vi, json_t *body, vps_error *err)
{
        json_t *ob = json_object_get(body, "onboot"), *bo = json_object_get(body, "bootorder");
        if (!ob && !bo)
                return 0;
        int r = check_boot(body, err);
        if (r < 0)
                return r;
        int order = bo ? (int)json_integer_value(bo) : 0;
        return vps_manager_set_boot(&d->m, vi, ob ? json_is_true(ob) : -1, bo ? &order : NULL, err);
}

/* "netmode": "bridged"|"routed" (absent: *mode is left as it is). */
static int read_netmode(json_t *body, enum vps_netmode *mode, vps_error *err)
{
        json_t *j = json_object_get(body, "netmode");
        if (!j)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'netmode' must be \"bridged\" or \"routed\"");
        return vps_netmode_parse(json_string_value(j), mode, err);
}

/* "rate": "100mbit" as tc writes it, "unlimited", or bits per second as a number. */
static int read_rate(json_t *body, bool *given, uint64_t *bits, vps_error *err)
{
        json_t *j = json_object_get(body, "rate");
        *given = j != NULL;
        if (!j)
                return 0;
        if (json_is_integer(j)) {
                json_int_t n = json_integer_value(j);
                if (n != 0 && (n < 8000 || n > 400000000000))
                        return vps_err(err, ERANGE, "rate %lld is out of range (8kbit to 400gbit)",
                                       (long long)n);
                *bits = (uint64_t)n;
                return 0;
        }
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'rate' must be a string such as \"100mbit\"");
        return vps_rate_parse(json_string_value(j), bits, err);
}

/* "devnodes": "tun,fuse" or "none" (absent: *given stays false). */
static int read_devnodes(json_t *body, bool *given, char names[VPS_MAX_DEVNODES][8],
                         unsigned int *n, vps_error *err)
{
        json_t *j = json_object_get(body, "devnodes");
        *given = j != NULL;
        *n = 0;
        if (!j)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'devnodes' must be a string such as \"tun,fuse\"");
        int r = vps_devnodes_parse(json_string_value(j), names, err);
        if (r < 0)
                return r;
        *n = (unsigned int)r;
        return 0;
}

/* "features": "fuse:on,nesting" or "none", applied to cur (absent: *given stays false). */
static int read_features(json_t *body, unsigned int cur, bool *given, unsigned int *features,
                         vps_error *err)
{
        json_t *j = json_object_get(body, "features");
        *given = j != NULL;
        *features = cur;
        if (!j)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'features' must be a string such as \"fuse:on,tun\"");
        struct vps_features_change c;
        int r = vps_features_parse(json_string_value(j), &c, err);
        if (r == 0)
                *features = vps_features_apply(cur, &c);
        return r;
}

/* "forward": ["tcp:8080:80", ...] replaces the list ([] clears it). */
/* "forward": [...] read into fwd (*n of them); false when the body has none. */
static int read_forwards(json_t *body, char fwd[16][24], unsigned int *n, bool *given,
                         vps_error *err)
{
        json_t *jf = json_object_get(body, "forward");
        *given = jf != NULL;
        *n = 0;
        if (!jf)
                return 0;
        if (!json_is_array(jf) || json_array_size(jf) > 16)
                return vps_err(err, EINVAL, "'forward' must be an array of up to 16 strings");
        size_t i;
        json_t *v;
        json_array_foreach(jf, i, v)
        {
                if (!json_is_string(v) || json_string_length(v) >= sizeof(fwd[0]))
                        return vps_err(err, EINVAL, "invalid forward in 'forward'");
                strcpy(fwd[i], json_string_value(v));
        }
        *n = (unsigned int)json_array_size(jf);
        return 0;
}

/* The host ports new forwards would take: none a host socket holds; below 1024 only with
 * "force": true. fwd is checked and canonical (vps_net_check_forwards). */
static int check_forward_hosts(struct vpsd *d, const struct vps_inst *vi, json_t *body,
                               char fwd[][24], unsigned int n, vps_error *err)
{
        json_t *f = json_object_get(body, "force");
        if (f && !json_is_boolean(f))
                return vps_err(err, EINVAL, "'force' must be true or false");
        return vps_net_check_forward_hosts(&d->m, vi, fwd, n, json_is_true(f), err);
}

static int apply_forwards(struct vpsd *d, struct vps_inst *vi, json_t *body, vps_error *err)
{
        char fwd[16][24];
        unsigned int n;
        bool given;
        int r = read_forwards(body, fwd, &n, &given, err);
        if (r < 0 || !given)
                return r;
        if ((r = vps_net_check_forwards(&d->m, vi, &vi->cfg, fwd, n, err)) < 0 ||
            (r = check_forward_hosts(d, vi, body, fwd, n, err)) < 0)
                return r;
        return vps_manager_set_forwards(&d->m, vi, fwd, n, err);
}

/* The first key of body not in known (NULL-terminated), or NULL. */
static const char *unknown_key(json_t *body, const char *const *known)
{
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v)
        {
                size_t i = 0;
                while (known[i] && strcmp(known[i], key) != 0)
                        i++;
                if (!known[i])
                        return key;
        }
        return NULL;
}

static int create_vps(struct vpsd *d, struct request *req, const char *arg, json_t *request,
                      unsigned int *status, json_t **ret, vps_error *err)
{
        /* A plan's fields under the request's own (plans.h). */
        char plan[VPS_PLAN_NAME_MAX + 1];
        bool plan_given;
        _cleanup_json_ json_t *body = NULL;
        int r = vps_plan_body(d->m.plans_dir, d->m.default_plan, request, true, plan, &plan_given,
                              &body, err);
        if (r < 0)
                return r;
        static const char *const known[] = {
                "id",         "ostemplate",   "hostname", "ip",       "limits",
                "nameserver", "searchdomain", "forward",  "onboot",   "bootorder",
                "netmode",    "rate",         "devnodes", "features", "force", NULL};
        const char *unknown = unknown_key(body, known);
        if (unknown)
                return vps_err(err, EINVAL, "cannot create with '%.60s'", unknown);
        bool bad = false;
        const char *id = body_str(body, "id", &bad);
        const char *tpl = body_str(body, "ostemplate", &bad);
        const char *host = body_str(body, "hostname", &bad);
        if (bad || !id || !tpl)
                return vps_err(err, EINVAL, "create needs string fields 'id' and 'ostemplate'");
        char ips[VPS_MAX_IPS][46];
        unsigned int n = 0;
        enum vps_netmode mode = d->m.net.default_mode;
        uint64_t rate = 0;
        bool rate_given;
        r = read_ips(json_object_get(body, "ip"), "ip", ips, &n, err);
        if (r == 0)
                r = vpsd_job_check_busy(d, NULL, n > 0, err);
        if (r == 0)
                r = read_netmode(body, &mode, err);
        if (r == 0)
                r = read_rate(body, &rate_given, &rate, err);
        char dev[VPS_MAX_DEVNODES][8];
        unsigned int n_dev = 0;
        bool dev_given;
        if (r == 0)
                r = read_devnodes(body, &dev_given, dev, &n_dev, err);
        unsigned int feat = 0;
        bool feat_given;
        if (r == 0)
                r = read_features(body, 0, &feat_given, &feat, err);
        struct vps_inst *vi = NULL;
        struct vps_limits lim;
        vps_limits_init(&lim);
        json_t *jl = json_object_get(body, "limits");
        if (r == 0 && jl && !json_is_object(jl))
                r = vps_err(err, EINVAL, "'limits' must be an object");
        if (r == 0 && jl)
                r = vps_limits_update(&lim, jl, err);
        if (r == 0)
                r = vps_manager_create(&d->m, id, tpl, host, mode, ips, n, &lim, &vi, err);
        if (r == 0 &&
            ((r = apply_dns(d, vi, body, err)) < 0 || (r = apply_forwards(d, vi, body, err)) < 0 ||
             (r = apply_boot(d, vi, body, err)) < 0 ||
             (rate && (r = vps_manager_set_rate(&d->m, vi, rate, err)) < 0) ||
             (n_dev && (r = vps_manager_set_devnodes(&d->m, vi, dev, n_dev, err)) < 0) ||
             (feat && (r = vps_config_set_features(vi->dir_fd, &vi->cfg, feat, err)) < 0) ||
             (plan[0] && (r = vps_config_set_plan(vi->dir_fd, &vi->cfg, plan, err)) < 0))) {
                vps_error e; /* all or nothing: the VPS goes again */
                (void)vps_manager_destroy(&d->m, vi, &e);
        }
        if (r < 0)
                return r;
        vpsd_log("VPS %s created from %s%s%s", id, tpl, plan[0] ? ", plan " : "", plan);
        *status = 201;
        *ret = ok_obj(d, vi);
        vpsd_report_warning(d, id, *ret);
        return 0;
}

static int get_vps(struct vpsd *d, struct request *req, const char *id, json_t *body,
                   unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        *ret = ok_obj(d, vi);
        _cleanup_json_ json_t *counters = vi->cfg.n_ip ? vps_net_counters(&d->m, vi) : NULL;
        add_traffic(d, vi, *ret, counters);
        /* Where `vpsctl exec` hands its command's sysinfo listener (notify.c). */
        if (d->sysinfo_fd >= 0 && *ret)
                json_object_set_new(*ret, "sysinfo_socket", json_string(d->sysinfo_path));
        return 0;
}

/* ipadd appends, ipdel removes (["all"] removes every address); ip replaces the list. */
static int patch_ips(struct vpsd *d, struct vps_inst *vi, enum vps_netmode mode, json_t *body,
                     char ips[][46], unsigned int *ret_n, bool *ret_changed, vps_error *err)
{
        *ret_changed = false;
        json_t *jip = json_object_get(body, "ip"), *jadd = json_object_get(body, "ipadd"),
               *jdel = json_object_get(body, "ipdel");
        if (!jip && !jadd && !jdel)
                return 0;
        char del[VPS_MAX_IPS][46];
        unsigned int n = 0, nd = 0;
        int r = 0;
        if (jip)
                r = read_ips(jip, "ip", ips, &n, err);
        for (unsigned int i = 0; !jip && i < vi->cfg.n_ip; i++)
                strcpy(ips[n++], vi->cfg.ip[i]);
        if (r == 0)
                r = read_ips(jdel, "ipdel", del, &nd, err);
        for (unsigned int i = 0; r == 0 && i < nd; i++) {
                if (strcmp(del[i], "all") == 0) {
                        n = 0;
                        continue;
                }
                struct ns_addr a, b;
                if ((r = ns_addr_parse(del[i], &a, err)) < 0)
                        break;
                unsigned int k = 0;
                for (unsigned int j = 0; j < n; j++)
                        if (ns_addr_parse(ips[j], &b, err) < 0 || !ns_addr_equal(&a, &b))
                                memmove(ips[k++], ips[j], sizeof(ips[j]));
                if (k == n)
                        r = vps_err(err, ENOENT, "VPS %s has no address %s", vi->cfg.id, del[i]);
                n = k;
        }
        if (r == 0)
                r = read_ips(jadd, "ipadd", ips, &n, err);
        /* Checked here so that nothing is applied when the list is refused. */
        if (r == 0)
                r = vps_net_check_ips(&d->m, vi, mode, ips, n, err);
        *ret_n = n;
        *ret_changed = r == 0;
        return r;
}

/* The PATCH fields not checked on their own before: DNS, forwards (against the addresses the
 * VPS will have, ips when they change), boot order, and the form of the logins. A PATCH is
 * all or nothing: nothing is applied before all of it has passed. */
struct patch_rest {
        struct dns_req dns;
        char fwd[16][24];
        unsigned int n_fwd;
        bool fwd_given;
};

/* Read into *q, which the PATCH then applies as it is. */
static int check_rest(struct vpsd *d, const struct vps_inst *vi, json_t *body,
                      enum vps_netmode mode, char ips[][46], unsigned int n_ip, json_t *pw,
                      json_t *keys, struct patch_rest *q, vps_error *err)
{
        int r = read_dns(vi, body, &q->dns, err);
        if (r < 0 || (r = check_boot(body, err)) < 0)
                return r;
        if ((r = read_forwards(body, q->fwd, &q->n_fwd, &q->fwd_given, err)) < 0)
                return r;
        if (q->fwd_given) {
                struct vps_config next = vi->cfg;
                next.netmode = mode;
                if (ips) {
                        for (unsigned int i = 0; i < n_ip; i++)
                                strcpy(next.ip[i], ips[i]);
                        next.n_ip = n_ip;
                }
                if ((r = vps_net_check_forwards(&d->m, vi, &next, q->fwd, q->n_fwd, err)) < 0 ||
                    (r = check_forward_hosts(d, vi, body, q->fwd, q->n_fwd, err)) < 0)
                        return r;
        }
        if ((pw && !json_is_string(pw)) || (keys && !json_is_string(keys)))
                return vps_err(err, EINVAL, "'userpasswd' and 'ssh_key' must be strings");
        if (pw && (r = vps_userpasswd_check(json_string_value(pw), err)) < 0)
                return r;
        _cleanup_free_ char *k = NULL;
        if (keys && (r = vps_keys_add("", json_string_value(keys), &k, err)) < 0)
                return vps_err_wrap(err, "--ssh-key");
        return 0;
}

/* A PATCH, checked: what patch_apply then applies as it is. */
struct patch {
        json_t *body, *h, *jl, *pw, *keys;
        char plan[VPS_PLAN_NAME_MAX + 1]; /* "plan": the name saved, "" for none */
        bool plan_given;
        char ips[VPS_MAX_IPS][46];
        unsigned int n_ip;
        bool ips_changed, rate_given, dev_given, feat_given, reset_counters;
        enum vps_netmode mode;
        uint64_t rate;
        char dev[VPS_MAX_DEVNODES][8];
        unsigned int n_dev, feat;
        struct patch_rest rest;
};

/* Everything a PATCH can refuse, checked before anything changes. */
static int patch_check(struct vpsd *d, struct vps_inst *vi, json_t *body, struct patch *p,
                       vps_error *err)
{
        const char *id = vi->cfg.id;
        static const char *const known[] = {
                "hostname",     "ip",      "ipadd",    "ipdel",     "limits",     "nameserver",
                "searchdomain", "forward", "onboot",   "bootorder", "userpasswd", "ssh_key",
                "netmode",      "rate",    "devnodes", "features",  "reset_counters",
                "force",        NULL};
        const char *unknown = unknown_key(body, known);
        if (unknown)
                return vps_err(err, EINVAL, "cannot set '%.60s'", unknown);
        p->body = body;
        json_t *rc = json_object_get(body, "reset_counters");
        if (rc && !json_is_boolean(rc))
                return vps_err(err, EINVAL, "'reset_counters' must be true or false");
        p->reset_counters = json_is_true(rc);
        json_t *h = p->h = json_object_get(body, "hostname");
        if (h && !json_is_string(h))
                return vps_err(err, EINVAL, "'hostname' must be a string");
        /* Check the hostname before anything changes, so a bad one changes nothing. */
        json_t *jl = p->jl = json_object_get(body, "limits");
        if (jl && !json_is_object(jl))
                return vps_err(err, EINVAL, "'limits' must be an object");
        /* Validate what can be validated up front, so a bad value changes nothing. */
        struct vps_limits probe = vi->cfg.limits;
        int r = h ? vps_hostname_check(json_string_value(h), err) : 0;
        if (r == 0 && jl)
                r = vps_limits_update(&probe, jl, err);
        /* and whether this host can enforce them (applied only once everything passed) */
        char ignored[sizeof(d->m.warning)];
        if (r == 0 && jl)
                r = vps_cgroup_check_limits(&d->m.cg, &probe, !d->m.enforce_warn, ignored,
                                            sizeof(ignored), err);
        if (r == 0 && jl)
                r = vps_disk_check(&d->m, &probe, err);
        p->mode = vi->cfg.netmode;
        if (r == 0)
                r = read_netmode(body, &p->mode, err);
        if (r == 0)
                r = read_rate(body, &p->rate_given, &p->rate, err);
        if (r == 0 && p->mode != vi->cfg.netmode && vi->status != VPS_STOPPED)
                r = vps_err(err, EBUSY, "VPS %s is running: stop it to change its netmode", id);
        if (r == 0)
                r = read_devnodes(body, &p->dev_given, p->dev, &p->n_dev, err);
        if (r == 0 && p->dev_given && vi->status != VPS_STOPPED)
                r = vps_err(err, EBUSY, "VPS %s is running: stop it to change --devnodes", id);
        if (r == 0)
                r = read_features(body, vi->cfg.features, &p->feat_given, &p->feat, err);
        /* (The features it has already, as a plan set again names them, change nothing.) */
        if (r == 0 && p->feat_given && p->feat != vi->cfg.features && vi->status != VPS_STOPPED)
                r = vps_err(err, EBUSY, "VPS %s is running: stop it to change --features", id);
        if (r == 0)
                r = patch_ips(d, vi, p->mode, body, p->ips, &p->n_ip, &p->ips_changed, err);
        p->pw = json_object_get(body, "userpasswd");
        p->keys = json_object_get(body, "ssh_key");
        if (r == 0)
                r = check_rest(d, vi, body, p->mode, p->ips_changed ? p->ips : NULL, p->n_ip, p->pw,
                               p->keys, &p->rest, err);
        return r;
}

/* Applies a checked PATCH: in the loop, or in a job when it enters the running guest. */
static int patch_apply(struct vpsd *d, struct vps_inst *vi, void *arg, vps_error *err)
{
        struct patch *p = arg;
        const char *id = vi->cfg.id;
        int r = 0;
        /* Logins first: what is left to refuse there is the guest's own files (no such
         * user), before any other change. The password is never logged. */
        if (p->pw &&
            (r = vps_manager_set_userpasswd(&d->m, vi, json_string_value(p->pw), err)) == 0)
                vpsd_log("VPS %s: password of a user set", id);
        if (r == 0 && p->keys &&
            (r = vps_manager_add_ssh_keys(&d->m, vi, json_string_value(p->keys), err)) == 0)
                vpsd_log("VPS %s: ssh key added to /root/.ssh/authorized_keys", id);
        if (r == 0 && p->mode != vi->cfg.netmode) {
                r = vps_manager_set_netmode(&d->m, vi, p->mode, p->ips_changed ? p->ips : NULL,
                                            p->n_ip, err);
                p->ips_changed = false;
        }
        struct dns_req *dns = &p->rest.dns;
        if (r == 0 && dns->given)
                r = vps_manager_set_dns(&d->m, vi, dns->ns, dns->n, dns->search, err);
        char warning[sizeof(d->m.warning)] = "";
        if (r == 0 && p->jl && (r = vps_manager_set_limits(&d->m, vi, p->jl, err)) == 0)
                memcpy(warning, d->m.warning, sizeof(warning));
        if (r == 0 && p->ips_changed)
                r = vps_manager_set_ips(&d->m, vi, p->ips, p->n_ip, err);
        if (r == 0 && p->rest.fwd_given)
                r = vps_manager_set_forwards(&d->m, vi, p->rest.fwd, p->rest.n_fwd, err);
        if (r == 0)
                r = apply_boot(d, vi, p->body, err);
        if (r == 0 && p->rate_given)
                r = vps_manager_set_rate(&d->m, vi, p->rate, err);
        if (r == 0 && p->dev_given)
                r = vps_manager_set_devnodes(&d->m, vi, p->dev, p->n_dev, err);
        if (r == 0 && p->feat_given)
                r = vps_config_set_features(vi->dir_fd, &vi->cfg, p->feat, err);
        if (r == 0 && p->h)
                r = vps_manager_set_hostname(&d->m, vi, json_string_value(p->h), err);
        if (r == 0 && p->plan_given)
                r = vps_config_set_plan(vi->dir_fd, &vi->cfg, p->plan, err);
        if (r == 0 && p->reset_counters && (r = vps_traffic_reset(&d->m, vi, err)) == 0)
                vpsd_log("VPS %s: traffic counters reset", id);
        memcpy(d->m.warning, warning, sizeof(warning));
        return r;
}

/* The fields whose change enters a running guest: its files, its hostname, its eth0. A guest
 * can stall those (a FUSE mount over its /), so they run in a job, off the loop. */
static bool enters_guest(const struct patch *p)
{
        static const char *const keys[] = {"hostname",     "userpasswd", "ssh_key", "nameserver",
                                           "searchdomain", "ip",         "ipadd",   "ipdel"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (json_object_get(p->body, keys[i]))
                        return true;
        return false;
}

static int patch_vps(struct vpsd *d, struct request *req, const char *id, json_t *request,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        struct patch p = {0};
        /* set --plan NAME: the plan's fields under the request's own, as on create. */
        _cleanup_json_ json_t *body = NULL;
        int r = vps_plan_body(d->m.plans_dir, NULL, request, false, p.plan, &p.plan_given, &body,
                              err);
        if (r < 0)
                return r;
        r = patch_check(d, vi, body, &p, err);
        bool addresses = p.ips_changed;
        if (r == 0)
                r = vpsd_job_check_busy(d, vi, addresses, err);
        if (r < 0)
                return r;
        if (vi->status == VPS_RUNNING && enters_guest(&p))
                return vpsd_job_start(d, req, vi, addresses, patch_apply, &p, err);
        if ((r = patch_apply(d, vi, &p, err)) < 0)
                return r;
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
        add_traffic(d, vi, net, counters);
        json_object_set_new(s, "network", net);
        *ret = s;
        return 0;
}

static const struct route routes[] = {
        {"GET", "version", 0, NULL, get_version},
        {"POST", "shutdown", 0, NULL, vpsd_route_shutdown},
        {"GET", "vps", 0, NULL, list_vps},
        {"POST", "vps", 0, NULL, create_vps},
        {"GET", "vps", 1, NULL, get_vps},
        {"PATCH", "vps", 1, NULL, patch_vps},
        {"DELETE", "vps", 1, NULL, vpsd_route_destroy},
        {"POST", "vps", 2, "start", vpsd_route_start},
        {"GET", "vps", 2, "stats", stats_vps},
        {"POST", "vps", 2, "stop", vpsd_route_stop},
        {"POST", "vps", 2, "restart", vpsd_route_restart},
        {"GET", "templates", 0, NULL, vpsd_route_templates},
        {"POST", "templates", 0, NULL, vpsd_route_template_build},
        {"GET", "templates", 1, NULL, vpsd_route_template},
        {"GET", "templates", 2, "build", vpsd_route_template_status},
        {"DELETE", "templates", 1, NULL, vpsd_route_template_remove},
        {"POST", "vps", 2, "snapshots", vpsd_snapshot_create},
        {"GET", "vps", 2, "snapshots", vpsd_snapshot_list},
        {"POST", "vps", 2, "snapshot-delete", vpsd_snapshot_delete},
        {"POST", "vps", 2, "snapshot-switch", vpsd_snapshot_switch},
        {"POST", "vps", 2, "snapshot-mount", vpsd_snapshot_mount},
        {"POST", "vps", 2, "snapshot-umount", vpsd_snapshot_umount},
        {"POST", "vps", 2, "reinstall", vpsd_reinstall},
        {"POST", "vps", 2, "clone", vpsd_clone},
};

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
        const struct route *match = NULL;
        bool path_known = false;
        if (split(url, what, arg, action, &n) == 0)
                for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
                        const struct route *rt = &routes[i];
                        if (strcmp(rt->what, what) != 0 || rt->nparts != n ||
                            (rt->action && strcmp(rt->action, action) != 0))
                                continue;
                        path_known = true;
                        if (strcmp(rt->method, method) == 0)
                                match = rt;
                }
        if (!match) {
                r = path_known ? vps_err(&err, EINVAL, "method %s not allowed on %s", method, url)
                               : vps_err(&err, ENOENT, "no such endpoint: %s %s", method, url);
        } else if (!strcmp(what, "vps") && n > 0 && strcmp(method, "GET") != 0 &&
                   vpsd_stream_busy(d, arg, &err) < 0) {
                r = -err.code; /* a backup or restore of it is under way (backup.c) */
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
        if (vi->console_fd < 0)
                return vps_err(err, ENODEV,
                               "the console of VPS %s was lost when vpsd restarted; restart "
                               "the VPS to get it back",
                               vi->cfg.id);
        *ret = vi;
        return 0;
}

