/* vpsd: the per-VPS part of its state (vpsd.h), made on demand, and the manager's warning
 * reported. */
#include "vpsd.h"

#include "log.h"

#include <jansson.h>
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
        l->w_frozen.fd = l->w_pause_timer.fd = -1;
        vi->loop_data = l;
        return l;
}

/* An operation that went ahead with a warning (a limit not enforced...): logged, and told to
 * the client in the answer's "warning". */
void vpsd_report_warning(struct vpsd *d, const char *id, json_t *answer)
{
        if (!d->m.warning[0])
                return;
        vpsd_log("VPS %s: warning: %s", id, d->m.warning);
        if (answer)
                json_object_set_new(answer, "warning", json_string(d->m.warning));
}
