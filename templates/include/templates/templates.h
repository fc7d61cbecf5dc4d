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

/* A template made by debootstrap from a Debian mirror: its suite, the packages beyond
 * minbase, and the fix-ups that make the tree a VPS template. */
struct vps_recipe {
        const char *name;    /* "debian-12": what `vpsctl template build` takes */
        const char *distro;  /* entry of the distro table */
        const char *suite;   /* "bookworm" */
        const char *include; /* debootstrap --include */
        int (*fixup)(int rootfs_fd, vps_error *err);
};

/* The recipe of a template name, or NULL. */
const struct vps_recipe *vps_recipe_find(const char *name);
/* "busybox, debian-11, debian-12, debian-13": for messages. */
const char *vps_recipe_names(void);

/* Debian fix-ups on a fresh debootstrap tree: machine-id empty (each VPS makes its own),
 * no ssh host keys (each VPS generates its own on first boot), no host resolv.conf or
 * hostname, a bounded journal, C.UTF-8, no getty on tty1, timesyncd and udev masked. */
int vps_debian_fixup(int rootfs_fd, vps_error *err);

/* Fills the empty directory rootfs_fd with a busybox system made offline from the host's
 * static busybox binary (busybox_path). ret_version gets busybox's version ("1.35.0"). */
int vps_build_busybox(int rootfs_fd, const char *busybox_path, char *ret_version, size_t size,
                      vps_error *err);
