/* libvps: a VPS's addresses announced where they now live (net.h vps_net_announce). */
#include "net/backend.h"
#include "net/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>

int vps_net_announce(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        const struct vps_config *c = &vi->cfg;
        struct ns_addr addrs[VPS_MAX_IPS];
        unsigned int n = 0;
        for (unsigned int i = 0; i < c->n_ip && n < VPS_MAX_IPS; i++) {
                int r = ns_addr_parse(c->ip[i], &addrs[n], err);
                if (r < 0)
                        return r;
                n++;
        }
        if (n == 0)
                return 0;
        uint8_t mac[6];
        if (vps_net_backend_of(c->netmode)->on_bridge) {
                unsigned int br = if_nametoindex(m->net.bridge);
                if (!br)
                        return vps_err_sys(err, errno, "bridge %s", m->net.bridge);
                vps_net_mac(c->id, mac);
                return ns_announce(br, mac, addrs, n, err);
        }
        static const int families[] = {AF_INET, AF_INET6};
        for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
                struct ns_addr mine[VPS_MAX_IPS];
                unsigned int k = 0;
                for (unsigned int i = 0; i < n; i++)
                        if (addrs[i].family == families[f])
                                mine[k++] = addrs[i];
                unsigned int up = k ? vps_net_uplink(&m->net, families[f]) : 0;
                if (!up)
                        continue;
                int r = ns_link_mac(up, mac, err);
                if (r == -EAFNOSUPPORT)
                        continue; /* no neighbours to tell on a link without MACs */
                if (r < 0 || (r = ns_announce(up, mac, mine, k, err)) < 0)
                        return r;
        }
        return 0;
}

void vps_net_announce_or_warn(struct vps_manager *m, const struct vps_inst *vi, char *warning,
                              size_t size)
{
        vps_error e = {0};
        if (vps_net_announce(m, vi, &e) == 0)
                return;
        size_t used = strlen(warning);
        (void)snprintf(warning + used, size - used, "%sits addresses were not announced: %s",
                       used ? "; " : "", e.msg);
}
