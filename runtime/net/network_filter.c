/* libvps: what a VPS may reach of the host itself (vpsd.conf host_allow), as nft text shared
 * by both backends (each VPS's own filter is its backend's): services listening on every
 * address of the host (its sshd, a future TCP API) would otherwise answer a VPS at its
 * gateway, so the input filter lets through only what VPSes need (ICMP, replies to the host's
 * own connections) and the ports of vpsd.conf host_allow (default DNS). Forwarded traffic
 * (NAT, port forwards, VPS to VPS) never meets the input hook, so it is not touched. */
#include "net/backend.h"

#include <ctype.h>
#include <errno.h>
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

void vps_net_host_input(const struct vps_netconf *n, const char *table, const char *from_vps,
                        char *cmd, size_t size)
{
        /* Its own chain, jumped to from an input base chain that only picks the packets that
         * came from a VPS: an accept here does not override a drop of the host's own
         * firewall, and its drop is final. */
        vps_nft_addf(
                cmd, size,
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
                vps_nft_addf(cmd, size, "add rule %s from_vps tcp dport { %s } accept\n", table,
                             n->host_tcp);
        if (n->host_udp[0])
                vps_nft_addf(cmd, size, "add rule %s from_vps udp dport { %s } accept\n", table,
                             n->host_udp);
        vps_nft_addf(cmd, size, "add rule %s from_vps drop\n", table);
}
