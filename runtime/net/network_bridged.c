/* libvps: the bridged network backend (backend.h). Each VPS's veth is a port of vpsd's
 * bridge, whose address is the VPS's gateway; outbound traffic is masqueraded, port forwards
 * are DNAT to the VPS's first address, and a bridge-family table keeps each port to its own
 * MAC and addresses. */
#include "net/backend.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>

#include "inst/inst.h"

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

/* The host side, once per daemon: the bridge with the gateway address, outbound NAT, and
 * the bridge-family table whose map sends each VPS port to its anti-spoofing chain. Bridge
 * hooks see every bridge of the host (and `meta ibrname` is not in every kernel), so the map
 * is keyed by port name, which vps_net_attach keeps unique on the host. */
static int prepare_host(struct vps_manager *m, vps_error *err)
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
        char cmd[8192] = "", table[IFNAMSIZ + 16], from_vps[IFNAMSIZ + 16];
        nat_rules(&m->net, cmd, sizeof(cmd));
        (void)snprintf(table, sizeof(table), "bridge vpsd_%s", b);
        vps_nft_addf(cmd, sizeof(cmd), "add table %s\n", table);
        vps_nft_port_maps(cmd, sizeof(cmd), table, -200);
        guard_rules(b, cmd, sizeof(cmd));
        (void)snprintf(table, sizeof(table), "ip vpsd_%s", b);
        (void)snprintf(from_vps, sizeof(from_vps), "iifname \"%s\"", b);
        vps_net_host_input(&m->net, table, from_vps, cmd, sizeof(cmd));
        localnet_rules(b, cmd, sizeof(cmd));
        char path[96];
        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", b);
        if ((r = ns_nft_run(cmd, err)) < 0 || (r = vps_sysctl_write(path, "1", err)) < 0 ||
            (r = vps_sysctl_write("/proc/sys/net/ipv4/ip_forward", "1", err)) < 0)
                return r;
        m->net.ready = true;
        return 0;
}

/* The VPS's chain: only its own MAC (Ethernet source and ARP sender) and addresses (IPv4
 * source, ARP sender) may leave its port, and only what the guard chain allows. */
static void bridged_filter_text(const struct vps_manager *m, const struct vps_config *c, char *cmd,
                                size_t size)
{
        char veth[IFNAMSIZ], set[VPS_MAX_IPS * 48] = "", table[IFNAMSIZ + 16], ether[18];
        vps_net_veth_name(&m->net, c->id, veth);
        uint8_t mac[6];
        vps_net_mac(c->id, mac);
        (void)snprintf(ether, sizeof(ether), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
                       mac[2], mac[3], mac[4], mac[5]);
        for (unsigned int i = 0; i < c->n_ip; i++) {
                strcat(set, i ? ", " : "");
                strcat(set, c->ip[i]);
        }
        const char *id = c->id;
        (void)snprintf(table, sizeof(table), "bridge vpsd_%s", m->net.bridge);
        cmd[0] = '\0';
        vps_nft_vps_chain(cmd, size, table, id);
        vps_nft_addf(cmd, size,
                     "add rule %s vps_%s ether saddr != %s drop\n"
                     "add rule %s vps_%s jump guard\n"
                     "add rule %s vps_%s ether type arp arp saddr ether != %s drop\n"
                     "add rule %s vps_%s ether type arp arp saddr ip != { %s } drop\n"
                     "add rule %s vps_%s ether type ip ip saddr != { %s } drop\n",
                     table, id, ether, table, id, table, id, ether, table, id, set, table, id, set);
        vps_nft_vps_port(cmd, size, table, id, veth);
}

static int filter_set(struct vps_manager *m, const struct vps_config *c, vps_error *err)
{
        /* Its jump to the guard needs this daemon's tables (a VPS re-adopted from an older
         * vpsd changes its addresses before any start). */
        int r = prepare_host(m, err);
        if (r < 0)
                return r;
        char cmd[4096];
        bridged_filter_text(m, c, cmd, sizeof(cmd));
        return ns_nft_run(cmd, err);
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
        int r = prepare_host(m, err);
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
        (void)old_ips;
        (void)n_old;
        return filter_set(m, &vi->cfg, err);
}

static void bridged_detach(struct vps_manager *m, const struct vps_config *cfg)
{
        char veth[IFNAMSIZ], cmd[2048] = "", table[IFNAMSIZ + 16];
        vps_net_veth_name(&m->net, cfg->id, veth);
        (void)snprintf(table, sizeof(table), "bridge vpsd_%s", m->net.bridge);
        /* Some of these may be absent (a VPS without network, or started by an older vpsd):
         * ns_nft_run_each. */
        vps_nft_vps_delete(cmd, sizeof(cmd), table, cfg->id, veth);
        vps_net_forward_elements(m, cfg, "delete", cmd, sizeof(cmd));
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
        .check = bridged_check,
        .child = bridged_child,
        .filter = bridged_filter,
        .attach = bridged_attach,
        .update = bridged_update,
        .detach = bridged_detach,
        .prepare = prepare_host,
        .filter_text = bridged_filter_text,
        .ready = bridged_ready,
        .counters = bridged_counters,
};
