/* handlers.c: the API's routes. */
#pragma once

#include <stddef.h>

#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct request;
typedef struct json_t json_t;

/* Routes a complete request; either answers it (returns the response through status and
 * body) or suspends it (returns 1). */
int vpsd_handle(struct vpsd *d, struct request *req, const char *method, const char *url,
                const char *body, size_t len, unsigned int *status, json_t **ret_body);
/* Called from the upgrade path of POST /v1/vps/ID/console. */
int vpsd_handle_console_check(struct vpsd *d, const char *url, struct vps_inst **ret,
                              vps_error *err);
