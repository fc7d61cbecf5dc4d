/* pause_routes.c: POST /v1/vps/ID/pause and /unpause (rows of handlers.c's route table). A
 * pause is answered once the kernel says the VPS's cgroup is frozen, watched in the loop;
 * what else stops a VPS (a stop, its exit) ends a pause under way first. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct request;
struct vps_inst;
typedef struct json_t json_t;

/* How long the processes of a VPS have to freeze before a pause gives up and thaws them. */
#define VPSD_PAUSE_TIMEOUT_MS 5000

int vpsd_route_pause(struct vpsd *d, struct request *req, const char *id, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_unpause(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err);
/* Ends a pause of vi under way (its requests fail with ECANCELED, saying why); the VPS stays
 * as it is (the caller thaws or stops it). A no-op when none is. */
void vpsd_pause_cancel(struct vpsd *d, struct vps_inst *vi, const char *why);
/* Whether any pause is under way (a re-exec waits for it). */
bool vpsd_pause_pending(struct vpsd *d);
