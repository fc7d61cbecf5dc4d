/* Files vpsd keeps inside a guest (/etc/hostname, /etc/hosts, /etc/resolv.conf), written
 * from outside the guest's control: resolved inside its root, never through a magic link or
 * into another mount, and replaced by rename so a planted symlink is replaced, not followed. */
#pragma once

#include <sys/types.h>

#include "config/config.h"
#include "vps/error.h"

/* Writes dir/name under root_fd atomically; owner (uid, gid) unless uid is (uid_t)-1. */
int vps_guest_write_file(int root_fd, const char *dir, const char *name, const char *text,
                         mode_t mode, uid_t uid, gid_t gid, vps_error *err);

/* Brings /etc/hostname, /etc/hosts and /etc/resolv.conf in line with cfg (its nameservers
 * as they are: vps_resolv_effective has put the host's in for one that inherits them). owner: the host uid of the guest's root for writes from the host side, or
 * (uid_t)-1 from inside the VPS. */
int vps_guest_sync_files(int root_fd, const struct vps_config *cfg, uid_t owner, vps_error *err);

/* Runs fn in a child that has joined the user and mount namespaces of the running VPS whose
 * init is pid, as its root, with root_fd its "/"; the child's error comes back in err. The
 * child has a deadline (vps_ns_run): what says what it does, for the timeout's message. */
int vps_guest_run(pid_t pid, const char *id, const char *what,
                  int (*fn)(int root_fd, void *arg, vps_error *err), void *arg, vps_error *err);

/* The same for a running VPS, from inside its namespaces (vps_guest_run). */
int vps_guest_sync_running(pid_t pid, const struct vps_config *cfg, vps_error *err);
