/* libvps: the bridged network backend (backend.h). Each VPS's veth is a port of vpsd's
 * bridge, whose address is the VPS's gateway; outbound traffic is masqueraded, port forwards
 * are DNAT to the VPS's first address, and a bridge-family table keeps each port to its own
 * MAC and addresses. */
#include "net/backend.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inst/inst.h"
#include "vps/cleanup.h"

/* Port forwards from the host's own 127.0.0.1 (vpsctl(8): "any local address"): the DNAT'd
 * packet leaves on the bridge with a loopback source, which the kernel routes only with
 * route_localnet on the bridge, and which is masqueraded to the bridge's address so the VPS
 * can answer. route_localnet would also let loopback addresses in from the bridge: a VPS
 * must never reach the host's 127.0.0.1 services, nor send from 127/8, so both are dropped
 * before routing (priority -300, ahead of conntrack's NAT, so the replies of forwarded
 * connections, addressed to the bridge until un-NATed, pass). */
static void localnet_rules(const char *b, char *cmd, size_t size)
{
        vps_nft_addf(cmd, size,
                     "add rule ip vpsd_%s postrouting oifname \"%s\" ip saddr 127.0.0.0/8 "
                     "masquerade\n"
                     "add chain ip vpsd_%s localnet { type filter hook prerouting priority "
                     "-300; policy accept; }\n"
                     "flush chain ip vpsd_%s localnet\n"
                     "add rule ip vpsd_%s localnet iifname \"%s\" ip saddr 127.0.0.0/8 drop\n"
                     "add rule ip vpsd_%s localnet iifname \"%s\" ip daddr 127.0.0.0/8 drop\n",
                     b, b, b, b, b, b, b, b);
}

/* The allowlist every bridge port shares (the chain guard), appended to cmd: untagged IPv4
 * and ARP only (a VLAN tag shows as ether type 8021q even when the kernel carries it out of
 * band), ARP only as Ethernet/IPv4 requests and replies (the layout whose sender fields the
 * VPS's chain checks), and no DHCP server answers to a neighbour's client. Bridged mode has
 * no IPv6 (the subnet is IPv4): a VPS's IPv6 ends at its port, NDP and router
 * advertisements with it. */
static void guard_rules(const char *b, char *cmd, size_t size)
{
        vps_nft_addf(cmd, size,
                     "add chain bridge vpsd_%s guard\n"
                     "flush chain bridge vpsd_%s guard\n"
                     "add rule bridge vpsd_%s guard ether type != { ip, arp } drop\n"
                     "add rule bridge vpsd_%s guard ether type arp arp htype != 1 drop\n"
                     "add rule bridge vpsd_%s guard ether type arp arp ptype != ip drop\n"
                     "add rule bridge vpsd_%s guard ether type arp arp hlen != 6 drop\n"
                     "add rule bridge vpsd_%s guard ether type arp arp plen != 4 drop\n"
                     "add rule bridge vpsd_%s guard ether type arp arp operation != "
                     "{ request, reply } drop\n"
                     "add rule bridge vpsd_%s guard ether type ip udp sport bootps drop\n",
                     b, b, b, b, b, b, b, b, b);
}

/* Outbound NAT of the subnet, and the port forwards' DNAT (from outside and from the host
 * itself) through the map forwards. */
static void nat_rules(const struct vps_netconf *n, char *cmd, size_t size)
{
        char net[64];
        ns_addr_format(&n->subnet, net, sizeof(net));
        const char *b = n->bridge;
        unsigned int p = n->subnet.prefix;
        vps_nft_addf(cmd, size,
                     "add table ip vpsd_%s\n"
                     "add chain ip vpsd_%s postrouting { type nat hook postrouting priority "
                     "100; policy accept; }\n"
                     "flush chain ip vpsd_%s postrouting\n"
                     "add rule ip vpsd_%s postrouting ip saddr %s/%u ip daddr != %s/%u "
                     "masquerade\n"
                     "add map ip vpsd_%s forwards { type inet_proto . inet_service : "
                     "ipv4_addr . inet_service; }\n"
                     "add chain ip vpsd_%s prerouting { type nat hook prerouting priority "
                     "-100; policy accept; }\n"
                     "flush chain ip vpsd_%s prerouting\n"
                     "add rule ip vpsd_%s prerouting fib daddr type local dnat ip to meta "
                     "l4proto . th dport map @forwards\n"
                     "add chain ip vpsd_%s output { type nat hook output priority -100; "
                     "policy accept; }\n"
                     "flush chain ip vpsd_%s output\n"
                     "add rule ip vpsd_%s output fib daddr type local dnat ip to meta "
                     "l4proto . th dport map @forwards\n",
                     b, b, b, b, net, p, net, p, b, b, b, b, b, b, b);
}

/* The VPSes' own checks, keyed by port name: only its MAC (Ethernet source and ARP sender)
 * and addresses (IPv4 source, ARP sender) may leave a port, and only what the guard chain
 * allows. A port with no address in addrs sends no IPv4 and no ARP at all. */
static void check_rules(const char *t, char *cmd, size_t size)
{
        vps_nft_addf(cmd, size,
                     "add rule %s check iifname . ether saddr != @macs drop\n"
                     "add rule %s check jump guard\n"
                     "add rule %s check ether type arp iifname . arp saddr ether != @macs drop\n"
                     "add rule %s check ether type arp iifname . arp saddr ip != @addrs drop\n"
                     "add rule %s check ether type ip iifname . ip saddr != @addrs drop\n",
                     t, t, t, t, t);
}

static const struct vps_nft_table table_desc = {.family = NFPROTO_BRIDGE,
                                                .kind = "bridge vpsd",
                                                .priority = -200,
                                                .addrs4 = "addrs",
                                                .set = "macs { type ifname . ether_addr; }"};

/* The host side, once per daemon: the bridge with the gateway address, outbound NAT, and
 * the bridge-family table whose sets send each VPS port through the checks. Bridge hooks see
 * every bridge of the host (and `meta ibrname` is not in every kernel), so the sets are keyed
 * by port name, which vps_net_attach keeps unique on the host. */
static int prepare_host(struct vps_manager *m, const char *extra, vps_error *err)
{
        if (m->net.ready)
                return 0;
        int idx = ns_bridge_ensure(m->net.bridge, err);
        if (idx < 0)
                return idx;
        struct ns_addr gw = m->net.gateway;
        gw.prefix = m->net.subnet.prefix;
        vps_error e;
        int r = ns_addr_add((unsigned int)idx, &gw, &e);
        if (r < 0 && r != -EEXIST)
                return vps_err(err, e.code, "%s", e.msg);
        const char *b = m->net.bridge;
        size_t size = 12288 + (extra ? strlen(extra) : 0);
        _cleanup_free_ char *cmd = calloc(1, size);
        if (!cmd)
                return vps_err(err, ENOMEM, "preparing bridge %s", b);
        char table[IFNAMSIZ + 16], from_vps[IFNAMSIZ + 16];
        nat_rules(&m->net, cmd, size);
        vps_nft_objects(&table_desc, b, cmd, size);
        (void)snprintf(table, sizeof(table), "bridge vpsd_%s", b);
        vps_nft_rules(cmd, size, table);
        guard_rules(b, cmd, size);
        check_rules(table, cmd, size);
        (void)snprintf(table, sizeof(table), "ip vpsd_%s", b);
        (void)snprintf(from_vps, sizeof(from_vps), "iifname \"%s\"", b);
        vps_net_host_input(&m->net, table, from_vps, cmd, size);
        localnet_rules(b, cmd, size);
        if (extra)
                vps_nft_addf(cmd, size, "%s", extra);
        char path[96];
        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", b);
        if ((r = ns_nft_run(cmd, err)) < 0 || (r = vps_sysctl_write(path, "1", err)) < 0 ||
            (r = vps_sysctl_write("/proc/sys/net/ipv4/ip_forward", "1", err)) < 0)
                return r;
        m->net.ready = true;
        return 0;
}

/* The VPS's elements: its port, its MAC, its addresses. */
static void bridged_ops(const struct vps_manager *m, const struct vps_config *c, bool del,
                        struct vps_nft_ops *o)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, c->id, veth);
        vps_nft_ops_init(o, &table_desc, m->net.bridge);
        /* The checks first: the port is not in vports until its elements are there. */
        struct ns_nft_op *op = vps_nft_op(o, del, "macs", NULL, veth);
        uint8_t mac[6];
        vps_net_mac(c->id, mac);
        if (op)
                ns_nft_key_put(op, mac, sizeof(mac), sizeof(mac));
        vps_nft_addr_ops(o, &table_desc, del, veth, c->ip, c->n_ip);
        vps_nft_port_ops(o, del, c->id, veth);
}

static int filter_set(struct vps_manager *m, const struct vps_config *c, vps_error *err)
{
        /* Its elements need this daemon's tables (a VPS re-adopted from an older vpsd
         * changes its addresses before any start). */
        int r = prepare_host(m, NULL, err);
        if (r < 0)
                return r;
        struct vps_nft_ops o;
        bridged_ops(m, c, false, &o);
        return ns_nft_apply(o.family, o.table, o.op, o.n, err);
}

static bool special(const struct vps_netconf *n, const struct ns_addr *a)
{
        uint32_t host_mask = n->subnet.prefix >= 32 ? 0 : ~0u >> n->subnet.prefix;
        uint32_t h = ntohl(a->a.v4.s_addr) & host_mask;
        return ns_addr_equal(a, &n->gateway) || h == 0 || h == host_mask;
}

/* A prefix given with an address (--ipadd 10.88.0.3/24) is taken only where it says what
 * is true anyway: the bridge subnet's; any other is refused, never dropped in silence. */
static int bridged_check(const struct vps_netconf *n, const char *text, const struct ns_addr *a,
                         const char *canon, vps_error *err)
{
        if (a->family == AF_INET6)
                return vps_err(err, EINVAL,
                               "address %s is IPv6: bridged mode has an IPv4 subnet only "
                               "(use 'netmode' routed)",
                               canon);
        if (strchr(text, '/') && a->prefix != n->subnet.prefix) {
                char sub[64];
                ns_addr_format(&n->subnet, sub, sizeof(sub));
                return vps_err(err, EINVAL,
                               "address %.60s: in bridged mode the prefix is the bridge "
                               "subnet's (%s/%u), so /%u would not hold: give %s or %s/%u",
                               text, sub, n->subnet.prefix, a->prefix, canon, canon,
                               n->subnet.prefix);
        }
        if (!ns_addr_in(a, &n->subnet))
                return vps_err(err, EINVAL, "address %s is outside the bridge subnet of vpsd",
                               canon);
        if (special(n, a))
                return vps_err(err, EINVAL,
                               "address %s is the subnet's network, gateway or broadcast "
                               "address",
                               canon);
        return 0;
}

static void bridged_child(const struct vps_netconf *n, struct vps_net_child *nc)
{
        for (unsigned int i = 0; i < nc->n; i++)
                nc->addr[i].prefix = n->subnet.prefix;
        nc->gateway = n->gateway;
}

static int bridged_filter(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        int r = prepare_host(m, NULL, err);
        if (r < 0)
                return vps_err_wrap(err, "preparing bridge %s", m->net.bridge);
        char fcmd[2048] = "";
        vps_net_forward_elements(m, &vi->cfg, "add", fcmd, sizeof(fcmd));
        if (fcmd[0] && (r = ns_nft_run(fcmd, err)) < 0)
                return vps_err_wrap(err, "port forwards");
        return filter_set(m, &vi->cfg, err);
}

static int bridged_attach(struct vps_manager *m, const struct vps_inst *vi, unsigned int ifindex,
                          vps_error *err)
{
        (void)vi;
        unsigned int br = if_nametoindex(m->net.bridge);
        if (!br)
                return vps_err_sys(err, errno ? errno : ENODEV, "finding %s", m->net.bridge);
        int r;
        if ((r = ns_link_set_master(ifindex, br, err)) < 0 ||
            (r = ns_link_set_flags(ifindex, IFF_UP, IFF_UP, err)) < 0)
                return r;
        return 0;
}

static int bridged_update(struct vps_manager *m, const struct vps_inst *vi,
                          char old_ips[][VPS_IP_MAX], unsigned int n_old, vps_error *err)
{
        int r = prepare_host(m, NULL, err);
        if (r < 0)
                return r;
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        return vps_nft_update_addrs(&table_desc, m->net.bridge, veth,
                                    (const char(*)[VPS_IP_MAX])old_ips, n_old, vi->cfg.ip,
                                    vi->cfg.n_ip, err);
}

static void bridged_detach(struct vps_manager *m, const struct vps_config *cfg)
{
        struct vps_nft_ops o;
        bridged_ops(m, cfg, true, &o);
        /* Some of these may be absent (a VPS without network, or started by an older vpsd):
         * ns_nft_apply_each. */
        ns_nft_apply_each(o.family, o.table, o.op, o.n);
        char cmd[2048] = "";
        vps_net_forward_elements(m, cfg, "delete", cmd, sizeof(cmd));
        if (cmd[0])
                ns_nft_run_each(cmd);
}

static bool bridged_ready(const struct vps_netconf *n)
{
        return n->ready;
}

static void bridged_counters(const struct vps_manager *m, const char *id, struct json_t *res)
{
        char table[64];
        (void)snprintf(table, sizeof(table), "vpsd_%s", m->net.bridge);
        vps_nft_merge_counters(NFPROTO_BRIDGE, table, id, res);
}

const struct vps_net_backend vps_net_bridged = {
        .on_bridge = true,
        .nft = &table_desc,
        .check = bridged_check,
        .child = bridged_child,
        .filter = bridged_filter,
        .attach = bridged_attach,
        .update = bridged_update,
        .detach = bridged_detach,
        .prepare = prepare_host,
        .ops = bridged_ops,
        .ready = bridged_ready,
        .counters = bridged_counters,
};
