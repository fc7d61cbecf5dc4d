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

/* A child of vpsd's made by a start, told to vpsd on the start's socket as soon as it exists,
 * so that vpsd reaps it however the start ends: 'S' the setup (its first message; vpsd knows
 * it already unless vpsd --starter cloned it), 'M' the maker (sent by the setup right after
 * the clone), 'C' the init (sent by the maker right after the clone). */
struct pid_msg {
        char tag;
        pid_t pid;
};

/* The setup process (spawn.c's steps 2 and 4), cloned by vps_spawn_begin or by the starter
 * (starter.c); with CLONE_PARENT there, so it is vpsd's child either way. */
_Noreturn void vps_spawn_setup_main(const struct vps_spawn_params *p, int vpsd_sock);
/* Hands a start to the starter (starter.c): its parameters and fds; the setup's messages then
 * come on child_sock's peer as they would from a setup vpsd cloned. 0 or a negative errno
 * (the starter is gone: the caller clones the setup itself). */
int vps_starter_request(const struct vps_starter *st, const struct vps_spawn_params *p,
                        int child_sock);

/* uid_map or gid_map ("0 BASE COUNT") of process pid's user namespace. */
int vps_spawn_write_map(pid_t pid, const char *which, uint32_t base, uint32_t count,
                        vps_error *err);
/* A clone of the template's tree at lower, idmapped to process pid's user namespace and
 * read-only: the fd of the detached mount. */
int vps_spawn_idmapped_lower(pid_t pid, const char *lower, vps_error *err);
