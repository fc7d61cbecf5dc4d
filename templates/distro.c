/* templates: per-distro knowledge as data. */
#include "templates/templates.h"

#include <string.h>

static const struct vps_distro distros[] = {
        /* busybox init: SIGUSR2 = poweroff (runs ::shutdown actions, then reboot(2)). */
        {.name = "busybox", .init = "/sbin/init", .halt_signal = "SIGUSR2"},
        /* systemd: SIGRTMIN+3 = halt.target. */
        {.name = "debian", .init = "/sbin/init", .halt_signal = "SIGRTMIN+3"},
        /* An imported tree of another distro: taken for a systemd system. */
        {.name = "linux", .init = "/sbin/init", .halt_signal = "SIGRTMIN+3"},
};

/* What debootstrap adds to minbase: what a provider's Debian image has. An init with its bus
 * (dbus, libpam-systemd: hostnamectl, timedatectl, logind sessions), a way in (ssh with sftp),
 * the network tools (ping, /etc/services), cron and logrotate, an editor and a pager, curl
 * with the CA certificates, locales (C.UTF-8 is the default), tzdata, and python3 with its apt
 * module: Ansible drives a VPS over ssh with nothing else. No ifupdown or DHCP client: vpsd
 * configures eth0 from the host. */
#define DEBIAN_INCLUDE                                                                             \
        "systemd-sysv,dbus,libpam-systemd,openssh-server,openssh-sftp-server,iproute2,"           \
        "iputils-ping,netbase,procps,cron,logrotate,less,nano,vim-tiny,curl,ca-certificates,"     \
        "locales,tzdata,python3,python3-apt"

static const struct vps_recipe recipes[] = {
        {"debian-11", "debian", "bullseye", DEBIAN_INCLUDE, vps_debian_fixup},
        {"debian-12", "debian", "bookworm", DEBIAN_INCLUDE, vps_debian_fixup},
        {"debian-13", "debian", "trixie", DEBIAN_INCLUDE, vps_debian_fixup},
};

const struct vps_recipe *vps_recipe_find(const char *name)
{
        for (size_t i = 0; i < sizeof(recipes) / sizeof(recipes[0]); i++)
                if (strcmp(recipes[i].name, name) == 0)
                        return &recipes[i];
        return NULL;
}

const char *vps_recipe_names(void)
{
        return "busybox, debian-11, debian-12, debian-13";
}

const struct vps_distro *vps_distro_find(const char *name)
{
        for (size_t i = 0; i < sizeof(distros) / sizeof(distros[0]); i++)
                if (strcmp(distros[i].name, name) == 0)
                        return &distros[i];
        return NULL;
}
