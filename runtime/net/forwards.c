/* libvps: port forwards of bridged VPSes (--forward PROTO:HOSTPORT:VPSPORT): checked,
 * canonical, and DNAT'd by the elements of the map forwards in vpsd's ip table. */
#include "net/backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inst/inst.h"

void vps_net_forward_elements(const struct vps_manager *m, const struct vps_config *cfg,
                              const char *verb, char *cmd, size_t size)
{
        for (unsigned int i = 0; i < cfg->n_fwd && cfg->n_ip > 0; i++) {
                char proto[8];
                unsigned int hp, vp;
                if (sscanf(cfg->forward[i], "%7[a-z]:%u:%u", proto, &hp, &vp) != 3)
                        continue;
                vps_nft_addf(cmd, size, "%s element ip vpsd_%s forwards { %s . %u : %s . %u }\n",
                             verb, m->net.bridge, proto, hp, cfg->ip[0], vp);
        }
}

int vps_net_update_forwards(struct vps_manager *m, const struct vps_config *old,
                            const struct vps_config *now, vps_error *err)
{
        if (!m->net.ready)
                return 0;
        char cmd[4096] = "";
        vps_error e;
        vps_net_forward_elements(m, old, "delete", cmd, sizeof(cmd));
        if (cmd[0])
                (void)ns_nft_run(cmd, &e);
        cmd[0] = '\0';
        vps_net_forward_elements(m, now, "add", cmd, sizeof(cmd));
        return cmd[0] ? ns_nft_run(cmd, err) : 0;
}

int vps_net_check_forwards(const struct vps_manager *m, const struct vps_inst *self,
                           const struct vps_config *cfg, char fwd[][24], unsigned int n,
                           vps_error *err)
{
        if (n > 0 && cfg->n_ip == 0)
                return vps_err(err, EINVAL, "'forward' needs the VPS to have an address");
        if (n > 0 && cfg->netmode == VPS_NET_ROUTED)
                return vps_err(err, EINVAL,
                               "'forward' is for bridged VPSes: a routed VPS's own addresses "
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
                                        return vps_err(err, EADDRINUSE,
                                                       "host port %s %u is already forwarded "
                                                       "to VPS %s",
                                                       proto, hp, o->cfg.id);
                }
        }
        return 0;
}
