/* libvps: the nftables filters of VPS networking, as text for libnftables. What may leave a
 * bridge port (an allowlist: the VPS's own MAC and addresses, untagged IPv4 and ARP), and what
 * a VPS may reach of the host itself: services listening on every address of the host (its
 * sshd, a future TCP API) would otherwise answer a VPS at its gateway, so the input filter
 * lets through only what VPSes need (ICMP, replies to the host's own connections) and the
 * ports of vpsd.conf host_allow (default DNS). Forwarded traffic (NAT, port forwards, VPS to
 * VPS) never meets the input hook, so it is not touched. */
#include "core/manager.h"
#include "net/network.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "PORT" or "LO-HI" of a host_allow item into list ("53, 8000-8100"). */
static int add_ports(char *list, size_t size, const char *ports, const char *item, vps_error *err)
{
        char *end = NULL;
        unsigned long lo = strtoul(ports, &end, 10), hi = lo;
        if (end != ports && *end == '-') {
                const char *h = end + 1;
                if (isdigit((unsigned char)*h))
                        hi = strtoul(h, &end, 10); /* else "53-": end stays on the '-' */
        }
        if (!isdigit((unsigned char)ports[0]) || *end || lo == 0 || hi > 65535 || lo > hi)
                return vps_err(err, EINVAL,
                               "invalid host_allow item '%.30s': expected tcp:PORT, udp:PORT or "
                               "PROTO:LOW-HIGH, ports 1 to 65535",
                               item);
        size_t n = strlen(list);
        int w = lo == hi ? snprintf(list + n, size - n, "%s%lu", n ? ", " : "", lo)
                         : snprintf(list + n, size - n, "%s%lu-%lu", n ? ", " : "", lo, hi);
        if (w < 0 || (size_t)w >= size - n)
                return vps_err(err, EINVAL, "host_allow: too many ports");
        return 0;
}

int vps_net_configure_host_allow(struct vps_netconf *n, const char *spec, vps_error *err)
{
        n->host_tcp[0] = n->host_udp[0] = '\0';
        if (!spec || !*spec)
                spec = VPS_DEFAULT_HOST_ALLOW;
        if (strcmp(spec, "none") == 0)
                return 0;
        char copy[VPS_HOST_ALLOW_MAX];
        if (strlen(spec) >= sizeof(copy))
                return vps_err(err, EINVAL, "host_allow: too long a list");
        strcpy(copy, spec);
        for (char *p = copy, *item; (item = strsep(&p, ","));) {
                while (*item == ' ')
                        item++;
                size_t len = strlen(item);
                while (len && item[len - 1] == ' ')
                        item[--len] = '\0';
                bool tcp = strncmp(item, "tcp:", 4) == 0, udp = strncmp(item, "udp:", 4) == 0;
                if (!tcp && !udp)
                        return vps_err(err, EINVAL,
                                       "invalid host_allow item '%.30s': expected tcp:PORT or "
                                       "udp:PORT (or none)",
                                       item);
                int r = add_ports(tcp ? n->host_tcp : n->host_udp, sizeof(n->host_tcp), item + 4,
                                  item, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void addf(char *buf, size_t size, const char *fmt, ...)
{
        size_t n = strlen(buf);
        if (n >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(buf + n, size - n, fmt, ap);
        va_end(ap);
}

void vps_net_host_input(const struct vps_netconf *n, const char *table, const char *from_vps,
                        char *cmd, size_t size)
{
        /* Its own chain, jumped to from an input base chain that only picks the packets that
         * came from a VPS: an accept here does not override a drop of the host's own
         * firewall, and its drop is final. */
        addf(cmd, size,
             "add chain %s input { type filter hook input priority 0; policy accept; }\n"
             "flush chain %s input\n"
             "add chain %s from_vps\n"
             "flush chain %s from_vps\n"
             "add rule %s input %s jump from_vps\n"
             /* Replies to what the host opened (an operator's ssh into a VPS), ICMP errors. */
             "add rule %s from_vps ct state established,related accept\n"
             /* Ping, path MTU discovery, neighbour discovery (routed IPv6). */
             "add rule %s from_vps meta l4proto { icmp, ipv6-icmp } accept\n",
             table, table, table, table, table, from_vps, table, table);
        if (n->host_tcp[0])
                addf(cmd, size, "add rule %s from_vps tcp dport { %s } accept\n", table,
                     n->host_tcp);
        if (n->host_udp[0])
                addf(cmd, size, "add rule %s from_vps udp dport { %s } accept\n", table,
                     n->host_udp);
        addf(cmd, size, "add rule %s from_vps drop\n", table);
}

/* The allowlist every bridge port shares (the chain guard), appended to cmd: untagged IPv4
 * and ARP only (a VLAN tag shows as ether type 8021q even when the kernel carries it out of
 * band), ARP only as Ethernet/IPv4 requests and replies (the layout whose sender fields the
 * VPS's chain checks), and no DHCP server answers to a neighbour's client. Bridged mode has
 * no IPv6 (the subnet is IPv4): a VPS's IPv6 ends at its port, NDP and router
 * advertisements with it. */
void vps_net_bridge_guard(const char *b, char *cmd, size_t size)
{
        size_t n = strlen(cmd);
        (void)snprintf(cmd + n, size - n,
                       "add rule bridge vpsd_%s guard ether type != { ip, arp } drop\n"
                       "add rule bridge vpsd_%s guard ether type arp arp htype != 1 drop\n"
                       "add rule bridge vpsd_%s guard ether type arp arp ptype != ip drop\n"
                       "add rule bridge vpsd_%s guard ether type arp arp hlen != 6 drop\n"
                       "add rule bridge vpsd_%s guard ether type arp arp plen != 4 drop\n"
                       "add rule bridge vpsd_%s guard ether type arp arp operation != "
                       "{ request, reply } drop\n"
                       "add rule bridge vpsd_%s guard ether type ip udp sport bootps drop\n",
                       b, b, b, b, b, b, b);
}

/* The VPS's chain: only its own MAC (Ethernet source and ARP sender) and addresses (IPv4
 * source, ARP sender) may leave its port, and only what the guard chain allows. */
void vps_net_bridge_filter_text(const struct vps_manager *m, const struct vps_inst *vi, char *cmd,
                                size_t size)
{
        char veth[IFNAMSIZ], set[VPS_MAX_IPS * 48] = "";
        vps_net_veth_name(&m->net, vi->cfg.id, veth);
        uint8_t mac[6];
        vps_net_mac(vi->cfg.id, mac);
        char ether[18];
        (void)snprintf(ether, sizeof(ether), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
                       mac[2], mac[3], mac[4], mac[5]);
        for (unsigned int i = 0; i < vi->cfg.n_ip; i++) {
                strcat(set, i ? ", " : "");
                strcat(set, vi->cfg.ip[i]);
        }
        const char *b = m->net.bridge, *id = vi->cfg.id;
        (void)snprintf(cmd, size,
                       "add chain bridge vpsd_%s vps_%s\n"
                       "flush chain bridge vpsd_%s vps_%s\n"
                       "add rule bridge vpsd_%s vps_%s ether saddr != %s drop\n"
                       "add rule bridge vpsd_%s vps_%s jump guard\n"
                       "add rule bridge vpsd_%s vps_%s ether type arp arp saddr ether != %s drop\n"
                       "add rule bridge vpsd_%s vps_%s ether type arp arp saddr ip != { %s } drop\n"
                       "add rule bridge vpsd_%s vps_%s ether type ip ip saddr != { %s } drop\n"
                       "add element bridge vpsd_%s ports { \"%s\" : jump vps_%s }\n",
                       b, id, b, id, b, id, ether, b, id, b, id, ether, b, id, set, b, id, set, b,
                       veth, id);
        size_t n = strlen(cmd);
        /* What passed the checks counts as the VPS's tx; rx is counted on the way out of the
         * bridge to its port. */
        (void)snprintf(cmd + n, size - n,
                       "add counter bridge vpsd_%s tx_%s\n"
                       "add counter bridge vpsd_%s rx_%s\n"
                       "add rule bridge vpsd_%s vps_%s counter name \"tx_%s\"\n"
                       "add element bridge vpsd_%s rx { \"%s\" : \"rx_%s\" }\n",
                       b, id, b, id, b, id, id, b, veth, id);
}
