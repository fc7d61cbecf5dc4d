/* libvps: the backends by netmode, and the traffic counters of all of them (network.h). */
#include "net/backend.h"

#include <jansson.h>

#include "inst/inst.h"

const struct vps_net_backend *const vps_net_backends[VPS_NET_N_BACKENDS] = {
        [VPS_NET_BRIDGED] = &vps_net_bridged,
        [VPS_NET_ROUTED] = &vps_net_routed,
};

const struct vps_net_backend *vps_net_backend_of(enum vps_netmode mode)
{
        return (size_t)mode < VPS_NET_N_BACKENDS && vps_net_backends[mode] ? vps_net_backends[mode]
                                                                           : &vps_net_bridged;
}

json_t *vps_net_counters(struct vps_manager *m, const struct vps_inst *only)
{
        json_t *res = NULL;
        const char *id = only ? only->cfg.id : NULL;
        for (size_t b = 0; b < VPS_NET_N_BACKENDS; b++) {
                /* The tables of this daemon, or of the one before it (a restart keeps the
                 * VPSes). */
                bool used = vps_net_backends[b]->ready(&m->net);
                for (size_t i = 0; i < m->n; i++) {
                        const struct vps_inst *vi = m->v[i];
                        used |= vi->status != VPS_STOPPED && vi->cfg.n_ip > 0 &&
                                vps_net_backend_of(vi->cfg.netmode) == vps_net_backends[b];
                }
                if (!used || (only && vps_net_backend_of(only->cfg.netmode) != vps_net_backends[b]))
                        continue;
                if (!res)
                        res = json_object();
                vps_net_backends[b]->counters(m, id, res);
        }
        return res;
}
