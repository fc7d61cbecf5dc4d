/* The fleet's state, shared by fleet.c (the thread and its queue), fleet_report.c (what the
 * loop publishes for it) and fleet_sync.c (the node's records, kept by the thread). */
#pragma once

#include "loop.h"
#include "fleet/fleet.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct vpsd;
struct fleet_task;
typedef struct json_t json_t;

struct vpsd_fleet {
        /* set at start, read-only afterwards */
        char urls[1024], node[FLEET_NAME_MAX + 1], advertise[256], prefix[128];
        struct etcd_tls tls;
        unsigned int ttl;
        struct vpsd *d;
        /* the queue, both ways, behind mu */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct fleet_task *todo, *done;
        bool quit, started;
        pthread_t thread;
        int efd; /* eventfd: done tasks for the loop */
        struct vpsd_source w_efd, w_tick;
        /* what the loop publishes each tick (fleet_report.c), behind mu: JSON texts */
        char *info, *local;
        bool dirty;        /* the VPSes here changed: the thread syncs at once */
        json_t *templates; /* the loop's: template names, read every 30 ticks and when the
                            * templates directory changes (a build, an import, a removal) */
        unsigned int ticks;
        struct timespec tpl_mtime; /* the templates directory's, when last read */
        uint64_t test_ram_free;    /* VPS_TEST_FLEET_RAM_FREE (fleet_report.c), 0: none */
        unsigned int test_hold_ms; /* VPS_TEST_FLEET_HOLD_MS (fleet_report.c), 0: none */
        /* the peers' certificates (fingerprint -> node name) from their live records, behind
         * mu: written by the thread (fleet_peers.c), read by the loop to authenticate them */
        json_t *peers;
        time_t peers_read;     /* the thread's: when they were last read */
        unsigned int forwards; /* creates being forwarded to other nodes, behind mu */
        pthread_cond_t fwd_cv; /* signalled when one ends */
        /* the thread's own */
        struct etcd *etcd;
        int64_t lease;
        bool joined, down_logged;
        time_t last_full, last_info;
        char *info_put; /* the node record as last written */
        json_t *owned;  /* ID -> record of the VPSes this node owns in etcd, as last read or written
                         */
        json_t *seen;   /* IDs seen here since vpsd started (a destroy releases them) */
        /* creates in flight (fleet_create.c): ID -> the text their claim wrote in vps/ID,
         * from the claim until the finish or the give-back; the reconcile leaves them be */
        json_t *inflight;
};

/* fleet_sync.c, in the thread: joins (lease, member and node records) when not joined,
 * else keeps the lease alive; then brings the records up to date with the loop's last
 * snapshot (all of them after a join and once a minute). */
void fleet_sync(struct vpsd_fleet *f, bool keepalive);
/* Revokes the lease (vpsd leaves: its node shows down at once). */
void fleet_leave(struct vpsd_fleet *f);
/* fleet_report.c, in the loop: the tick that publishes the snapshot; and a snapshot
 * published at once (a VPS made or removed by a create: fleet_create.c). */
int fleet_report_start(struct vpsd *d, struct vpsd_fleet *f, vps_error *err);
void fleet_report_now(struct vpsd *d);
/* fleet.c: a task finished outside the thread (a forwarded create) handed to the loop. */
void vpsd_fleet_hand_back(struct vpsd_fleet *f, struct fleet_task *t);
/* fleet_routes.c, in the thread: PREFIX/KIND/ (serializable) into an object NAME -> record. */
int fleet_read_kind(struct vpsd_fleet *f, const char *kind, json_t **ret, vps_error *err);
/* What a placement decides on: the live nodes, the members' records, the drained marks. */
int fleet_read_view(struct vpsd_fleet *f, json_t **live, json_t **members, json_t **drained,
                    vps_error *err);
/* fleet_peers.c, in the thread: the peers' certificates read again once a minute. */
void fleet_peers_tick(struct vpsd_fleet *f);
/* fleet_place.c, in the thread: why node name (its live record rec) cannot take a VPS of
 * in's "ostemplate" (none: any), "ram" and "disk" ("" when it can), into why; and the node
 * the placement rule picks among live (drained and exclude left out) into in's "node". */
void fleet_unfit(struct vpsd_fleet *f, const char *name, json_t *rec, json_t *drained, json_t *in,
                 char *why, size_t size);
int fleet_pick(struct vpsd_fleet *f, json_t *live, json_t *drained, json_t *in, const char *exclude,
               vps_error *err);
