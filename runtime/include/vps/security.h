/* The default security profile applied to every VPS init and to every process vpsctl puts
 * into a VPS: a reduced capability bounding set, empty inheritable and ambient sets, and a
 * seccomp filter. The user namespace (a disjoint id range per VPS) is the main wall; this is
 * the second one. Masked and read-only /proc and /sys paths are mounted in mounts.c. */
#pragma once

#include "vps/error.h"

/* Capabilities no VPS keeps, even in its own user namespace. CAP_SYS_BOOT stays: reboot(2)
 * in a VPS only ends its pid namespace, which vpsd turns into a restart. */
extern const int vps_dropped_caps[];
extern const unsigned int vps_n_dropped_caps;

/* System calls the filter denies with EPERM. */
extern const char *const vps_denied_syscalls[];
extern const unsigned int vps_n_denied_syscalls;

/* Drops the capabilities from the bounding set, clears the inheritable and ambient sets, and
 * loads the seccomp filter (without no_new_privs, so setuid programs inside still work).
 * With ret_listener, sysinfo(2) goes to a seccomp user-notification listener returned there
 * (-1 when the kernel cannot), which vpsd answers (sysinfo.h); its holder must keep serving
 * it, or the calls fail. Call last before execve. */
int vps_security_apply(int *ret_listener, vps_error *err);
