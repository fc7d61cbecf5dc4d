/* libvps: VPS networking (see network.h), dispatching to the VPS's backend (backend.h:
 * bridged or routed) for what differs, and doing here what both share: the veth pair, its
 * rate limit, the address checks, the live changes. Everything is netlink or libnftables: no
 * ip or nft process on the start path. */
#include "net/backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vps/cleanup.h"
#include "inst/inst.h"
#include "net/net.h"
#include "vps/util.h"

static const struct vps_net_backend *backend(const struct vps_config *c)
{
        return vps_net_backend_of(c->netmode);
}

/* Whether address a (canonical form canon) is free for self: not given earlier in the same
 * list (ips[0..i-1]), nor used by another VPS. */
static int check_unused(const struct vps_manager *m, const struct vps_inst *self,
                        char ips[][VPS_IP_MAX], unsigned int i, const struct ns_addr *a,
                        const char *canon, vps_error *err)
{
        for (unsigned int j = 0; j < i; j++) {
                struct ns_addr b;
                if (ns_addr_parse(ips[j], &b, err) == 0 && ns_addr_equal(a, &b))
                        return vps_err(err, EINVAL, "address %s is given twice", canon);
        }
        for (size_t k = 0; k < m->n; k++) {
                const struct vps_inst *o = m->v[k];
                for (unsigned int j = 0; o != self && j < o->cfg.n_ip; j++) {
                        struct ns_addr b;
                        vps_error e;
                        if (ns_addr_parse(o->cfg.ip[j], &b, &e) == 0 && ns_addr_equal(a, &b))
                                return vps_err(err, EADDRINUSE,
                                               "address %s is already used by VPS %s", canon,
                                               o->cfg.id);
                }
        }
        return 0;
}

int vps_net_check_ips(const struct vps_manager *m, const struct vps_inst *self,
                      enum vps_netmode mode, char ips[][VPS_IP_MAX], unsigned int n, vps_error *err)
{
        const struct vps_net_backend *be = vps_net_backend_of(mode);
        for (unsigned int i = 0; i < n; i++) {
                struct ns_addr a;
                int r = ns_addr_parse(ips[i], &a, err);
                if (r < 0)
                        return r;
                char canon[64];
                ns_addr_format(&a, canon, sizeof(canon));
                if ((r = be->check(&m->net, ips[i], &a, canon, err)) < 0 ||
                    (r = check_unused(m, self, ips, i, &a, canon, err)) < 0)
                        return r;
                canon[45] = '\0';
                memcpy(ips[i], canon, strlen(canon) + 1);
        }
        return 0;
}

/* The running VPSes of one backend, re-adopted: the table's objects where absent, their
 * elements (already there unless the table was lost), then the rules in one batch with the
 * removal of what an older vpsd made per VPS (its map ports and chains vps_ID), so that no
 * VPS goes unchecked in between, across an upgrade too. */
static int readopt_backend(struct vps_manager *m, const struct vps_net_backend *be, vps_error *err)
{
        _cleanup_free_ char *legacy = NULL;
        size_t len = 0, cap = 0;
        char table[IFNAMSIZ + 16];
        vps_nft_table_name(be->nft, m->net.bridge, table);
        /* The map first: its elements hold the chains. */
        char cmd[256] = "";
        vps_nft_legacy(cmd, sizeof(cmd), table, NULL);
        int r = vps_nft_run_objects(be->nft, m->net.bridge, err);
        if (r == 0 && (r = vps_buf_append(&legacy, &len, &cap, cmd, strlen(cmd), 64u << 20, 0)) < 0)
                r = vps_err(err, -r, "the filters of the running VPSes");
        for (size_t i = 0; r == 0 && i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                if (vi->status == VPS_STOPPED || vi->cfg.n_ip == 0 || backend(&vi->cfg) != be)
                        continue;
                struct vps_nft_ops o;
                be->ops(m, &vi->cfg, false, &o);
                cmd[0] = '\0';
                vps_nft_legacy(cmd, sizeof(cmd), table, vi->cfg.id);
                if ((r = ns_nft_apply(o.family, o.table, o.op, o.n, err)) == 0 &&
                    (r = vps_buf_append(&legacy, &len, &cap, cmd, strlen(cmd), 64u << 20, 0)) < 0)
                        r = vps_err(err, -r, "the filters of the running VPSes");
        }
        return r < 0 ? r : be->prepare(m, legacy, err);
}

int vps_net_readopt(struct vps_manager *m, vps_error *err)
{
        for (size_t b = 0; b < VPS_NET_N_BACKENDS; b++) {
                const struct vps_net_backend *be = vps_net_backends[b];
                bool used = false;
                for (size_t i = 0; i < m->n && !used; i++)
                        used = m->v[i]->status != VPS_STOPPED && m->v[i]->cfg.n_ip > 0 &&
                               backend(&m->v[i]->cfg) == be;
                int r = used ? readopt_backend(m, be, err) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A veth of that name on our bridge is left over from a crash; one elsewhere belongs to
 * someone else (another vpsd on another bridge) and is never touched. check_only: only
 * says whether the name is someone else's. */
static int stale_veth(const struct vps_manager *m, const struct vps_config *cfg, const char *veth,
                      bool check_only, vps_error *err)
{
        unsigned int old = if_nametoindex(veth);
        if (!old)
                return 0;
        char link[64], target[256];
        (void)snprintf(link, sizeof(link), "/sys/class/net/%s/master", veth);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        const char *master = strrchr(target, '/');
        if (n > 0 && master && strcmp(master + 1, m->net.bridge) == 0)
                return check_only ? 0 : ns_link_del(old, err);
        /* A routed VPS's veth has no master: one with our naming and no master is taken for
         * ours when the VPS's backend puts none on the bridge. */
        if (n <= 0 && !backend(cfg)->on_bridge)
                return check_only ? 0 : ns_link_del(old, err);
        return vps_err(err, EEXIST, "interface %s already exists outside bridge %s", veth,
                       m->net.bridge);
}

void vps_net_detach(struct vps_manager *m, const struct vps_config *cfg)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, cfg->id, veth);
        vps_error e;
        /* The run's traffic into the VPS's totals before its counters go with its chain. */
        (void)vps_traffic_fold(m, cfg, &e);
        backend(cfg)->detach(m, cfg);
        /* The kernel would remove the pair with the VPS's network namespace, but later, from
         * a work queue: delete it now so a stop leaves nothing behind when it returns. */
        (void)stale_veth(m, cfg, veth, false, &e);
        /* The ifb of --rate is a host device of its own. */
        char ifb[IFNAMSIZ];
        vps_net_link_name(&m->net, cfg->id, true, ifb);
        unsigned int idx = if_nametoindex(ifb);
        if (idx)
                (void)ns_link_del(idx, &e);
}

int vps_net_filter(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        /* The filter is keyed by the veth's name: not while that name is someone else's
         * interface, whose traffic it would take over. */
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        int r = stale_veth(m, &vi->cfg, veth, true, err);
        if (r < 0)
                return r;
        /* Counters left by a run that was not folded (or what was last seen of them) go into
         * the VPS's totals before this run's start at zero. */
        vps_error e;
        (void)vps_traffic_fold(m, &vi->cfg, &e);
        return backend(&vi->cfg)->filter(m, vi, err);
}

/* The host end of the VPS's veth, made: its rate and the backend's part (bridge port,
 * routes). */
static int host_end(struct vps_manager *m, const struct vps_inst *vi, const char *veth,
                    vps_error *err)
{
        int r;
        unsigned int idx = if_nametoindex(veth);
        if (!idx)
                return vps_err_sys(err, errno ? errno : ENODEV, "finding %s", veth);
        char ifb[IFNAMSIZ];
        vps_net_link_name(&m->net, vi->cfg.id, true, ifb);
        if (vi->cfg.rate && (r = ns_tc_rate(idx, ifb, vi->cfg.rate, err)) < 0)
                return vps_err_wrap(err, "'rate' on %s", veth);
        r = backend(&vi->cfg)->attach(m, vi, idx, err);
        return r < 0 ? vps_err_wrap(err, "%s", veth) : 0;
}

int vps_net_attach(struct vps_manager *m, const struct vps_inst *vi, pid_t pid, vps_error *err)
{
        int r;
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        uint8_t mac[6];
        vps_net_mac(vi->cfg.id, mac);
        if ((r = stale_veth(m, &vi->cfg, veth, false, err)) < 0)
                return r;
        if ((r = ns_veth_create(veth, "eth0", pid, mac, vps_net_mtu(&m->net), err)) < 0)
                return r;
        return host_end(m, vi, veth, err);
}

int vps_net_restore_name(struct vps_manager *m, const struct vps_inst *vi, char *ret,
                         vps_error *err)
{
        vps_net_veth_name(&m->net, vi->cfg.id, ret);
        return stale_veth(m, &vi->cfg, ret, false, err);
}

int vps_net_adopt(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        return host_end(m, vi, veth, err);
}

int vps_net_set_rate(const struct vps_netconf *n, const struct vps_inst *vi, uint64_t bits_per_sec,
                     vps_error *err)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(n, vi->cfg.id, veth);
        unsigned int idx = if_nametoindex(veth);
        if (!idx)
                return 0; /* running without a network: nothing to limit until it has one */
        char ifb[IFNAMSIZ];
        vps_net_link_name(n, vi->cfg.id, true, ifb);
        int r = ns_tc_rate(idx, ifb, bits_per_sec, err);
        return r < 0 ? vps_err_wrap(err, "'rate' on %s", veth) : 0;
}

int vps_net_update_live(struct vps_manager *m, const struct vps_inst *vi,
                        char old_ips[][VPS_IP_MAX], unsigned int n_old, bool undo, vps_error *err)
{
        struct vps_net_child now, before = {0};
        int r = vps_net_prepare_child(m, vi, &now, err);
        for (unsigned int i = 0; r == 0 && i < n_old && i < 16; i++) {
                r = ns_addr_parse(old_ips[i], &before.addr[i], err);
                before.n++;
        }
        if (r < 0 || (n_old == 0 && vi->cfg.n_ip == 0))
                return r;
        backend(&vi->cfg)->child(&m->net, &before);
        if (n_old == 0) {
                /* Running without a network (started without an address, or all of them
                 * deleted since): its veth now, as a start would make it. */
                if ((r = vps_net_filter(m, vi, err)) == 0 &&
                    (r = vps_net_attach(m, vi, vi->st.pid, err)) == 0 &&
                    (r = vps_net_eth0_update(vi, &now, &before, true, err)) == 0)
                        return 0;
                vps_net_detach(m, &vi->cfg);
                return r;
        }
        /* Undoing a failed change, the host side is put back even when the guest's is not. */
        if ((r = vps_net_eth0_update(vi, &now, &before, false, err)) < 0 && !undo)
                return r;
        if (vi->cfg.n_ip == 0) {
                struct vps_config old = vi->cfg;
                for (unsigned int i = 0; i < n_old; i++)
                        memcpy(old.ip[i], old_ips[i], sizeof(old.ip[i]));
                old.n_ip = n_old;
                vps_net_detach(m, &old);
                return r;
        }
        vps_error e;
        int h = backend(&vi->cfg)->update(m, vi, old_ips, n_old, r < 0 ? &e : err);
        return r < 0 ? r : h;
}
