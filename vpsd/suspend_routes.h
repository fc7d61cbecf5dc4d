/* suspend_routes.c: POST /v1/vps/ID/suspend and /resume (rows of handlers.c's route table):
 * a VPS dumped to disk with CRIU and restored. Only the gatekeeping is built: both refuse,
 * naming why (the start-up probe's reason on a host that cannot checkpoint). */
#pragma once

#include "vps/error.h"

struct vpsd;
struct request;
typedef struct json_t json_t;

int vpsd_route_suspend(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_resume(struct vpsd *d, struct request *req, const char *id, json_t *body,
                      unsigned int *status, json_t **ret, vps_error *err);
