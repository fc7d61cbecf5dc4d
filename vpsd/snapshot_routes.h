/* vpsd: the snapshot endpoints (snapshots.c), rows of handlers.c's route table. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>

struct vpsd;
struct request;
typedef struct json_t json_t;

/* Snapshots of a VPS its customers' tokens may keep when vpsd.conf's token_snapshots is not
 * set (snapshots.c). */
#define VPSD_TOKEN_SNAPSHOTS 8

#define VPSD_SNAPSHOT_ROUTE_ARGS                                                                   \
        struct vpsd *d, struct request *req, const char *id, json_t *body, unsigned int *status,   \
                json_t **ret, vps_error *err

int vpsd_snapshot_create(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_snapshot_list(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_snapshot_delete(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_snapshot_switch(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_snapshot_mount(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_snapshot_umount(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_reinstall(VPSD_SNAPSHOT_ROUTE_ARGS);
int vpsd_clone(VPSD_SNAPSHOT_ROUTE_ARGS);
/* POST /v1/vps/ID/snapshots, /snapshot-switch and /clone: a copy whose progress a client may
 * follow (api.h, vps-progress). */
bool vpsd_progress_route(const char *url);
