/* remote_routes.c: the routes of the remote API's credentials (trusted certificates,
 * tokens) and of the audit log. */
#pragma once

#include "vps/error.h"

struct vpsd;
struct request;
typedef struct json_t json_t;

int vpsd_route_trust_list(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                          unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_trust_add(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                         unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_trust_remove(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_token_list(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                          unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_token_create(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_token_revoke(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_audit(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err);
