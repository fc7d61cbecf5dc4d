/* metrics.c: GET /metrics, in the Prometheus text format (0.0.4): per VPS its state, CPU
 * seconds, memory used and limit, OOM kills, processes, I/O bytes and operations, network
 * bytes and packets (cumulative across restarts); vpsd's own figures. A token with `metrics`
 * sees its VPSes' series alone. */
#pragma once

#include "vps/error.h"

struct vpsd;
struct request;
typedef struct json_t json_t;

/* The route's function: *ret is a JSON string holding the text (api.c sends it as
 * text/plain for /metrics). */
int vpsd_route_metrics(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err);
