/* libvps: the safe defaults of a VPS that names no plan and no limit of its own: its
 * processes (pids.max) and ptys (the max= of its /dev/pts) are bounded all the same, so that
 * one VPS cannot take the host's PIDs or ptys. Pure: whether the host can enforce a limit
 * is the caller's question (vps_manager_effective_limits). */
#include "core/core.h"

void vps_defaults_from_conf(const struct vps_daemon_conf *conf, struct vps_defaults *ret)
{
        ret->numproc =
                conf->default_numproc >= 0 ? (uint64_t)conf->default_numproc : VPS_DEFAULT_NUMPROC;
        ret->ptys = conf->devpts_max ? conf->devpts_max : VPS_DEFAULT_DEVPTS_MAX;
}

bool vps_defaults_apply(const struct vps_defaults *d, const struct vps_limits *own,
                        struct vps_limits *ret)
{
        *ret = *own;
        if (own->v[VPS_LIM_NUMPROC] != VPS_LIMIT_NONE || !d->numproc)
                return false;
        ret->v[VPS_LIM_NUMPROC] = d->numproc;
        return true;
}
