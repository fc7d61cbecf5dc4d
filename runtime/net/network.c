/* libvps: bridged VPS networking (see network.h). Everything is netlink or libnftables: no
 * ip or nft process on the start path. */
#include "vps/cleanup.h"
#include "sandbox/helper.h"
#include "core/manager.h"
#include "net/network.h"
#include "net/traffic.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <linux/netfilter.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int vps_net_configure(struct vps_netconf *n, const char *bridge, const char *subnet, vps_error *err)
{
        memset(n, 0, sizeof(*n));
        if (!bridge || !*bridge || strlen(bridge) >= IFNAMSIZ || strpbrk(bridge, "/ :\"'"))
                return vps_err(err, EINVAL, "invalid bridge name '%.40s'", bridge ? bridge : "");
        strcpy(n->bridge, bridge);
        if (strcmp(bridge, VPS_DEFAULT_BRIDGE) != 0) {
                uint32_t h = 2166136261u;
                for (const char *p = bridge; *p; p++)
                        h = (h ^ (uint8_t)*p) * 16777619u;
                (void)snprintf(n->tag, sizeof(n->tag), "%04x", (unsigned int)(h & 0xffff));
        }
        int r = ns_addr_parse(subnet, &n->subnet, err);
        if (r < 0)
                return vps_err_wrap(err, "subnet");
        if (n->subnet.family != AF_INET || n->subnet.prefix < 8 || n->subnet.prefix > 30)
                return vps_err(err, EINVAL, "invalid subnet '%s': an IPv4 network from /8 to /30",
                               subnet);
        uint32_t mask = n->subnet.prefix ? htonl(~0u << (32 - n->subnet.prefix)) : 0;
        n->subnet.a.v4.s_addr &= mask;
        n->gateway = n->subnet;
        n->gateway.a.v4.s_addr = htonl(ntohl(n->subnet.a.v4.s_addr) + 1);
        return vps_net_configure_host_allow(n, NULL, err);
}

int vps_net_configure_routed(struct vps_netconf *n, const char *netmode, const char *uplink,
                             vps_error *err)
{
        int r = vps_netmode_parse(netmode && *netmode ? netmode : "bridged", &n->default_mode, err);
        if (r < 0)
                return r;
        if (uplink && (strlen(uplink) >= IFNAMSIZ || strpbrk(uplink, "/ :\"'")))
                return vps_err(err, EINVAL, "invalid uplink name '%.40s'", uplink);
        (void)snprintf(n->uplink, sizeof(n->uplink), "%s", uplink ? uplink : "");
        return 0;
}

/* "PREFIXID.0" ("veth101.0"), or a hash of the ID when it is too long for a name. A vpsd on
 * another bridge than the default puts its tag in the name ("v" TAG "101.0", ifb "i" TAG ...),
 * so two vpsds with a VPS of the same ID never want the same interface. */
static void link_name(const struct vps_netconf *n, const char *id, bool ifb, char ret[IFNAMSIZ])
{
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const char *p = id; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        if (n->tag[0]) {
                if (strlen(id) + strlen(n->tag) + 3 < IFNAMSIZ)
                        (void)snprintf(ret, IFNAMSIZ, "%c%.4s%.8s.0", ifb ? 'i' : 'v', n->tag, id);
                else /* '.' after the tag: no ID starts with one */
                        (void)snprintf(ret, IFNAMSIZ, "%c%.4s.%08x", ifb ? 'i' : 'v', n->tag, h);
                return;
        }
        if (strlen(id) + 6 < IFNAMSIZ) {
                (void)snprintf(ret, IFNAMSIZ, "%s%s.0", ifb ? "vifb" : "veth", id);
                return;
        }
        (void)snprintf(ret, IFNAMSIZ, "%s%08x.0", ifb ? "vi" : "vh", h);
}

int vps_net_configure_mtu(struct vps_netconf *n, const char *mtu, vps_error *err)
{
        n->mtu = 0;
        if (!mtu || !*mtu)
                return 0;
        char *end = NULL;
        unsigned long v = strtoul(mtu, &end, 10);
        if (*end || !isdigit((unsigned char)mtu[0]) || v < 1280 || v > 65535)
                return vps_err(err, EINVAL, "invalid mtu '%.20s': a number from 1280 to 65535",
                               mtu);
        n->mtu = (unsigned int)v;
        return 0;
}

void vps_net_veth_name(const struct vps_netconf *n, const char *id, char ret[IFNAMSIZ])
{
        link_name(n, id, false, ret);
}

void vps_net_mac(const char *id, uint8_t mac[6])
{
        uint32_t h = 2166136261u;
        for (const char *p = id; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        mac[0] = 0x02; /* locally administered, unicast */
        mac[1] = 0x56;
        memcpy(mac + 2, &h, 4);
}

static bool special(const struct vps_netconf *n, const struct ns_addr *a)
{
        uint32_t host_mask = n->subnet.prefix >= 32 ? 0 : ~0u >> n->subnet.prefix;
        uint32_t h = ntohl(a->a.v4.s_addr) & host_mask;
        return ns_addr_equal(a, &n->gateway) || h == 0 || h == host_mask;
}

/* A prefix given with an address (--ipadd 10.88.0.3/24) is taken only where it says what
 * is true anyway: in bridged mode the bridge subnet's, in routed mode the address alone
 * (/32, /128: each is routed to the VPS by itself). Any other is refused with what a prefix
 * means here, never dropped in silence. */
static int check_prefix(const struct vps_netconf *n, enum vps_netmode mode, const char *text,
                        const struct ns_addr *a, const char *canon, vps_error *err)
{
        if (!strchr(text, '/'))
                return 0;
        unsigned int want = mode == VPS_NET_BRIDGED ? n->subnet.prefix
                            : a->family == AF_INET  ? 32
                                                    : 128;
        if (a->family == AF_INET6 && mode == VPS_NET_BRIDGED)
                return 0; /* refused below: bridged mode has no IPv6 */
        if (a->prefix == want)
                return 0;
        if (mode == VPS_NET_BRIDGED) {
                char sub[64];
                ns_addr_format(&n->subnet, sub, sizeof(sub));
                return vps_err(err, EINVAL,
                               "address %.60s: in bridged mode the prefix is the bridge "
                               "subnet's (%s/%u), so /%u would not hold: give %s or %s/%u",
                               text, sub, want, a->prefix, canon, canon, want);
        }
        return vps_err(err, EINVAL,
                       "address %.60s: in routed mode each address is routed to the VPS "
                       "alone, so its prefix can only be /%u: give %s or %s/%u",
                       text, want, canon, canon, want);
}

int vps_net_check_ips(const struct vps_manager *m, const struct vps_inst *self,
                      enum vps_netmode mode, char ips[][46], unsigned int n, vps_error *err)
{
        for (unsigned int i = 0; i < n; i++) {
                struct ns_addr a;
                int r = ns_addr_parse(ips[i], &a, err);
                if (r < 0)
                        return r;
                char canon[64];
                ns_addr_format(&a, canon, sizeof(canon));
                if ((r = check_prefix(&m->net, mode, ips[i], &a, canon, err)) < 0)
                        return r;
                if (mode == VPS_NET_ROUTED) {
                        if ((r = vps_routed_check_ip(&m->net, &a, canon, err)) < 0)
                                return r;
                } else if (a.family == AF_INET6)
                        return vps_err(err, EINVAL,
                                       "address %s is IPv6: bridged mode has an IPv4 subnet only "
                                       "(use --netmode routed)",
                                       canon);
                else if (!ns_addr_in(&a, &m->net.subnet))
                        return vps_err(err, EINVAL,
                                       "address %s is outside the bridge subnet of vpsd", canon);
                if (mode == VPS_NET_BRIDGED && special(&m->net, &a))
                        return vps_err(err, EINVAL,
                                       "address %s is the subnet's network, gateway or "
                                       "broadcast address",
                                       canon);
                for (unsigned int j = 0; j < i; j++) {
                        struct ns_addr b;
                        if (ns_addr_parse(ips[j], &b, err) == 0 && ns_addr_equal(&a, &b))
                                return vps_err(err, EINVAL, "address %s is given twice", canon);
                }
                for (size_t k = 0; k < m->n; k++) {
                        const struct vps_inst *o = m->v[k];
                        for (unsigned int j = 0; o != self && j < o->cfg.n_ip; j++) {
                                struct ns_addr b;
                                vps_error e;
                                if (ns_addr_parse(o->cfg.ip[j], &b, &e) == 0 &&
                                    ns_addr_equal(&a, &b))
                                        return vps_err(err, EEXIST,
                                                       "address %s is already used by VPS %s",
                                                       canon, o->cfg.id);
                        }
                }
                canon[45] = '\0';
                memcpy(ips[i], canon, strlen(canon) + 1);
        }
        return 0;
}

/* Port forwards from the host's own 127.0.0.1 (vpsctl(8): "any local address"): the DNAT'd
 * packet leaves on the bridge with a loopback source, which the kernel routes only with
 * route_localnet on the bridge, and which is masqueraded to the bridge's address so the VPS
 * can answer. route_localnet would also let loopback addresses in from the bridge: a VPS
 * must never reach the host's 127.0.0.1 services, nor send from 127/8, so both are dropped
 * before routing (priority -300, ahead of conntrack's NAT, so the replies of forwarded
 * connections, addressed to the bridge until un-NATed, pass). */
static void localnet_rules(const char *b, char *cmd, size_t size)
{
        size_t n = strlen(cmd);
        (void)snprintf(cmd + n, size - n,
                       "add rule ip vpsd_%s postrouting oifname \"%s\" ip saddr 127.0.0.0/8 "
                       "masquerade\n"
                       "add chain ip vpsd_%s localnet { type filter hook prerouting priority "
                       "-300; policy accept; }\n"
                       "flush chain ip vpsd_%s localnet\n"
                       "add rule ip vpsd_%s localnet iifname \"%s\" ip saddr 127.0.0.0/8 drop\n"
                       "add rule ip vpsd_%s localnet iifname \"%s\" ip daddr 127.0.0.0/8 drop\n",
                       b, b, b, b, b, b, b, b);
}

static int localnet_on(const char *bridge, vps_error *err)
{
        char path[96];
        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", bridge);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "1", 1) != 1)
                return vps_err_sys(err, errno, "enabling route_localnet on %s", bridge);
        return 0;
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
        char net[64], cmd[8192];
        ns_addr_format(&m->net.subnet, net, sizeof(net));
        const char *b = m->net.bridge;
        (void)snprintf(cmd, sizeof(cmd),
                       "add table ip vpsd_%s\n"
                       "add chain ip vpsd_%s postrouting { type nat hook postrouting priority "
                       "100; policy accept; }\n"
                       "flush chain ip vpsd_%s postrouting\n"
                       "add rule ip vpsd_%s postrouting ip saddr %s/%u ip daddr != %s/%u "
                       "masquerade\n"
                       "add table bridge vpsd_%s\n"
                       "add map bridge vpsd_%s ports { type ifname : verdict; }\n"
                       "add chain bridge vpsd_%s prerouting { type filter hook prerouting "
                       "priority -200; policy accept; }\n"
                       "flush chain bridge vpsd_%s prerouting\n"
                       "add rule bridge vpsd_%s prerouting iifname vmap @ports\n"
                       /* What every port lets through besides the VPS's own checks. */
                       "add chain bridge vpsd_%s guard\n"
                       "flush chain bridge vpsd_%s guard\n"
                       /* Bytes and packets to each VPS: its port's named rx counter. */
                       "add map bridge vpsd_%s rx { type ifname : counter; }\n"
                       "add chain bridge vpsd_%s postrouting { type filter hook postrouting "
                       "priority -200; policy accept; }\n"
                       "flush chain bridge vpsd_%s postrouting\n"
                       "add rule bridge vpsd_%s postrouting counter name oifname map @rx\n"
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
                       b, b, b, b, net, m->net.subnet.prefix, net, m->net.subnet.prefix, b, b, b, b,
                       b, b, b, b, b, b, b, b, b, b, b, b, b, b);
        vps_net_bridge_guard(b, cmd, sizeof(cmd));
        char table[IFNAMSIZ + 12], from_vps[IFNAMSIZ + 16];
        (void)snprintf(table, sizeof(table), "ip vpsd_%s", b);
        (void)snprintf(from_vps, sizeof(from_vps), "iifname \"%s\"", b);
        vps_net_host_input(&m->net, table, from_vps, cmd, sizeof(cmd));
        localnet_rules(b, cmd, sizeof(cmd));
        if ((r = ns_nft_run(cmd, err)) < 0 || (r = localnet_on(b, err)) < 0)
                return r;
        _cleanup_close_ int fwd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
        if (fwd < 0 || write(fwd, "1", 1) != 1)
                return vps_err_sys(err, errno, "enabling IPv4 forwarding");
        m->net.ready = true;
        return 0;
}

static int filter_set(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        /* Its jump to the guard needs this daemon's tables (a VPS re-adopted from an older
         * vpsd changes its addresses before any start). */
        int r = prepare_host(m, err);
        if (r < 0)
                return r;
        char cmd[4096];
        vps_net_bridge_filter_text(m, vi, cmd, sizeof(cmd));
        return ns_nft_run(cmd, err);
}

int vps_net_readopt(struct vps_manager *m, vps_error *err)
{
        _cleanup_free_ char *all = NULL;
        size_t len = 0, cap = 0;
        bool bridged = false, routed = false;
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                if (vi->status == VPS_STOPPED || vi->cfg.n_ip == 0)
                        continue;
                char cmd[4096];
                if (vi->cfg.netmode == VPS_NET_ROUTED)
                        vps_routed_filter_text(m, &vi->cfg, cmd, sizeof(cmd));
                else
                        vps_net_bridge_filter_text(m, vi, cmd, sizeof(cmd));
                routed |= vi->cfg.netmode == VPS_NET_ROUTED;
                bridged |= vi->cfg.netmode != VPS_NET_ROUTED;
                int r = vps_buf_append(&all, &len, &cap, cmd, strlen(cmd), 64u << 20, 0);
                if (r < 0)
                        return vps_err(err, -r, "the filters of the running VPSes");
        }
        int r = 0;
        if ((bridged && (r = prepare_host(m, err)) < 0) ||
            (routed && (r = vps_routed_prepare(m, err)) < 0))
                return r;
        /* One batch: libnftables reads the whole table back on each run. */
        return all ? ns_nft_run(all, err) : 0;
}

static int stale_veth(const struct vps_manager *m, const struct vps_config *cfg, const char *veth,
                      bool check_only, vps_error *err);

/* "add"/"delete" the forward elements of cfg into cmd. */
static void forward_elements(const struct vps_manager *m, const struct vps_config *cfg,
                             const char *verb, char *cmd, size_t size)
{
        size_t n = strlen(cmd);
        for (unsigned int i = 0; i < cfg->n_fwd && cfg->n_ip > 0 && n < size; i++) {
                char proto[8];
                unsigned int hp, vp;
                if (sscanf(cfg->forward[i], "%7[a-z]:%u:%u", proto, &hp, &vp) != 3)
                        continue;
                int w = snprintf(cmd + n, size - n,
                                 "%s element ip vpsd_%s forwards { %s . %u : %s . %u }\n", verb,
                                 m->net.bridge, proto, hp, cfg->ip[0], vp);
                n += w > 0 ? (size_t)w : 0;
        }
}

void vps_net_detach(struct vps_manager *m, const struct vps_config *cfg)
{
        char veth[IFNAMSIZ], cmd[2048];
        vps_net_veth_name(&m->net, cfg->id, veth);
        vps_error e;
        /* The run's traffic into the VPS's totals before its counters go with its chain. */
        (void)vps_traffic_fold(m, cfg, &e);
        if (cfg->netmode == VPS_NET_ROUTED) {
                vps_routed_detach(m, cfg);
        } else {
                const char *b = m->net.bridge, *id = cfg->id;
                /* Some of these may be absent (a VPS without network, or started by an older
                 * vpsd): ns_nft_run_each. */
                (void)snprintf(cmd, sizeof(cmd),
                               "delete element bridge vpsd_%s ports { \"%s\" }\n"
                               "delete element bridge vpsd_%s rx { \"%s\" }\n"
                               "delete chain bridge vpsd_%s vps_%s\n"
                               "delete counter bridge vpsd_%s tx_%s\n"
                               "delete counter bridge vpsd_%s rx_%s\n",
                               b, veth, b, veth, b, id, b, id, b, id);
                forward_elements(m, cfg, "delete", cmd, sizeof(cmd));
                ns_nft_run_each(cmd);
        }
        /* The kernel would remove the pair with the VPS's network namespace, but later, from
         * a work queue: delete it now so a stop leaves nothing behind when it returns. */
        (void)stale_veth(m, cfg, veth, false, &e);
        /* The ifb of --rate is a host device of its own. */
        char ifb[IFNAMSIZ];
        link_name(&m->net, cfg->id, true, ifb);
        unsigned int idx = if_nametoindex(ifb);
        if (idx)
                (void)ns_link_del(idx, &e);
}

int vps_net_update_forwards(struct vps_manager *m, const struct vps_config *old,
                            const struct vps_config *now, vps_error *err)
{
        if (!m->net.ready)
                return 0;
        char cmd[4096] = "";
        vps_error e;
        forward_elements(m, old, "delete", cmd, sizeof(cmd));
        if (cmd[0])
                (void)ns_nft_run(cmd, &e);
        cmd[0] = '\0';
        forward_elements(m, now, "add", cmd, sizeof(cmd));
        return cmd[0] ? ns_nft_run(cmd, err) : 0;
}

int vps_net_check_forwards(const struct vps_manager *m, const struct vps_inst *self,
                           const struct vps_config *cfg, char fwd[][24], unsigned int n,
                           vps_error *err)
{
        if (n > 0 && cfg->n_ip == 0)
                return vps_err(err, EINVAL, "--forward needs the VPS to have an address");
        if (n > 0 && cfg->netmode == VPS_NET_ROUTED)
                return vps_err(err, EINVAL,
                               "--forward is for bridged VPSes: a routed VPS's own addresses "
                               "are reachable");
        for (unsigned int i = 0; i < n; i++) {
                char proto[8], extra;
                unsigned int hp, vp;
                if (sscanf(fwd[i], "%7[a-zA-Z]:%u:%u%c", proto, &hp, &vp, &extra) != 3 || hp == 0 ||
                    hp > 65535 || vp == 0 || vp > 65535)
                        return vps_err(err, EINVAL,
                                       "invalid forward '%.30s': expected TCP:HOSTPORT:VPSPORT "
                                       "or UDP:HOSTPORT:VPSPORT",
                                       fwd[i]);
                for (char *p = proto; *p; p++)
                        *p = (char)(*p | 0x20);
                if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
                        return vps_err(err, EINVAL,
                                       "invalid forward '%.30s': protocol must be tcp or udp",
                                       fwd[i]);
                (void)snprintf(fwd[i], 24, "%s:%u:%u", proto, hp, vp);
                char key[16];
                (void)snprintf(key, sizeof(key), "%s:%u:", proto, hp);
                for (unsigned int j = 0; j < i; j++)
                        if (strncmp(fwd[j], key, strlen(key)) == 0)
                                return vps_err(err, EINVAL, "host port %s %u is given twice", proto,
                                               hp);
                for (size_t k = 0; k < m->n; k++) {
                        const struct vps_inst *o = m->v[k];
                        for (unsigned int j = 0; o != self && j < o->cfg.n_fwd; j++)
                                if (strncmp(o->cfg.forward[j], key, strlen(key)) == 0)
                                        return vps_err(err, EEXIST,
                                                       "host port %s %u is already forwarded "
                                                       "to VPS %s",
                                                       proto, hp, o->cfg.id);
                }
        }
        return 0;
}

int vps_net_prepare_child(const struct vps_manager *m, const struct vps_inst *vi,
                          struct vps_net_child *ret, vps_error *err)
{
        memset(ret, 0, sizeof(*ret));
        ret->routed = vi->cfg.netmode == VPS_NET_ROUTED;
        for (unsigned int i = 0; i < vi->cfg.n_ip && i < 16; i++) {
                int r = ns_addr_parse(vi->cfg.ip[i], &ret->addr[i], err);
                if (r < 0)
                        return r;
                if (!ret->routed)
                        ret->addr[i].prefix = m->net.subnet.prefix;
                ret->n++;
        }
        if (!ret->routed) {
                ret->gateway = m->net.gateway;
                return 0;
        }
        (void)ns_addr_parse(VPS_ROUTED_GW4, &ret->gateway, err);
        return ns_addr_parse(VPS_ROUTED_GW6, &ret->gateway6, err);
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
         * ours when the VPS is routed. */
        if (n <= 0 && cfg->netmode == VPS_NET_ROUTED)
                return check_only ? 0 : ns_link_del(old, err);
        return vps_err(err, EEXIST, "interface %s already exists outside bridge %s", veth,
                       m->net.bridge);
}

int vps_net_filter(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        /* The filter is keyed by the veth's name: not while that name is someone else's
         * interface, whose traffic it would take over. */
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        int r = stale_veth(m, &vi->cfg, veth, true, err);
        vps_error e;
        /* Counters left by a run that was not folded (or what was last seen of them) go into
         * the VPS's totals before this run's start at zero. */
        if (r == 0)
                (void)vps_traffic_fold(m, &vi->cfg, &e);
        if (r < 0)
                return r;
        if (vi->cfg.netmode == VPS_NET_ROUTED)
                return vps_routed_filter(m, vi, err);
        r = prepare_host(m, err);
        if (r < 0)
                return vps_err_wrap(err, "preparing bridge %s", m->net.bridge);
        char fcmd[2048] = "";
        forward_elements(m, &vi->cfg, "add", fcmd, sizeof(fcmd));
        if (fcmd[0] && (r = ns_nft_run(fcmd, err)) < 0)
                return vps_err_wrap(err, "port forwards");
        return filter_set(m, vi, err);
}

int vps_net_attach(struct vps_manager *m, const struct vps_inst *vi, pid_t pid, vps_error *err)
{
        bool routed = vi->cfg.netmode == VPS_NET_ROUTED;
        int r;
        char veth[IFNAMSIZ];
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        uint8_t mac[6];
        vps_net_mac(vi->cfg.id, mac);
        if ((r = stale_veth(m, &vi->cfg, veth, false, err)) < 0)
                return r;
        if ((r = ns_veth_create(veth, "eth0", pid, mac, vps_net_mtu(&m->net), err)) < 0)
                return r;
        unsigned int idx = if_nametoindex(veth);
        if (!idx)
                return vps_err_sys(err, errno ? errno : ENODEV, "finding %s", veth);
        char ifb[IFNAMSIZ];
        link_name(&m->net, vi->cfg.id, true, ifb);
        if (vi->cfg.rate && (r = ns_tc_rate(idx, ifb, vi->cfg.rate, err)) < 0)
                return vps_err_wrap(err, "--rate on %s", veth);
        if (routed)
                return vps_routed_attach(m, vi, idx, err) < 0 ? vps_err_wrap(err, "%s", veth) : 0;
        unsigned int br = if_nametoindex(m->net.bridge);
        if (!br)
                return vps_err_sys(err, errno ? errno : ENODEV, "finding %s", m->net.bridge);
        if ((r = ns_link_set_master(idx, br, err)) < 0 ||
            (r = ns_link_set_flags(idx, IFF_UP, IFF_UP, err)) < 0)
                return vps_err_wrap(err, "%s", veth);
        return 0;
}

int vps_net_set_rate(const struct vps_netconf *n, const struct vps_inst *vi,
                     uint64_t bits_per_sec, vps_error *err)
{
        char veth[IFNAMSIZ];
        vps_net_veth_name(n, vi->cfg.id, veth);
        unsigned int idx = if_nametoindex(veth);
        if (!idx)
                return 0; /* running without a network: nothing to limit until it has one */
        char ifb[IFNAMSIZ];
        link_name(n, vi->cfg.id, true, ifb);
        int r = ns_tc_rate(idx, ifb, bits_per_sec, err);
        return r < 0 ? vps_err_wrap(err, "--rate on %s", veth) : 0;
}

/* Default routes of the families the VPS has addresses of. */
static int default_routes(unsigned int idx, const struct vps_net_child *nc, vps_error *err)
{
        bool v4 = false, v6 = false;
        for (unsigned int i = 0; i < nc->n; i++) {
                v4 |= nc->addr[i].family == AF_INET;
                v6 |= nc->addr[i].family == AF_INET6;
        }
        int r = 0;
        if (v4)
                r = ns_route_default(idx, &nc->gateway, nc->routed, err);
        if (r == 0 && v6 && nc->routed)
                r = ns_route_default(idx, &nc->gateway6, false, err);
        return r;
}

int vps_net_child_setup(const struct vps_net_child *nc, vps_error *err)
{
        unsigned int idx = if_nametoindex("eth0");
        if (!idx)
                return vps_err_sys(err, errno, "finding eth0");
        int r;
        for (unsigned int i = 0; i < nc->n; i++)
                if ((r = ns_addr_add(idx, &nc->addr[i], err)) < 0)
                        return vps_err_wrap(err, "eth0");
        if ((r = ns_link_set_flags(idx, IFF_UP, IFF_UP, err)) < 0 ||
            (r = default_routes(idx, nc, err)) < 0)
                return vps_err_wrap(err, "eth0");
        return 0;
}

/* In a child that joined the VPS's network namespace: make eth0 hold exactly the new list. */
static int sync_addrs(const struct vps_net_child *now, const struct vps_net_child *before)
{
        unsigned int idx = if_nametoindex("eth0");
        vps_error e;
        if (!idx)
                return 2;
        for (unsigned int i = 0; i < before->n; i++) {
                bool keep = false;
                for (unsigned int j = 0; j < now->n; j++)
                        keep |= ns_addr_equal(&before->addr[i], &now->addr[j]);
                int r = keep ? 0 : ns_addr_del(idx, &before->addr[i], &e);
                if (r < 0 && r != -EADDRNOTAVAIL) /* gone already: as asked */
                        return 3;
        }
        for (unsigned int j = 0; j < now->n; j++) {
                int r = ns_addr_add(idx, &now->addr[j], &e);
                if (r < 0 && r != -EEXIST)
                        return 4;
        }
        return default_routes(idx, now, &e) < 0 ? 5 : 0;
}

/* In a helper that joins the VPS's network namespace: eth0 set up from nothing (fresh: a veth
 * just made) or brought from the addresses of before to those of now. */
struct netns_call {
        const struct vps_inst *vi;
        const struct vps_net_child *now, *before;
        bool fresh;
};

static int in_netns(void *arg, vps_error *err)
{
        const struct netns_call *c = arg;
        if (setns(c->vi->pidfd, CLONE_NEWNET) < 0)
                return vps_err_sys(err, errno, "entering the network namespace of VPS %s",
                                   c->vi->cfg.id);
        if (c->fresh)
                return vps_net_child_setup(c->now, err);
        int step = sync_addrs(c->now, c->before);
        return step ? vps_err(err, EIO, "changing the addresses inside VPS %s failed (step %d)",
                              c->vi->cfg.id, step)
                    : 0;
}

static int inside(const struct vps_inst *vi, const struct vps_net_child *now,
                  const struct vps_net_child *before, bool fresh, vps_error *err)
{
        struct netns_call c = {vi, now, before, fresh};
        return vps_helper_run(vi->cfg.id, "changing the addresses of its eth0", vi->pidfd, in_netns,
                              &c, err);
}

int vps_net_update_live(struct vps_manager *m, const struct vps_inst *vi, char old_ips[][46],
                        unsigned int n_old, bool undo, vps_error *err)
{
        struct vps_net_child now, before = {0};
        int r = vps_net_prepare_child(m, vi, &now, err);
        for (unsigned int i = 0; r == 0 && i < n_old; i++) {
                r = ns_addr_parse(old_ips[i], &before.addr[i], err);
                if (!now.routed)
                        before.addr[i].prefix = m->net.subnet.prefix;
                before.n++;
        }
        if (r < 0 || (n_old == 0 && vi->cfg.n_ip == 0))
                return r;
        vps_error e;
        if (n_old == 0) {
                /* Running without a network (started without an address, or all of them
                 * deleted since): its veth now, as a start would make it. */
                if ((r = vps_net_filter(m, vi, err)) == 0 &&
                    (r = vps_net_attach(m, vi, vi->st.pid, err)) == 0 &&
                    (r = inside(vi, &now, &before, true, err)) == 0)
                        return 0;
                vps_net_detach(m, &vi->cfg);
                return r;
        }
        /* Undoing a failed change, the host side is put back even when the guest's is not. */
        if ((r = inside(vi, &now, &before, false, err)) < 0 && !undo)
                return r;
        if (vi->cfg.n_ip == 0) {
                struct vps_config old = vi->cfg;
                for (unsigned int i = 0; i < n_old; i++)
                        memcpy(old.ip[i], old_ips[i], sizeof(old.ip[i]));
                old.n_ip = n_old;
                vps_net_detach(m, &old);
                return r;
        }
        vps_error *herr = r < 0 ? &e : err;
        int h = now.routed ? vps_routed_update(m, vi, old_ips, n_old, herr)
                           : filter_set(m, vi, herr);
        return r < 0 ? r : h;
}

/* One counter into res as {"ID": {"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"}}. */
static void merge_counter(const char *name, uint64_t bytes, uint64_t packets, void *arg)
{
        json_t *res = arg;
        if (strncmp(name, "rx_", 3) && strncmp(name, "tx_", 3))
                return;
        json_t *o = json_object_get(res, name + 3);
        if (!o) {
                o = json_object();
                if (json_object_set_new(res, name + 3, o) < 0)
                        return;
        }
        char key[16];
        (void)snprintf(key, sizeof(key), "%.2s_bytes", name);
        json_object_set_new(o, key, json_integer((json_int_t)bytes));
        (void)snprintf(key, sizeof(key), "%.2s_packets", name);
        json_object_set_new(o, key, json_integer((json_int_t)packets));
}

/* The named rx_ID/tx_ID counters of one table (vpsd_BR of family bridge, vpsr_BR of inet),
 * merged into res: one netlink dump for all VPSes, or two gets when id is given. */
static void merge_counters(int family, const char *table, const char *id, json_t *res)
{
        vps_error e;
        if (!res)
                return;
        if (!id) {
                (void)ns_nft_counters(family, table, NULL, merge_counter, res, &e);
                return;
        }
        char name[VPS_ID_MAX + 4];
        (void)snprintf(name, sizeof(name), "rx_%s", id);
        (void)ns_nft_counters(family, table, name, merge_counter, res, &e);
        name[0] = 't';
        (void)ns_nft_counters(family, table, name, merge_counter, res, &e);
}

json_t *vps_net_counters(struct vps_manager *m, const struct vps_inst *only)
{
        /* The tables of this daemon, or of the one before it (a restart keeps the VPSes). */
        bool bridged = m->net.ready, routed = m->net.routed_ready;
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                bool up = vi->status != VPS_STOPPED && vi->cfg.n_ip > 0;
                bridged |= up && vi->cfg.netmode == VPS_NET_BRIDGED;
                routed |= up && vi->cfg.netmode == VPS_NET_ROUTED;
        }
        if (only) {
                bridged &= only->cfg.netmode == VPS_NET_BRIDGED;
                routed &= only->cfg.netmode == VPS_NET_ROUTED;
        }
        if (!bridged && !routed)
                return NULL;
        json_t *res = json_object();
        char table[64];
        const char *id = only ? only->cfg.id : NULL;
        (void)snprintf(table, sizeof(table), "vpsd_%s", m->net.bridge);
        if (bridged)
                merge_counters(NFPROTO_BRIDGE, table, id, res);
        (void)snprintf(table, sizeof(table), "vpsr_%s", m->net.bridge);
        if (routed)
                merge_counters(NFPROTO_INET, table, id, res);
        return res;
}
