/* Short-lived helper processes that enter a running VPS (its files, its hostname, its eth0).
 * Each runs with a deadline and is killed when it passes, so a guest that stalls one (a FUSE
 * mount that never answers) holds up nothing but its own change. A mechanism of the base
 * layer: the guest files (runtime/guest), eth0 (runtime/net), the hostname (runtime/core) and
 * exec/enter (runtime/sandbox) all enter a VPS through it. */
#pragma once

#include "vps/error.h"

/* vpsd.conf guest_timeout: how long a change that enters a guest may take. */
#define VPS_GUEST_TIMEOUT_DEFAULT 10

/* From now on every helper of this process must be done within seconds (one deadline for
 * the whole request); a helper started after it has passed (the undo of a step that timed
 * out) still gets a short grace. Without a call, each helper gets the default on its own. */
void vps_helper_deadline(unsigned int seconds);

/* The one way to run code inside a running VPS: fn(arg) in a child that has joined the
 * namespaces nstypes (CLONE_NEW* flags) of the process behind pidfd (the VPS's init), as the
 * VPS's root when CLONE_NEWUSER is among them, and keeps none of this process's fds but
 * pidfd. fn's error comes back whole (code and message) in err. Past the deadline the child
 * is killed and the call fails with ETIMEDOUT, naming the VPS (id) and what it did. */
int vps_ns_run(const char *id, int pidfd, int nstypes, const char *what,
               int (*fn)(void *arg, vps_error *err), void *arg, vps_error *err);
/* The joining step of vps_ns_run, for a child that runs on in the VPS (vps_attach_run's);
 * id may be NULL ("the VPS" in the message). */
int vps_ns_enter(const char *id, int pidfd, int nstypes, vps_error *err);
