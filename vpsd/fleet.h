/* fleet.c: this vpsd as a node of a fleet on etcd (vpsd --cluster, docs/fleet.md). A thread
 * of its own makes every etcd call (they block up to their timeouts; the loop never waits on
 * etcd): the node's lease kept alive, its capacity record, the VPS records reconciled with
 * what runs here, and the requests the loop hands it (a create's claim, `nodes`, `list
 * --all-nodes`), whose answers come back to the loop over an eventfd. Without etcd, every
 * local operation but a create works as before. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>

typedef struct json_t json_t;
struct vpsd;
struct request;
struct vps_daemon_conf;
struct vpsd_fleet;
struct vps_change;

/* vpsd.conf's cluster, node, advertise, cluster_ttl, cluster_prefix and TLS files, with
 * --cluster, --node, --advertise (opt[], NULL when not given) over the first three, checked;
 * NULL *ret when no cluster is set. */
int vpsd_fleet_new(struct vps_daemon_conf *conf, const char *const opt[3], struct vpsd_fleet **ret,
                   vps_error *err);
/* Starts the thread and the loop's sources (once the loop exists); the node joins at once
 * when etcd answers, and keeps trying when it does not. */
int vpsd_fleet_start(struct vpsd *d, vps_error *err);
/* Leaves: the thread stopped, the lease revoked when it can be (quick, bounded). */
void vpsd_fleet_stop(struct vpsd *d);

/* A task for the thread: run there (with etcd), done back in the loop. */
struct fleet_task;
typedef int (*fleet_run_fn)(struct vpsd_fleet *f, struct fleet_task *t, vps_error *err);
typedef void (*fleet_done_fn)(struct vpsd *d, struct fleet_task *t);
struct fleet_task {
        struct fleet_task *next;
        fleet_run_fn run;
        fleet_done_fn done;
        struct request *req; /* the suspended request it answers, or NULL */
        json_t *in, *out;    /* owned */
        char id[64];
        /* a create's local part, run in the loop once its claim holds (fleet_api.h) */
        int (*create_local)(struct vpsd *d, json_t *request, unsigned int *status, json_t **ret,
                            vps_error *err);
        /* create --node auto that picked this node: the create route again (fleet_place.c) */
        int (*again)(struct vpsd *d, struct request *req, const char *arg, json_t *request,
                     unsigned int *status, json_t **ret, vps_error *err);
        int r;
        vps_error err;
};
/* Queues t (allocated by the caller, freed by the fleet after done). */
void vpsd_fleet_post(struct vpsd *d, struct fleet_task *t);
struct fleet_task *vpsd_fleet_task(fleet_run_fn run, fleet_done_fn done, struct request *req);

/* What the thread's code needs of the fleet (fleet_sync.c, fleet_routes.c). */
struct etcd *vpsd_fleet_etcd(struct vpsd_fleet *f);
const char *vpsd_fleet_node(const struct vpsd_fleet *f);
const char *vpsd_fleet_prefix(const struct vpsd_fleet *f);
/* From the thread: a line for vpsd's log, written by the loop. */
void vpsd_fleet_log(struct vpsd_fleet *f, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
