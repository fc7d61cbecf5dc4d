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

/* System calls the filter denies with EPERM, unless the VPS has one of the --features bits
 * in allowed_by (VPS_FEAT_NESTING lets the keyring calls through, VPS_FEAT_IO_URING the
 * io_uring ones). docs/security.md compares the list with Docker's and LXC's. */
struct vps_denied_syscall {
        const char *name;
        unsigned int allowed_by;
};
extern const struct vps_denied_syscall vps_denied_syscalls[];
extern const unsigned int vps_n_denied_syscalls;

/* ioctl requests the filter denies with EPERM on every fd, whatever the features: TIOCSTI
 * (pushes bytes into a terminal's input, as if typed) and TIOCLINUX (the virtual console's
 * multiplexer, whose selection paste does the same). No host terminal reaches a VPS
 * (attach.c); this is the second wall. */
extern const unsigned long vps_denied_ioctls[];
extern const unsigned int vps_n_denied_ioctls;

/* Drops the capabilities from the bounding set, clears the inheritable and ambient sets, and
 * loads the seccomp filter for a VPS with these --features (VPS_FEAT_* bits), without
 * no_new_privs, so setuid programs inside still work.
 * With ret_listener, sysinfo(2) goes to a seccomp user-notification listener returned there
 * (-1 when the kernel cannot), which vpsd answers (sysinfo.h); its holder must keep serving
 * it, or the calls fail. Call last before execve. */
int vps_security_apply(unsigned int features, int *ret_listener, vps_error *err);

/* The features a VPS was started with, recorded on its cgroup at start (the xattr
 * trusted.vps.features, "tun,nesting"), so that a command vps_attach_run() puts into the VPS
 * gets the filter its init has. Only host root may read or write trusted.* attributes: the
 * guest cannot grant itself a feature through its own cgroup. Recording may fail without
 * harm when features is 0. */
int vps_security_record(int cgroup_fd, unsigned int features, vps_error *err);
/* What vps_security_record() left on the cgroup at this host path; 0 (the default profile)
 * when nothing can be read. */
unsigned int vps_security_recorded(const char *cgroup);
