/* The one way libvps resolves a path inside a guest's root from the host side: the guest
 * owns its tree and may plant symlinks anywhere; nothing may resolve outside its root. */
#pragma once

#include <sys/types.h>

#include "vps/error.h"

/* Opens path (absolute or relative, always taken as inside root_fd) with openat2 and
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS. Where openat2 is missing (or the environment sets
 * VPS_TEST_NO_OPENAT2=1) a walk in user space gives the same answers: one component at a time
 * with O_NOFOLLOW, symlinks read and resolved inside the root, ".." never above it, magic
 * links refused. Returns the fd or a negative errno. */
int vps_open_in_root(int root_fd, const char *path, int flags, mode_t mode, vps_error *err);

/* Stricter resolution on request, for the files vpsd edits for the guest's owner. */
enum {
        VPS_RESOLVE_NO_SYMLINKS = 1U << 0, /* no symlink anywhere on the path: ELOOP */
        VPS_RESOLVE_NO_XDEV = 1U << 1,     /* no mount point crossed: EXDEV */
};

/* vps_open_in_root with extra VPS_RESOLVE_* flags (RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV for
 * openat2; the walk checks the same). A symlink refused under VPS_RESOLVE_NO_SYMLINKS gives
 * "refusing PATH in the guest: a symlink is on its path". */
int vps_open_in_root_how(int root_fd, const char *path, int flags, mode_t mode, unsigned resolve,
                         vps_error *err);

/* Makes sure path exists inside root_fd as a directory (dir=1) or an empty regular file
 * (dir=0), creating only the last component, and returns an O_PATH fd to it. */
int vps_ensure_in_root(int root_fd, const char *path, int dir, vps_error *err);
