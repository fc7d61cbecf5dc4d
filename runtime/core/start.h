/* libvps, private to core/: what a start (lifecycle.c) and a resume (resume.c) share: the
 * host side made the same way, the init's end the same way. */
#pragma once

#include "core/core.h"
#include "sandbox/sandbox.h"

struct tpl_info {
        char rootfs[600];
        char init[256];
        int halt_signal;
};

struct net_hook {
        struct vps_manager *m;
        const struct vps_inst *vi;
};

/* A start under way (core.h): what its later steps and its children's params point at. */
struct vps_start {
        struct vps_manager *m;
        struct vps_inst *vi;
        struct tpl_info t;
        struct vps_state st;
        int master, slave;
        bool networked;
        struct vps_net_child net;
        struct net_hook hook;
        struct vps_config eff;
        char dir[600];
        struct vps_spawn *sp;
        bool over;   /* the init runs, or the start failed and was undone */
        bool resume; /* a resume's: its host side undone when freed unfinished */
        char warning[sizeof(((struct vps_manager *)0)->warning)];
};

/* The host side (cgroups, devices, limits, console, views, filters): 0, or 1 when LXCFS serves
 * the views, with *ret and the init's cgroup's fd; a negative errno with nothing left made. */
int vps_start_prepare(struct vps_manager *m, struct vps_inst *vi, struct vps_start **ret,
                      int *ret_guest_fd, vps_error *err);
/* The init runs: its console handed over, its state saved, the VPS running. */
int vps_start_done(struct vps_start *s, struct vps_spawn_result *res, vps_error *err);
/* Undoes the host side (the VPS is stopped again). */
void vps_start_undo(struct vps_start *s);
