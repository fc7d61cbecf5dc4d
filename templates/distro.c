/* templates: per-distro knowledge as data. */
#include "templates/templates.h"

#include <string.h>

static const struct vps_distro distros[] = {
        /* busybox init: SIGUSR2 = poweroff (runs ::shutdown actions, then reboot(2)). */
        {.name = "busybox", .init = "/sbin/init", .halt_signal = "SIGUSR2"},
        /* systemd: SIGRTMIN+3 = halt.target. */
        {.name = "debian", .init = "/sbin/init", .halt_signal = "SIGRTMIN+3"},
};

const struct vps_distro *vps_distro_find(const char *name)
{
        for (size_t i = 0; i < sizeof(distros) / sizeof(distros[0]); i++)
                if (strcmp(distros[i].name, name) == 0)
                        return &distros[i];
        return NULL;
}
