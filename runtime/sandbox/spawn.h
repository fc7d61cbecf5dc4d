/* Starting a VPS's init in fresh namespaces (the hot path: syscalls only, no processes). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"
#include "config/config.h"
#include "config/devices.h"
#include "net/network.h"

struct vps_spawn_params {
        const char *hostname;
        const char *vps_dir;    /* ROOT/vps/ID: holds upper/, work/, lower/, rootfs/. A path,
                                 * not an fd: the child must resolve it in its own mount
                                 * namespace (an fd would point into vpsd's). */
        const char *lower_path; /* the template's rootfs on the host */
        const char *init_path;  /* inside the guest, e.g. /sbin/init */
        uint32_t uid_base;
        uint32_t uid_count;
        int cgroup_fd;                   /* the VPS's guest cgroup, for CLONE_INTO_CGROUP */
        int console_fd;                  /* pty slave: the init's stdio and /dev/console */
        const struct vps_net_child *net; /* eth0 settings, NULL for loopback only */
        const struct vps_config *cfg;    /* for /etc/hostname, hosts, resolv.conf */
        const char *lxcfs;               /* LXCFS mount whose views go over /proc, or NULL */
        unsigned int devpts_max;         /* ptys the guest may hold (its devpts max=) */
        /* Called in the parent once the child's namespaces exist, before it builds its root
         * (for networking). May be NULL. */
        int (*parent_hook)(pid_t pid, void *userdata, vps_error *err);
        void *userdata;
};

struct vps_spawn_result {
        pid_t pid;
        int pidfd;
        unsigned long long starttime;
        int notify_fd; /* the init's sysinfo listener (sysinfo.h), -1 without one */
};

int vps_spawn(const struct vps_spawn_params *p, struct vps_spawn_result *ret, vps_error *err);

/* What the start child takes from the host while it still acts as the host's uid 0 (its
 * fsuid, before it becomes the VPS's root): the state root is host root's alone (0700), so
 * the VPS's root could not walk to any of these. Everything later goes through these fds. */
struct vps_host_dirs {
        int lower, upper, work, rootfs; /* of ROOT/vps/ID */
        int devnodes[VPS_MAX_DEVNODES]; /* detached clones of ROOT/vps/ID/devnodes/NAME, */
        unsigned int n_dev;             /* in vps_devnodes_effective()'s order */
        /* vpsd's /proc/meminfo view (lxcfs.h), a read-only detached clone of
         * ROOT/vps/ID/meminfo when has_meminfo (vpsd writes it only when LXCFS is not serving) */
        int meminfo;
        bool has_meminfo;
};

/* Child side (runtime/sandbox/mounts.c); the steps are described there. */
int vps_child_open_host(const char *vps_dir, const struct vps_config *cfg,
                        struct vps_host_dirs *ret, vps_error *err);
void vps_host_dirs_close(struct vps_host_dirs *h);
/* Step 1, the maker, root of the VPS's user namespace: returns the overlay's fs context. */
int vps_child_make_overlay(const struct vps_host_dirs *h, int lower_mnt_fd, vps_error *err);
/* Step 2, the init as host root: returns the root, with what the guest must not remove. */
int vps_child_lock_root(const struct vps_host_dirs *h, int fs_fd, int pidns_fd, const char *lxcfs,
                        vps_error *err);
/* Step 3, the init as the VPS's root in its own mount namespace (locked_root_fd: the root
 * there): the rest of the mounts, then pivot_root. */
int vps_child_build_root(int locked_root_fd, const struct vps_host_dirs *h, int console_fd,
                         unsigned int devpts_max, const struct vps_config *cfg, vps_error *err);
