/* libvps: routed VPS networking (OpenVZ venet style, for public addresses). Each address of
 * the VPS is a /32 or /128 route to the host end of its veth; the host answers ARP and NDP for
 * it on the uplink (proxy neighbour entries), so the upstream router sees it as on-link; the
 * host end carries 169.254.0.1 and fe80::1, the guest's default gateways. Anti-spoofing and
 * traffic counters live in the inet table vpsr_BRIDGE (one per vpsd, as vpsd_BRIDGE is). */
#include "vps/cleanup.h"
#include "core/manager.h"
#include "net/network.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_sysctl(const char *path, const char *value, vps_error *err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

static int read_sysctl(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
        return n > 0 ? 0 : -1;
}

/* The interface of the default route of a family, from /proc/net/route or ipv6_route. */
static unsigned int default_route_dev(int family)
{
        _cleanup_fclose_ FILE *f =
                fopen(family == AF_INET ? "/proc/net/route" : "/proc/net/ipv6_route", "re");
        char line[512], dev[IFNAMSIZ + 1];
        while (f && fgets(line, sizeof(line), f)) {
                if (family == AF_INET) {
                        unsigned int dst, mask;
                        if (sscanf(line, "%16s %x %*x %*x %*d %*d %*d %x", dev, &dst, &mask) == 3 &&
                            dst == 0 && mask == 0)
                                return if_nametoindex(dev);
                } else {
                        char dst[33], len[3];
                        if (sscanf(line, "%32s %2s %*s %*s %*s %*s %*s %*s %*s %16s", dst, len,
                                   dev) == 3 &&
                            strcmp(len, "00") == 0 && strspn(dst, "0") == 32 && strcmp(dev, "lo"))
                                return if_nametoindex(dev);
                }
        }
        return 0;
}

static unsigned int uplink(const struct vps_netconf *n, int family)
{
        return n->uplink[0] ? if_nametoindex(n->uplink) : default_route_dev(family);
}

unsigned int vps_net_mtu(struct vps_netconf *n)
{
        if (n->mtu)
                return n->mtu;
        char name[IFNAMSIZ], path[64], val[16];
        unsigned int up = uplink(n, AF_INET), mtu = 0;
        if (up && if_indextoname(up, name)) {
                (void)snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", name);
                if (read_sysctl(path, val, sizeof(val)) == 0)
                        mtu = (unsigned int)strtoul(val, NULL, 10);
        }
        n->mtu = mtu >= 1280 && mtu <= 65535 ? mtu : 1500;
        return n->mtu;
}

int vps_routed_check_ip(const struct vps_netconf *n, const struct ns_addr *a, const char *canon,
                        vps_error *err)
{
        static const char *const reserved[] = {
                "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3",
                "::/127",    "fe80::/10",   "ff00::/8",       "::ffff:0:0/96",
        };
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

/* What every routed veth shares (the chain guard), appended to cmd. The veth is a link of
 * two, the VPS and the host, so no neighbour sees the VPS's frames: VLAN tags and foreign
 * ether types end in the host's stack, which has no VLAN device or handler for them (nor
 * does this inet table see them). What a VPS could still tell the host: router
 * advertisements (a host that does not forward IPv6 would take a route or an address from
 * them), redirects, anything from the unspecified address but duplicate address detection
 * and its MLD reports, DHCP server answers. */
static void guard_rules(const char *b, char *cmd, size_t size)
{
        size_t n = strlen(cmd);
        (void)snprintf(cmd + n, size - n,
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

/* Once per daemon: the filter table; IPv6 forwarding and proxy NDP once a VPS has IPv6. */
static int prepare_host(struct vps_manager *m, bool v6, vps_error *err)
{
        const char *b = m->net.bridge;
        int r;
        if (!m->net.routed_ready) {
                char cmd[4096], table[IFNAMSIZ + 12];
                (void)snprintf(cmd, sizeof(cmd),
                               "add table inet vpsr_%s\n"
                               "add map inet vpsr_%s ports { type ifname : verdict; }\n"
                               "add chain inet vpsr_%s prerouting { type filter hook prerouting "
                               "priority -300; policy accept; }\n"
                               "flush chain inet vpsr_%s prerouting\n"
                               "add rule inet vpsr_%s prerouting iifname vmap @ports\n"
                               "add map inet vpsr_%s rx { type ifname : counter; }\n"
                               "add chain inet vpsr_%s postrouting { type filter hook "
                               "postrouting priority -300; policy accept; }\n"
                               "flush chain inet vpsr_%s postrouting\n"
                               "add rule inet vpsr_%s postrouting counter name oifname map @rx\n"
                               /* The routed veths, for the input filter. */
                               "add set inet vpsr_%s vports { type ifname; }\n",
                               b, b, b, b, b, b, b, b, b, b);
                guard_rules(b, cmd, sizeof(cmd));
                (void)snprintf(table, sizeof(table), "inet vpsr_%s", b);
                vps_net_host_input(&m->net, table, "iifname @vports", cmd, sizeof(cmd));
                if ((r = ns_nft_run(cmd, err)) < 0 ||
                    (r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err)) < 0)
                        return r;
                m->net.routed_ready = true;
        }
        if (v6 && !m->net.v6_ready) {
                unsigned int up = uplink(&m->net, AF_INET6);
                char name[IFNAMSIZ], path[128], val[8];
                if (up && if_indextoname(up, name)) {
                        /* Forwarding makes the kernel ignore router advertisements where
                         * accept_ra is 1: the uplink keeps them (2). */
                        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra",
                                       name);
                        if (read_sysctl(path, val, sizeof(val)) == 0 && val[0] == '1' &&
                            (r = write_sysctl(path, "2", err)) < 0)
                                return r;
                        (void)snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/proxy_ndp",
                                       name);
                        if ((r = write_sysctl(path, "1", err)) < 0)
                                return r;
                }
                if ((r = write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1", err)) < 0)
                        return r;
                m->net.v6_ready = true;
        }
        return 0;
}

/* The VPS's chain: only its own addresses may leave its veth (link-local and unspecified
 * IPv6 sources stay on the link: neighbour discovery needs them, and no router forwards
 * them; the link's only other end is the host), and only what the guard chain allows. */
void vps_routed_filter_text(const struct vps_manager *m, const struct vps_config *c, char *cmd,
                            size_t size)
{
        char veth[IFNAMSIZ], v4[VPS_MAX_IPS * 48] = "", v6[VPS_MAX_IPS * 48] = "fe80::/10, ::";
        vps_net_veth_name(&m->net, c->id, veth);
        for (unsigned int i = 0; i < c->n_ip; i++) {
                char *set = strchr(c->ip[i], ':') ? v6 : v4;
                strcat(set, set[0] ? ", " : "");
                strcat(set, c->ip[i]);
        }
        const char *b = m->net.bridge, *id = c->id;
        char rule4[VPS_MAX_IPS * 48 + 64];
        if (v4[0])
                (void)snprintf(rule4, sizeof(rule4), "meta nfproto ipv4 ip saddr != { %s } drop",
                               v4);
        else
                (void)snprintf(rule4, sizeof(rule4), "meta nfproto ipv4 drop");
        (void)snprintf(cmd, size,
                       "add chain inet vpsr_%s vps_%s\n"
                       "flush chain inet vpsr_%s vps_%s\n"
                       "add rule inet vpsr_%s vps_%s jump guard\n"
                       "add rule inet vpsr_%s vps_%s %s\n"
                       "add rule inet vpsr_%s vps_%s meta nfproto ipv6 ip6 saddr != { %s } drop\n"
                       "add counter inet vpsr_%s tx_%s\n"
                       "add counter inet vpsr_%s rx_%s\n"
                       "add rule inet vpsr_%s vps_%s counter name \"tx_%s\"\n"
                       "add element inet vpsr_%s rx { \"%s\" : \"rx_%s\" }\n"
                       "add element inet vpsr_%s vports { \"%s\" }\n"
                       "add element inet vpsr_%s ports { \"%s\" : jump vps_%s }\n",
                       b, id, b, id, b, id, b, id, rule4, b, id, v6, b, id, b, id, b, id, id, b,
                       veth, id, b, veth, b, veth, id);
}

static int filter_set(struct vps_manager *m, const struct vps_config *c, vps_error *err)
{
        char cmd[4096];
        vps_routed_filter_text(m, c, cmd, sizeof(cmd));
        return ns_nft_run(cmd, err);
}

int vps_routed_prepare(struct vps_manager *m, vps_error *err)
{
        return prepare_host(m, false, err);
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
                unsigned int up = uplink(n, a.family);
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

int vps_routed_filter(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        int r = prepare_host(m, has_v6(&vi->cfg), err);
        if (r < 0)
                return vps_err_wrap(err, "preparing routed networking");
        return filter_set(m, &vi->cfg, err);
}

int vps_routed_attach(struct vps_manager *m, const struct vps_inst *vi, unsigned int ifindex,
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

int vps_routed_update(struct vps_manager *m, const struct vps_inst *vi, char old_ips[][46],
                      unsigned int n_old, vps_error *err)
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
        int r = prepare_host(m, has_v6(&vi->cfg), err);
        if (r < 0 || (has_v6(&vi->cfg) && (r = gateway6(idx, err)) < 0))
                return r;
        (void)routes(&m->net, &old, &vi->cfg, false, idx, err);
        if ((r = routes(&m->net, &vi->cfg, NULL, true, idx, err)) < 0)
                return r;
        return filter_set(m, &vi->cfg, err);
}

void vps_routed_detach(struct vps_manager *m, const struct vps_config *cfg)
{
        char veth[IFNAMSIZ], cmd[1024];
        vps_net_veth_name(&m->net, cfg->id, veth);
        vps_error e;
        (void)routes(&m->net, cfg, NULL, false, if_nametoindex(veth), &e);
        const char *b = m->net.bridge, *id = cfg->id;
        /* Some may be absent: ns_nft_run_each. */
        (void)snprintf(cmd, sizeof(cmd),
                       "delete element inet vpsr_%s ports { \"%s\" }\n"
                       "delete element inet vpsr_%s rx { \"%s\" }\n"
                       "delete element inet vpsr_%s vports { \"%s\" }\n"
                       "delete chain inet vpsr_%s vps_%s\n"
                       "delete counter inet vpsr_%s tx_%s\n"
                       "delete counter inet vpsr_%s rx_%s\n",
                       b, veth, b, veth, b, veth, b, id, b, id, b, id);
        ns_nft_run_each(cmd);
}
