/* templates: what libvps knows about each kind of guest (the distro table) and the builders
 * that make a template's rootfs. Adding a distro is adding an entry and, if it needs one, a
 * builder file. */
#pragma once

#include <stddef.h>

#include "vps/error.h"

struct vps_distro {
        const char *name;        /* "busybox", "debian" */
        const char *init;        /* path of the guest's init inside its root */
        const char *halt_signal; /* what makes its init shut down cleanly */
};

/* The entry for a distro name, or NULL. */
const struct vps_distro *vps_distro_find(const char *name);

/* Fills the empty directory rootfs_fd with a busybox system made offline from the host's
 * static busybox binary (busybox_path). ret_version gets busybox's version ("1.35.0"). */
int vps_build_busybox(int rootfs_fd, const char *busybox_path, char *ret_version, size_t size,
                      vps_error *err);
