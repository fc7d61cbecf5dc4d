/* What a vpsd holds on the host besides its state root: its VPS cgroup parent, its bridge
 * and its subnet. Two vpsds sharing one would kill each other's VPSes (a cgroup of the same
 * ID looks stale to the other) or take over each other's traffic, so each live vpsd holds a
 * claim file per resource in VPS_CLAIMS_DIR, locked with a POSIX record lock: the kernel
 * drops it when the vpsd dies (even by SIGKILL), a fork of vpsd does not inherit it (a job or
 * template build that outlives a killed vpsd holds nothing), and it survives the re-exec of
 * an upgrade when the fds stay open across exec. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"
#include "core/manager.h"

#define VPS_CLAIMS_DIR VPS_RUN_DIR "/claims"

enum { VPS_CLAIM_CGROUP, VPS_CLAIM_BRIDGE, VPS_CLAIM_SUBNET, VPS_CLAIM_N };

struct vps_claims {
        int fd[VPS_CLAIM_N]; /* -1 when not held */
        char path[VPS_CLAIM_N][160];
};

/* Does a claim of kind on value a conflict with one on b? Cgroup parents: the same path or
 * one inside the other; bridges: the same name; subnets ("10.88.0.0/16"): overlapping. */
bool vps_claim_conflicts(int kind, const char *a, const char *b);

/* Takes the three claims in dir (VPS_CLAIMS_DIR; created root-only) for the vpsd of root, or
 * none: EADDRINUSE naming the holder's PID and root when a live vpsd holds one that conflicts.
 * Claims left by dead vpsds (and this process's own, after a re-exec) are replaced. */
int vps_claims_take(struct vps_claims *c, const char *dir, const char *root, const char *cgroup,
                    const char *bridge, const char *subnet, vps_error *err);
/* Before a re-exec: the claims' fds stay open across exec, and with them the locks. */
void vps_claims_keep_across_exec(struct vps_claims *c);
void vps_claims_release(struct vps_claims *c);
