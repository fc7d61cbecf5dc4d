/* libvps: a VPS's eth0, configured from inside its network namespace: by the VPS's child at
 * start (vps_net_child_setup), and by a helper that joins the namespace when the addresses of
 * a running VPS change (vps_net_eth0_update). */
#include "net/backend.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "vps/nsrun.h"
#include "inst/inst.h"

int vps_net_prepare_child(const struct vps_manager *m, const struct vps_inst *vi,
                          struct vps_net_child *ret, vps_error *err)
{
        memset(ret, 0, sizeof(*ret));
        for (unsigned int i = 0; i < vi->cfg.n_ip && i < 16; i++) {
                int r = ns_addr_parse(vi->cfg.ip[i], &ret->addr[i], err);
                if (r < 0)
                        return r;
                ret->n++;
        }
        vps_net_backend_of(vi->cfg.netmode)->child(&m->net, ret);
        return 0;
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

/* Inside the VPS's network namespace: eth0 made to hold exactly the new list. */
static int sync_addrs(const struct vps_net_child *now, const struct vps_net_child *before,
                      vps_error *err)
{
        unsigned int idx = if_nametoindex("eth0");
        if (!idx)
                return vps_err_sys(err, errno, "finding eth0");
        for (unsigned int i = 0; i < before->n; i++) {
                bool keep = false;
                for (unsigned int j = 0; j < now->n; j++)
                        keep |= ns_addr_equal(&before->addr[i], &now->addr[j]);
                int r = keep ? 0 : ns_addr_del(idx, &before->addr[i], err);
                if (r < 0 && r != -EADDRNOTAVAIL) /* gone already: as asked */
                        return vps_err_wrap(err, "eth0");
        }
        for (unsigned int j = 0; j < now->n; j++) {
                int r = ns_addr_add(idx, &now->addr[j], err);
                if (r < 0 && r != -EEXIST)
                        return vps_err_wrap(err, "eth0");
        }
        return default_routes(idx, now, err) < 0 ? vps_err_wrap(err, "eth0") : 0;
}

struct eth0_call {
        const struct vps_net_child *now, *before;
        bool fresh;
};

static int in_netns(void *arg, vps_error *err)
{
        const struct eth0_call *c = arg;
        return c->fresh ? vps_net_child_setup(c->now, err) : sync_addrs(c->now, c->before, err);
}

int vps_net_eth0_update(const struct vps_inst *vi, const struct vps_net_child *now,
                        const struct vps_net_child *before, bool fresh, vps_error *err)
{
        struct eth0_call c = {now, before, fresh};
        int r = vps_ns_run(vi->cfg.id, vi->pidfd, CLONE_NEWNET,
                           "changing the addresses of its eth0", in_netns, &c, err);
        return r < 0 ? vps_err_wrap(err, "changing the addresses inside VPS %s", vi->cfg.id) : 0;
}
