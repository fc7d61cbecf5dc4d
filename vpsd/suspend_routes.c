/* vpsd: suspending a VPS to disk and resuming it (vpsctl suspend, resume; docs/api.md).
 * What is built: the checks before anything is touched. A host whose start-up probe says it
 * cannot checkpoint (criu_probe.c) is refused with the probe's reason; where it can, the
 * restore of a VPS is not built yet (docs/architecture.md "CRIU" says where it stops), and a
 * dump without a restore would only kill the VPS, so that is refused too. */
#include "suspend_routes.h"

#include "vpsd.h"

#include <errno.h>
#include <stdbool.h>
#include <jansson.h>

/* 0 when this host can checkpoint, else why not. */
static int checkpoint_ready(struct vpsd *d, const char *verb, vps_error *err)
{
        if (d->criu.state == VPS_CRIU_PROBING)
                return vps_err(err, EAGAIN,
                               "%s needs checkpointing (CRIU), which vpsd is still probing: try "
                               "again in a moment",
                               verb);
        if (d->criu.state != VPS_CRIU_AVAILABLE)
                return vps_err(err, EOPNOTSUPP,
                               "%s needs checkpointing (CRIU), which this host's vpsd says is not "
                               "available: %s",
                               verb, d->criu.why[0] ? d->criu.why : "it did not say why");
        return vps_err(err, EOPNOTSUPP,
                       "%s: restoring a VPS with CRIU is not built yet, so nothing is dumped "
                       "(the VPS is left as it is)",
                       verb);
}

/* The checks of both, in order: the VPS, its state (suspend: running), the host. */
static int refuse(struct vpsd *d, const char *id, bool suspend, vps_error *err)
{
        struct vps_inst *vi = vps_manager_find(&d->m, id, err);
        if (!vi)
                return -err->code;
        if (suspend && vi->status != VPS_RUNNING)
                return vps_err(err, EALREADY, "VPS %s is not running: only a running one suspends",
                               id);
        int r = checkpoint_ready(d, suspend ? "suspend" : "resume", err);
        /* No VPS is ever suspended while the dump is not built: say so where it can be. */
        if (!suspend && r == -EOPNOTSUPP && d->criu.state == VPS_CRIU_AVAILABLE)
                return vps_err(err, EALREADY, "VPS %s is not suspended", id);
        return r;
}

int vpsd_route_suspend(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        (void)req, (void)body, (void)status, (void)ret;
        return refuse(d, id, true, err);
}

int vpsd_route_resume(struct vpsd *d, struct request *req, const char *id, json_t *body,
                      unsigned int *status, json_t **ret, vps_error *err)
{
        (void)req, (void)body, (void)status, (void)ret;
        return refuse(d, id, false, err);
}
