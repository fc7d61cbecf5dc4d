/* power_routes.c: the routes that start and stop VPSes (rows of handlers.c's route table):
 * POST /v1/vps/ID/start, /stop, /restart, DELETE /v1/vps/ID and POST /v1/shutdown. A stop is
 * suspended until the VPS's init has exited (reap.c answers it). */
#pragma once

#include "vps/error.h"

struct vpsd;
struct request;
typedef struct json_t json_t;

int vpsd_route_start(struct vpsd *d, struct request *req, const char *id, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_stop(struct vpsd *d, struct request *req, const char *id, json_t *body,
                    unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_restart(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_destroy(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err);
/* POST /v1/shutdown {"timeout": S}: halts every running VPS at once, killed after S s;
 * answered when the last has stopped (shutdown.c). */
int vpsd_route_shutdown(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                        unsigned int *status, json_t **ret, vps_error *err);
