/* vpsd: the mark of a VPS migrated elsewhere (migrated.h). */
#include "migrated.h"

#include "config/config.h"
#include "core/core.h"

#include <errno.h>
#include <jansson.h>

int vpsd_check_migrated(struct vps_inst *vi, json_t *body, const char *verb, vps_error *err)
{
        json_t *f = json_object_get(body, "force");
        if (f && !json_is_boolean(f))
                return vps_err(err, EINVAL, "'force' must be true or false");
        if (!vi->cfg.migrated_to[0] || vi->status != VPS_STOPPED)
                return 0;
        if (!json_is_true(f))
                return vps_err(err, EPERM,
                               "VPS %s was migrated to %s and kept here %s (its copy there "
                               "may run): %s --force %ss it here anyway",
                               vi->cfg.id, vi->cfg.migrated_to,
                               vi->suspended ? "suspended" : "stopped", verb, verb);
        struct vps_config c = vi->cfg;
        c.migrated_to[0] = '\0';
        int r = vps_config_save(vi->dir_fd, &c, err);
        if (r == 0)
                vi->cfg = c;
        return r;
}
