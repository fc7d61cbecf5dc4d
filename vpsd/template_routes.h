/* template_routes.c: the template routes (rows of handlers.c's route table): GET and POST
 * /v1/templates, GET and DELETE /v1/templates/NAME, GET /v1/templates/NAME/build. */
#pragma once

#include "vps/error.h"

struct vpsd;
struct request;
typedef struct json_t json_t;

int vpsd_route_templates(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                         unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_template_build(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                              unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_template(struct vpsd *d, struct request *req, const char *name, json_t *body,
                        unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_template_status(struct vpsd *d, struct request *req, const char *name, json_t *body,
                               unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_template_remove(struct vpsd *d, struct request *req, const char *name, json_t *body,
                               unsigned int *status, json_t **ret, vps_error *err);
