/* sysinfo_handover.c: what crosses from vpsd's loop to its sysinfo thread (sysinfo_thread.c),
 * behind one mutex: seccomp listeners handed over, and the plan of each running VPS (the
 * figures a sysinfo answer takes), so the thread never reads the loop's VPS set. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"
#include "sandbox/sandbox.h"

struct vps_manager;

struct vpsd_sysinfo_row {
        struct vps_sysinfo_plan p;
        int dir_fd;        /* a copy of ROOT/vps/ID's fd, for the meminfo view */
        int src_fd;        /* the fd it copies (the VPS's own), to see a new one */
        const void *owner; /* its vps_inst, to see a change (never dereferenced here) */
        uint64_t mark;     /* loop only: the publish that last kept it */
        bool fresh;        /* loop only: made by the publish under way */
};

struct vpsd_sysinfo_shared {
        pthread_mutex_t lock;
        int wake; /* eventfd: written when listeners are handed over */
        int *fds; /* listeners handed over, not taken yet */
        size_t n_fds, cap_fds;
        struct vpsd_sysinfo_row **rows; /* the running VPSes, in the manager's order */
        size_t n_rows;
        uint64_t serial; /* loop only: publishes made */
        /* The manager's gen the rows were last found current at (loop only): while it holds,
         * a round costs no walk over the VPSes. */
        uint64_t gen;
        bool have_gen;
};

int vpsd_sysinfo_shared_init(struct vpsd_sysinfo_shared *s, vps_error *err);
/* Closes and frees what it holds (the listeners not taken too); no thread may use it. */
void vpsd_sysinfo_shared_free(struct vpsd_sysinfo_shared *s);
/* Loop: hands a listener over (takes the fd; closes it when out of memory). */
void vpsd_sysinfo_give(struct vpsd_sysinfo_shared *s, int fd);
/* Thread: the listeners handed over since the last call, up to max. */
size_t vpsd_sysinfo_take(struct vpsd_sysinfo_shared *s, int *fds, size_t max);
/* Loop (after each round): the running VPSes' plans, copied when one started, stopped or had
 * its --ram or --swap changed (looked for only when the manager's gen moved: each of those
 * changes calls vps_inst_touch). A VPS whose row still holds keeps it (plan and directory
 * fd's copy), so a start or stop makes one row and an array of pointers, not one row and
 * one copy per running VPS. */
void vpsd_sysinfo_publish(struct vpsd_sysinfo_shared *s, const struct vps_manager *m);
/* Thread: the plan of the running VPS whose cgroup holds cg, and a copy of its directory's
 * fd (-1 when none could be made); -ENOENT when no VPS holds it. */
int vpsd_sysinfo_find(struct vpsd_sysinfo_shared *s, const char *cg, struct vps_sysinfo_plan *ret,
                      int *ret_dir_fd);
