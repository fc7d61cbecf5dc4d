/* fleet_routes.c: the API's view of the fleet (GET /v1/nodes, GET /v1/vps?all_nodes=1);
 * fleet_create.c: a create's claim of its ID and addresses in etcd around its making here. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct json_t json_t;
struct vpsd;
struct request;

int vpsd_route_nodes(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err);
int vpsd_fleet_list_all(struct vpsd *d, struct request *req, vps_error *err);
/* The local part of a create, run once the claim holds (or at once without a cluster):
 * answers like a route (0, status and *ret, or a negative errno). */
typedef int (*vpsd_create_fn)(struct vpsd *d, json_t *request, unsigned int *status, json_t **ret,
                              vps_error *err);
/* fleet_create.c. With a cluster: claims the ID and addresses, runs local, then finishes the
 * claim (the VPS's record written only while the claim is still this node's) and answers req
 * (returns 1: suspended); a failed local create gives the claim back, a claim lost before
 * the finish fails the create and removes the VPS made here. Without: local at once.
 * placed: a create --node that picked this node: the answer names it ("node"). */
int vpsd_fleet_create(struct vpsd *d, struct request *req, json_t *request, const char *id,
                      const char (*ips)[46], unsigned int n_ips, vpsd_create_fn local, bool placed,
                      unsigned int *status, json_t **ret, vps_error *err);

/* fleet_peers.c: whether a certificate (its fingerprint) is a live node's of the fleet, as
 * last read; and a fresh read (at most once a second) after which req is resumed, for a
 * certificate not found (0, or -ENOMEM: not asked). */
bool vpsd_fleet_peer(struct vpsd *d, const char *fp);
int vpsd_fleet_peer_lookup(struct vpsd *d, struct request *req, const char *fp);
/* fleet_place.c: a create for another node (request's "node": NAME or "auto"). Returns 1
 * (req suspended, answered later) or a negative errno; 0 when the node picked is this one
 * (the create goes on here). */
typedef int (*vpsd_place_again_fn)(struct vpsd *d, struct request *req, const char *arg,
                                   json_t *request, unsigned int *status, json_t **ret,
                                   vps_error *err);
/* again: the create route, called in the loop with the request (without "node") when the
 * node picked by auto is this one. */
int vpsd_fleet_place(struct vpsd *d, struct request *req, json_t *request, const char *node,
                     const char *id, const char *ostemplate, uint64_t ram, uint64_t disk,
                     vpsd_place_again_fn again, vps_error *err);
/* fleet_drain.c: POST /v1/nodes/NAME/drain and /undrain. */
int vpsd_route_node_drain(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                          unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_node_undrain(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err);
/* fleet_move.c: POST /v1/vps/ID/move (vpsctl migrate --to-node): the destination checked
 * ("check"), or the VPS's owner records moved to it in one transaction. */
int vpsd_route_vps_move(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                        unsigned int *status, json_t **ret, vps_error *err);
