/* vpsd: the per-VPS part of its state (vpsd.h), made on demand. */
#include "vpsd.h"

#include <stdlib.h>

struct vps_loop *vpsd_loop_of(struct vps_inst *vi)
{
        return vi->loop_data;
}

struct vps_loop *vpsd_loop_ensure(struct vps_inst *vi)
{
        struct vps_loop *l = vi->loop_data;
        if (l)
                return l;
        l = calloc(1, sizeof(*l));
        if (!l)
                return NULL;
        l->vi = vi;
        l->w_pid.fd = l->w_console.fd = l->w_timer.fd = l->w_restart.fd = -1;
        vi->loop_data = l;
        return l;
}
