/* backup.c: POST /v1/vps/ID/backup and POST /v1/restore, HTTP Upgrades to a stream served by
 * a child of vpsd. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct MHD_Connection;

/* Whether url is one of the streams' (a POST of it is upgraded, api.h's ops). */
bool vpsd_stream_route(const char *url);
/* The 101 response, or NULL with err (the request is refused). */
struct MHD_Response *vpsd_stream_response(struct vpsd *d, struct MHD_Connection *c, const char *url,
                                          bool token, vps_error *err);
/* Whether any backup or restore stream is under way (a re-exec waits for them). */
bool vpsd_streams_running(void);
/* EBUSY while a backup or restore of VPS id is under way. */
int vpsd_stream_busy(struct vpsd *d, const char *id, vps_error *err);
