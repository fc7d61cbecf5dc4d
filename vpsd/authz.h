/* authz.c: what an authenticated client may do with a request: the route's verb against a
 * token's, its VPSes (another's answers 404, as a VPS that does not exist), and the answers
 * a token sees narrowed to its VPSes. */
#pragma once

#include "auth.h"
#include "vps/error.h"

#include <stddef.h>

typedef struct json_t json_t;

/* 0: allowed; else a negative errno with err and the status to answer (403, 404, 400). */
int vpsd_authorize(const struct vpsd_client *c, const char *method, const char *url,
                   const char *body, size_t len, struct vpsd_authz *ret, unsigned int *ret_status,
                   vps_error *err);
/* Narrows an answer (status 200) to what the client may see. */
json_t *vpsd_authz_filter(const struct vpsd_client *c, const struct vpsd_authz *z, json_t *answer);
