/* The one way libvps resolves a path inside a guest's root from the host side: the guest
 * owns its tree and may plant symlinks anywhere; nothing may resolve outside its root. */
#pragma once

#include <sys/types.h>

#include "vps/error.h"

/* Opens path (absolute or relative, always taken as inside root_fd) with openat2 and
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS. Where openat2 is missing (or the environment sets
 * VPS_TEST_NO_OPENAT2=1) a fallback walks the path one component at a time with O_NOFOLLOW and
 * refuses symlinks and "..". Returns the fd or a negative errno. */
int vps_open_in_root(int root_fd, const char *path, int flags, mode_t mode, vps_error *err);

/* Makes sure path exists inside root_fd as a directory (dir=1) or an empty regular file
 * (dir=0), creating only the last component, and returns an O_PATH fd to it. */
int vps_ensure_in_root(int root_fd, const char *path, int dir, vps_error *err);
