/* libvps, private to sandbox/: what spawn.c (the start's children) and spawn_parent.c (vpsd's
 * side of a start) share. */
#pragma once

#include "sandbox/sandbox.h"

/* The setup process's message to vpsd: the init (its pidfd rides along) and the maker. */
struct init_msg {
        char tag; /* 'I' */
        pid_t init, maker;
        unsigned long long starttime; /* the setup's, read while the init waits for it */
};

/* The setup process (spawn.c's steps 2 and 4), cloned by vps_spawn_begin. */
_Noreturn void vps_spawn_setup_main(const struct vps_spawn_params *p, int vpsd_sock);

/* uid_map or gid_map ("0 BASE COUNT") of process pid's user namespace. */
int vps_spawn_write_map(pid_t pid, const char *which, uint32_t base, uint32_t count,
                        vps_error *err);
/* A clone of the template's tree at lower, idmapped to process pid's user namespace and
 * read-only: the fd of the detached mount. */
int vps_spawn_idmapped_lower(pid_t pid, const char *lower, vps_error *err);
