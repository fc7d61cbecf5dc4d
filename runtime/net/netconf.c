/* libvps: vpsd.conf's network settings (bridge, subnet, netmode, uplink, MTU), and the
 * names and MAC a VPS's interfaces get from them (network.h, backend.h). */
#include "net/backend.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vps/cleanup.h"
#include "vps/util.h"

int vps_net_configure(struct vps_netconf *n, const char *bridge, const char *subnet, vps_error *err)
{
        memset(n, 0, sizeof(*n));
        if (!bridge || !*bridge || strlen(bridge) >= IFNAMSIZ || strpbrk(bridge, "/ :\"'"))
                return vps_err(err, EINVAL, "invalid bridge name '%.40s'", bridge ? bridge : "");
        strcpy(n->bridge, bridge);
        if (strcmp(bridge, VPS_DEFAULT_BRIDGE) != 0)
                (void)snprintf(n->tag, sizeof(n->tag), "%04x",
                               (unsigned int)(vps_fnv1a(bridge) & 0xffff));
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

int vps_net_configure_announce(struct vps_netconf *n, const char *when, vps_error *err)
{
        static const char *const names[] = {"migrated", "always", "never"};
        n->announce = VPS_ANNOUNCE_MIGRATED;
        if (!when || !*when)
                return 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(when, names[i]) == 0) {
                        n->announce = (enum vps_announce)i;
                        return 0;
                }
        return vps_err(err, EINVAL, "invalid announce '%.20s': migrated, always or never", when);
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

/* "PREFIXID.0" ("veth101.0"), or a hash of the ID when it is too long for a name. A vpsd on
 * another bridge than the default puts its tag in the name ("v" TAG "101.0", ifb "i" TAG ...),
 * so two vpsds with a VPS of the same ID never want the same interface. */
void vps_net_link_name(const struct vps_netconf *n, const char *id, bool ifb, char ret[IFNAMSIZ])
{
        uint32_t h = vps_fnv1a(id);
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

void vps_net_veth_name(const struct vps_netconf *n, const char *id, char ret[IFNAMSIZ])
{
        vps_net_link_name(n, id, false, ret);
}

void vps_net_mac(const char *id, uint8_t mac[6])
{
        uint32_t h = vps_fnv1a(id);
        mac[0] = 0x02; /* locally administered, unicast */
        mac[1] = 0x56;
        memcpy(mac + 2, &h, 4);
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

unsigned int vps_net_uplink(const struct vps_netconf *n, int family)
{
        return n->uplink[0] ? if_nametoindex(n->uplink) : default_route_dev(family);
}

unsigned int vps_net_mtu(struct vps_netconf *n)
{
        if (n->mtu)
                return n->mtu;
        char name[IFNAMSIZ], path[64], val[16];
        unsigned int up = vps_net_uplink(n, AF_INET), mtu = 0;
        if (up && if_indextoname(up, name)) {
                (void)snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", name);
                if (vps_sysctl_read(path, val, sizeof(val)) == 0)
                        mtu = (unsigned int)strtoul(val, NULL, 10);
        }
        n->mtu = mtu >= 1280 && mtu <= 65535 ? mtu : 1500;
        return n->mtu;
}
