/* list_view.c: GET /v1/vps written as text, each stopped VPS's entry kept between lists. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vps/error.h"

struct vpsd;
struct vpsd_client;
struct vps_inst;
typedef struct json_t json_t;

/* The VPSes (up_only: those up or in backoff; a token's own only) sorted by ID as one JSON
 * array, compact or indented by two spaces as json_dumps would, with a final newline: the
 * same text as json_dumps of the tree vps_inst_to_json and vpsd_add_traffic make. */
int vpsd_list_text(struct vpsd *d, const struct vpsd_client *c, bool up_only, bool pretty,
                   char **ret_text, size_t *ret_len, vps_error *err);
/* Sets the traffic totals of vi (its saved ones with counters' live ones) in obj. */
void vpsd_add_traffic(struct vpsd *d, struct vps_inst *vi, json_t *obj, json_t *counters);
