/* libvps: starting VPSes after a host boot (--onboot, --bootorder). */
#include "vps/cleanup.h"
#include "core/core.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

bool vps_manager_first_since_boot(struct vps_manager *m)
{
        _cleanup_free_ char *now = NULL, *seen = NULL;
        vps_error e;
        if (vps_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", &now, NULL, &e) < 0)
                return false;
        if (vps_read_file_at(m->root_fd, ".boot_id", &seen, NULL, &e) == 0 &&
            strcmp(seen, now) == 0)
                return false;
        (void)vps_write_file_atomic(m->root_fd, ".boot_id", now, strlen(now), 0600, &e);
        return true;
}

static int by_bootorder(const void *a, const void *b)
{
        const struct vps_inst *x = *(struct vps_inst *const *)a, *y = *(struct vps_inst *const *)b;
        if (x->cfg.bootorder != y->cfg.bootorder)
                return x->cfg.bootorder > y->cfg.bootorder ? -1 : 1;
        return strcmp(x->cfg.id, y->cfg.id);
}

size_t vps_manager_onboot_list(struct vps_manager *m, struct vps_inst **ret, size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < m->n && n < max; i++)
                if (m->v[i]->cfg.onboot && m->v[i]->status == VPS_STOPPED &&
                    !m->v[i]->cfg.migrated_to[0])
                        ret[n++] = m->v[i];
        qsort(ret, n, sizeof(*ret), by_bootorder);
        return n;
}
