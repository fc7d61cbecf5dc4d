/* Which devices a VPS may use: a cgroup v2 eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * on its cgroup denies every device but null, zero, full, random, urandom, tty, console,
 * ptmx and the pty slaves, plus the nodes --devnodes grants (tun for VPN customers, fuse)
 * and those --features tun and fuse grant: a VPS gets the union of the two.
 * It holds for every process in the cgroup, the guest's sub-cgroups and exec'd commands
 * included, whatever node they reach; the guest cannot replace it (bpf(2) needs the host's
 * CAP_BPF, and the seccomp filter denies it). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

#define VPS_MAX_DEVNODES 4

struct vps_config;

/* A device --devnodes may grant: its name, path under /dev, char major:minor, and the
 * --features bit (VPS_FEAT_*) that grants it as well. */
struct vps_devnode {
        const char *name;
        const char *path;
        uint32_t major, minor;
        unsigned int feature;
};

/* The grantable devices: "tun" (/dev/net/tun), "fuse" (/dev/fuse). NULL if unknown. */
const struct vps_devnode *vps_devnode_find(const char *name);
/* Checks and canonicalises a --devnodes list ("tun,fuse", "none"): fills names[], returns
 * how many. */
int vps_devnodes_parse(const char *text, char names[VPS_MAX_DEVNODES][8], vps_error *err);
/* The devices cfg grants beyond the default set: its --devnodes and the ones its --features
 * imply, each once. Fills names[], returns how many. */
unsigned int vps_devnodes_effective(const struct vps_config *cfg, char names[VPS_MAX_DEVNODES][8]);

/* Makes the nodes cfg grants (vps_devnodes_effective) in DIR/devnodes (vps_dir_fd:
 * ROOT/vps/ID), owned by the VPS's root, on the host's filesystem: nodes on a filesystem
 * mounted in the VPS's user namespace could not be opened (nodev), and the host's own may be
 * root's only. The start child binds them into the guest's /dev. */
int vps_devnodes_prepare(int vps_dir_fd, const struct vps_config *cfg, vps_error *err);

/* Loads the device program allowing the default set plus the named devnodes and attaches
 * it to the cgroup (no override below it). */
int vps_devices_attach(int cgroup_fd, char names[][8], unsigned int n, vps_error *err);
