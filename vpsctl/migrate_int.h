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
        bool precopy;   /* --precopy given */
        bool fenced;    /* the source is marked migrated_to (start refused) for the move */
        bool stop_lost; /* vpsd died during the stop here: its halt may still be under way */
};

/* How long a step waits for a vpsd that died or restarts (either host's) before it gives up
 * and says what it left where. */
#define MIGRATE_WAIT_S 60

double migrate_now(void);
/* A guard process that does `verb` ("start" or "resume") to VPS id here if vpsctl dies before
 * it is released: the write end of its pipe, or -1. */
int migrate_guard_start(struct vpsctl *v, const char *id, const char *verb);
void migrate_guard_release(int *fd);
/* POST /v1/vps/ID/VERB here ("start", "stop", "resume"; force: the start's {"force": true}, which
 * lifts the fence), retried while vpsd is busy with the stream or restarts; a start that
 * finds it running (a stop: stopped) is done. */
int migrate_here(struct vpsctl *v, const char *id, const char *verb, bool force, vps_error *err);
/* A request here (path the whole of it), tried again while this vpsd restarts; no such VPS
 * counts as done for a DELETE (vpsd removed it before it died). */
int migrate_request_here(struct vpsctl *v, const char *method, json_t *body, const char *path,
                         vps_error *err);
/* The fence: the source marked migrated_to DEST (PATCH ?fence=1) before the destination's
 * copy may start, so that no start (onboot, a restart of vpsd, a user's) runs it here. */
int migrate_fence_here(struct vpsctl *v, struct migrate *m, vps_error *err);
/* The source destroyed (?migrated_to=DEST), retried while vpsd restarts; gone already is done. */
int migrate_remove_here(struct vpsctl *v, struct migrate *m, vps_error *err);
/* `vpsctl destroy ID --force` there, retried while its vpsd restarts; no such VPS is done. */
int migrate_destroy_there(struct migrate *m, vps_error *err);
/* A roll-back's first step: the copy there removed (remote: a copy was made there). True when
 * it is gone, or when the source was never fenced (a copy left there never ran, and stderr
 * says so): the caller then runs the source here again. False when the source is fenced and
 * the copy there may run: tail (of size bytes) then says the source stays STATE here, marked,
 * and that `VERB --force` runs it here anyway. */
bool migrate_undo_there(struct migrate *m, bool remote, const char *state, const char *verb,
                        char *tail, size_t size);
/* `vpsctl VERB ID` there (start, or resume for --online); when its vpsd died meanwhile, its
 * status once it answers again says whether the VPS runs (else VERB is asked again).
 * ECONNRESET: the outcome is unknown after MIGRATE_WAIT_S (it may run there). */
int migrate_start_there(struct migrate *m, const char *verb, vps_error *err);
/* The destination answers and has no VPS ID. */
int migrate_preflight(struct migrate *m, vps_error *err);
/* `vpsctl VERB ID [OPT]` there; ECONNRESET (ssh failed) or ENOTCONN (no vpsd answered
 * there) when the outcome is unknown, ENOENT for no such VPS, EALREADY for a wrong state. */
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
