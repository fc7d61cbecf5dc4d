/* events.c: GET /v1/events, a long-lived chunked response of JSON lines, one object per event
 * ({time, type, vps, ...}). Each subscriber has a bounded queue: one that does not read fast
 * enough is sent an "overflow" event and its stream ends, so a slow consumer neither blocks
 * the loop nor grows vpsd's memory. A token sees only its VPSes' events, and only with its
 * `status` verb (the route's). */
#pragma once

#include "vps/error.h"

#include <stdbool.h>

struct vpsd;
struct vpsd_client;
struct MHD_Connection;
struct MHD_Response;
typedef struct json_t json_t;

/* Lines a subscriber may have queued before it is dropped (vpsd.conf events_queue). */
#define VPSD_EVENTS_QUEUE 256
/* Streams at once, in all and per client (a token's name, a certificate): with the queue's
 * bound, what subscribers can make vpsd hold is bounded too (about 40 MB at worst). */
#define VPSD_EVENTS_MAX        1024
#define VPSD_EVENTS_PER_CLIENT 8
/* Seconds between keep-alives (an empty line) on an idle stream: a client gone is noticed. */
#define VPSD_EVENTS_KEEPALIVE_S 30

/* Sends an event to every subscriber that may see it: type ("started"...), the VPS (NULL:
 * none; a token then never sees it) and extra fields (an object, taken; NULL for none). */
void vpsd_emit(struct vpsd *d, const char *type, const char *vps, json_t *extra);
/* The response of a GET /v1/events by client c (?vps=ID: that VPS's alone), queued on conn;
 * NULL with err (and the status to answer) when refused. */
struct MHD_Response *vpsd_events_response(struct vpsd *d, struct MHD_Connection *conn,
                                          const struct vpsd_client *c, unsigned int *ret_status,
                                          vps_error *err);
/* An operation's end: "result" done or failed (err, its "error") added to extra. */
void vpsd_emit_result(struct vpsd *d, const char *type, const char *vps, const vps_error *err,
                      json_t *extra);
/* Ends every stream (vpsd exiting: no connection may stay suspended); whether there were any. */
bool vpsd_events_end_all(struct vpsd *d);
/* How many subscribers there are now (metrics). */
unsigned int vpsd_events_clients(const struct vpsd *d);
