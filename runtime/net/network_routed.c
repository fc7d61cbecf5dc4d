/* libvps: routed VPS networking (OpenVZ venet style, for public addresses). Each address of
 * the VPS is a /32 or /128 route to the host end of its veth; the host answers ARP and NDP for
 * it on the uplink (proxy neighbour entries), so the upstream router sees it as on-link; the
 * host end carries 169.254.0.1 and fe80::1, the guest's default gateways. Anti-spoofing and
 * traffic counters live in the inet table vpsr_BRIDGE (one per vpsd, as vpsd_BRIDGE is).
 * The routed network backend (backend.h). */
#include "net/backend.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inst/inst.h"
#include "vps/cleanup.h"

/* A prefix given with an address is taken only where it says what is true anyway: each
 * address is routed to the VPS by itself (/32, /128); any other is refused, never dropped. */
static int routed_check(const struct vps_netconf *n, const char *text, const struct ns_addr *a,
                        const char *canon, vps_error *err)
{
        static const char *const reserved[] = {
                "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3",
                "::/127",    "fe80::/10",   "ff00::/8",       "::ffff:0:0/96",
        };
        unsigned int want = a->family == AF_INET ? 32 : 128;
        if (strchr(text, '/') && a->prefix != want)
                return vps_err(err, EINVAL,
                               "address %.60s: in routed mode each address is routed to the VPS "
                               "alone, so its prefix can only be /%u: give %s or %s/%u",
                               text, want, canon, canon, want);
        for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
                struct ns_addr net;
                vps_error e;
                if (ns_addr_parse(reserved[i], &net, &e) == 0 && ns_addr_in(a, &net))
                        return vps_err(err, EINVAL,
                                       "address %s cannot be routed to a VPS (%s is reserved)",
                                       canon, reserved[i]);
        }
        if (ns_addr_in(a, &n->subnet))
                return vps_err(err, EINVAL,
                               "address %s is in the bridge subnet: routed mode is for addresses "
                               "outside it",
                               canon);
        return 0;
}

static void routed_child(const struct vps_netconf *n, struct vps_net_child *nc)
{
        (void)n;
        vps_error e;
        nc->routed = true;
        (void)ns_addr_parse(VPS_ROUTED_GW4, &nc->gateway, &e);
        (void)ns_addr_parse(VPS_ROUTED_GW6, &nc->gateway6, &e);
}

/* What every routed veth shares (the chain guard), appended to cmd. The veth is a link of
 * two, the VPS and the host, so no neighbour sees the VPS's frames: VLAN tags and foreign
 * ether types end in the host's stack, which has no VLAN device or handler for them (nor
 * does this inet table see them). What a VPS could still tell the host: router
 * advertisements (a host that does not forward IPv6 would take a route or an address from
 * them), redirects, anything from the unspecified address but duplicate address detection
 * and its MLD reports, DHCP server answers. */
static void guard_rules(const char *b, char *cmd, size_t size)
{
        vps_nft_addf(cmd, size,
                     "add chain inet vpsr_%s guard\n"
                     "flush chain inet vpsr_%s guard\n"
                     "add rule inet vpsr_%s guard icmpv6 type { nd-router-advert, nd-redirect, "
                     "router-renumbering } drop\n"
                     "add rule inet vpsr_%s guard ip6 saddr :: meta l4proto != ipv6-icmp drop\n"
                     "add rule inet vpsr_%s guard ip6 saddr :: icmpv6 type != "
                     "{ nd-neighbor-solicit, mld-listener-report, mld2-listener-report } drop\n"
                     "add rule inet vpsr_%s guard udp sport { bootps, dhcpv6-server } drop\n",
                     b, b, b, b, b, b);
}

/* The VPSes' own checks, keyed by port name: only its own addresses may leave its veth
 * (link-local and unspecified IPv6 sources stay on the link: neighbour discovery needs them,
 * and no router forwards them; the link's only other end is the host), and only what the
 * guard chain allows. A VPS with no IPv4 address sends no IPv4. */
static void check_rules(const char *t, char *cmd, size_t size)
{
        vps_nft_addf(cmd, size,
                     "add rule %s check jump guard\n"
                     "add rule %s check meta nfproto ipv4 iifname . ip saddr != @addrs4 drop\n"
                     "add rule %s check meta nfproto ipv6 ip6 saddr { fe80::/10, :: } return\n"
                     "add rule %s check meta nfproto ipv6 iifname . ip6 saddr != @addrs6 drop\n",
                     t, t, t, t);
}

static const struct vps_nft_table table_desc = {.family = NFPROTO_INET,
                                                .kind = "inet vpsr",
                                                .priority = -300,
                                                .addrs4 = "addrs4",
                                                .addrs6 = "addrs6"};

/* Once per daemon: the filter table (the routed veths are its set vports, which the input
 * filter uses too); IPv6 forwarding and proxy NDP once a VPS has IPv6. */
static int prepare_host(struct vps_manager *m, bool v6, const char *extra, vps_error *err)
{
        const char *b = m->net.bridge;
        int r;
        if (!m->net.routed_ready) {
                size_t size = 8192 + (extra ? strlen(extra) : 0);
                _cleanup_free_ char *cmd = calloc(1, size);
                char table[IFNAMSIZ + 12];
                if (!cmd)
                        return vps_err(err, ENOMEM, "preparing routed networking");
                (void)snprintf(table, sizeof(table), "inet vpsr_%s", b);
                vps_nft_objects(&table_desc, b, cmd, size);
                vps_nft_rules(cmd, size, table);
                guard_rules(b, cmd, size);
                check_rules(table, cmd, size);
                vps_net_host_input(&m->net, table, "iifname @vports", cmd, size);
                if (extra)
                        vps_nft_addf(cmd, size, "%s", extra);
                if ((r = ns_nft_run(cmd, err)) < 0 ||
                    (r = vps_sysctl_write("/proc/sys/net/ipv4/ip_forward", "1", err)) < 0)
                        return r;
                m->net.routed_ready = true;
        }
        if (v6 && !m->net.v6_ready) {
                unsigned int up = vps_net_uplink(&m->net, AF_INET6);
                char name[IFNAMSIZ], path[128], val[8];
                if (up && if_indextoname(up, name)) {
                        /* Forwarding makes the kernel ignore router advertisements where
                         * accept_ra is 1: the uplink keeps them (2). */
                        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra",
                                       name);
                        if (vps_sysctl_read(path, val, sizeof(val)) == 0 && val[0] == '1' &&
                            (r = vps_sysctl_write(path, "2", err)) < 0)
                                return r;
                        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/proxy_ndp",
                                       name);
                        if ((r = vps_sysctl_write(path, "1", err)) < 0)
                                return r;
                }
                if ((r = vps_sysctl_write("/proc/sys/net/ipv6/conf/all/forwarding", "1", err)) < 0)
                        return r;
                m->net.v6_ready = true;
        }
        return 0;
}

/* The VPS's elements: its port and its addresses. */
static void routed_ops(const struct vps_manager *m, const struct vps_config *c, bool del,
                       struct vps_nft_ops *o)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, c->id, veth);
        vps_nft_ops_init(o, &table_desc, m->net.bridge);
        vps_nft_addr_ops(o, &table_desc, del, veth, c->ip, c->n_ip);
        vps_nft_port_ops(o, del, c->id, veth);
}

static int filter_set(struct vps_manager *m, const struct vps_config *c, vps_error *err)
{
        struct vps_nft_ops o;
        routed_ops(m, c, false, &o);
        return ns_nft_apply(o.family, o.table, o.op, o.n, err);
}

static int routed_prepare(struct vps_manager *m, const char *extra, vps_error *err)
{
        return prepare_host(m, false, extra, err);
}

/* Routes on the veth and proxy entries on the uplink for each address of c (add) or for each
 * address of c that `keep` lacks (remove; keep may be NULL). */
static int routes(const struct vps_netconf *n, const struct vps_config *c,
                  const struct vps_config *keep, bool add, unsigned int veth, vps_error *err)
{
        for (unsigned int i = 0; i < c->n_ip; i++) {
                bool kept = false;
                for (unsigned int j = 0; keep && j < keep->n_ip; j++)
                        kept |= strcmp(c->ip[i], keep->ip[j]) == 0;
                struct ns_addr a;
                int r = ns_addr_parse(c->ip[i], &a, err);
                if (r < 0 || kept)
                        continue;
                unsigned int up = vps_net_uplink(n, a.family);
                vps_error e;
                if (add) {
                        if ((r = ns_route_host(true, veth, &a, err)) < 0 ||
                            (up && (r = ns_neigh_proxy(true, up, &a, err)) < 0))
                                return r;
                } else {
                        if (veth)
                                (void)ns_route_host(false, veth, &a, &e);
                        if (up)
                                (void)ns_neigh_proxy(false, up, &a, &e);
                }
        }
        return 0;
}

static bool has_v6(const struct vps_config *c)
{
        for (unsigned int i = 0; i < c->n_ip; i++)
                if (strchr(c->ip[i], ':'))
                        return true;
        return false;
}

/* fe80::1, the guest's IPv6 gateway, on the host end: only for a VPS with IPv6 (an IPv6
 * address costs the kernel more work on the start path than an IPv4 one); added by a live
 * --ipadd of its first IPv6 address. */
static int gateway6(unsigned int ifindex, vps_error *err)
{
        struct ns_addr gw6;
        (void)ns_addr_parse(VPS_ROUTED_GW6 "/64", &gw6, err);
        vps_error e;
        int r = ns_addr_add(ifindex, &gw6, &e);
        if (r < 0 && r != -EEXIST)
                return vps_err(err, e.code, "%s", e.msg);
        return 0;
}

static int routed_filter(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        int r = prepare_host(m, has_v6(&vi->cfg), NULL, err);
        if (r < 0)
                return vps_err_wrap(err, "preparing routed networking");
        return filter_set(m, &vi->cfg, err);
}

static int routed_attach(struct vps_manager *m, const struct vps_inst *vi, unsigned int ifindex,
                         vps_error *err)
{
        int r;
        struct ns_addr gw4;
        (void)ns_addr_parse(VPS_ROUTED_GW4 "/32", &gw4, err);
        if ((r = ns_addr_add(ifindex, &gw4, err)) < 0 ||
            (has_v6(&vi->cfg) && (r = gateway6(ifindex, err)) < 0) ||
            (r = ns_link_set_flags(ifindex, IFF_UP, IFF_UP, err)) < 0 ||
            (r = routes(&m->net, &vi->cfg, NULL, true, ifindex, err)) < 0)
                return r;
        return 0;
}

static int routed_update(struct vps_manager *m, const struct vps_inst *vi,
                         char old_ips[][VPS_IP_MAX], unsigned int n_old, vps_error *err)
{
        struct vps_config old = vi->cfg;
        for (unsigned int i = 0; i < n_old; i++)
                memcpy(old.ip[i], old_ips[i], sizeof(old.ip[i]));
        old.n_ip = n_old;
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        unsigned int idx = if_nametoindex(veth);
        if (!idx)
                return vps_err_sys(err, errno, "finding %s", veth);
        int r = prepare_host(m, has_v6(&vi->cfg), NULL, err);
        if (r < 0 || (has_v6(&vi->cfg) && (r = gateway6(idx, err)) < 0))
                return r;
        (void)routes(&m->net, &old, &vi->cfg, false, idx, err);
        if ((r = routes(&m->net, &vi->cfg, NULL, true, idx, err)) < 0)
                return r;
        return vps_nft_update_addrs(&table_desc, m->net.bridge, veth,
                                    (const char(*)[VPS_IP_MAX])old_ips, n_old, vi->cfg.ip,
                                    vi->cfg.n_ip, err);
}

static void routed_detach(struct vps_manager *m, const struct vps_config *cfg)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, cfg->id, veth);
        vps_error e;
        (void)routes(&m->net, cfg, NULL, false, if_nametoindex(veth), &e);
        struct vps_nft_ops o;
        routed_ops(m, cfg, true, &o);
        /* Some may be absent: ns_nft_apply_each. */
        ns_nft_apply_each(o.family, o.table, o.op, o.n);
}

static bool routed_ready(const struct vps_netconf *n)
{
        return n->routed_ready;
}

static void routed_counters(const struct vps_manager *m, const char *id, struct json_t *res)
{
        char table[64];
        (void)snprintf(table, sizeof(table), "vpsr_%s", m->net.bridge);
        vps_nft_merge_counters(NFPROTO_INET, table, id, res);
}

const struct vps_net_backend vps_net_routed = {
        .on_bridge = false,
        .nft = &table_desc,
        .check = routed_check,
        .child = routed_child,
        .filter = routed_filter,
        .attach = routed_attach,
        .update = routed_update,
        .detach = routed_detach,
        .prepare = routed_prepare,
        .ops = routed_ops,
        .ready = routed_ready,
        .counters = routed_counters,
};
