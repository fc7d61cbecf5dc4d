/* vpsctl migrate's parts (cmd_migrate.c: the command and the offline move; migrate_online.c:
 * --online, the live move with CRIU) and what they share. */
#pragma once

#include <stdbool.h>

#include "migrate_node.h"
#include "ssh.h"
#include "vps/error.h"

typedef struct json_t json_t;
struct vpsctl;

struct migrate {
        const char *id;
        struct ssh_dest dest;
        const char *to_node; /* --to-node NAME|auto */
        struct node_dest nd;
        bool quiet;     /* drain: the result into *result, not printed */
        json_t *result; /* owned by the caller */
        bool keep, full, online, json, fast;
        bool was_running;
        json_t *ips;              /* the source's addresses */
        unsigned long long bytes; /* archive bytes sent */
        double t_stop, t_copy, t_start, t_total;
        /* --online: frozen here to running there; images sent; pre-copy rounds */
        double t_down;
        unsigned long long img_bytes;
        unsigned int rounds;
        bool precopy; /* --precopy given */
};

double migrate_now(void);
/* A guard process that does `verb` ("start" or "resume") to VPS id here if vpsctl dies before
 * it is released: the write end of its pipe, or -1. */
int migrate_guard_start(struct vpsctl *v, const char *id, const char *verb);
void migrate_guard_release(int *fd);
/* POST /v1/vps/ID/VERB here ("start", "resume"), retried while vpsd is busy with the stream. */
int migrate_here(struct vpsctl *v, const char *id, const char *verb, vps_error *err);
/* The destination answers and has no VPS ID. */
int migrate_preflight(struct migrate *m, vps_error *err);
/* `vpsctl VERB ID [OPT]` there; ECONNRESET when the outcome is unknown. */
int migrate_remote(struct migrate *m, const char *verb, const char *opt, vps_error *err);
/* The source's backup stream (its query with "&k=v..." added, or "") into `vpsctl restore -
 * ID` there; with frames (--online: its images too), in frames to `restore --checkpoint`.
 * *ret_maybe: the destination may hold the VPS now (its restore said so, or the outcome is
 * unknown). */
int migrate_restore_there(struct vpsctl *v, struct migrate *m, const char *query, bool frames,
                          bool *ret_maybe, vps_error *err);
/* The result, printed (or -j, or into m->result for a drain). */
int migrate_report(struct migrate *m);
/* --precopy's N (0-8) into *ret; -EINVAL for another. */
int migrate_rounds_parse(const char *s, unsigned int *ret);
/* migrate_online.c: the whole of --online. */
int migrate_online(struct vpsctl *v, struct migrate *m);
