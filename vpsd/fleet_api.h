/* fleet_routes.c: the API's view of the fleet (GET /v1/nodes, GET /v1/vps?all_nodes=1) and
 * a create's claim of its ID and addresses in etcd before it is made here. */
#pragma once

#include "vps/error.h"

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
/* With a cluster: claims the ID and addresses, then runs local and answers req (returns 1:
 * suspended); a failed local create gives the claim back. Without: local at once. */
int vpsd_fleet_create(struct vpsd *d, struct request *req, json_t *request, const char *id,
                      const char (*ips)[46], unsigned int n_ips, vpsd_create_fn local,
                      unsigned int *status, json_t **ret, vps_error *err);
