/* handlers.c: the API's routes. */
#pragma once

#include <stddef.h>

#include "vps/error.h"
#include "auth.h"

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

/* A row of the route table: a method and a path ("/v1/WHAT[/ARG[/ACTION]]"), the verb a
 * remote client needs for it (auth.h; every row declares one: unit-routes checks), and its
 * function (NULL for the upgrades and streams api.c answers itself). */
typedef int (*vpsd_route_fn)(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                             unsigned int *status, json_t **ret, vps_error *err);
struct vpsd_route {
        const char *method;
        const char *what;   /* "vps", "templates", "version", ... */
        int nparts;         /* path segments after /v1/<what> */
        const char *action; /* the third segment, or NULL */
        enum vpsd_verb verb;
        vpsd_route_fn fn;
};
extern const struct vpsd_route vpsd_routes[];
extern const size_t vpsd_n_routes;
/* The row of a request, its second segment (a VPS's ID) in ret_arg; NULL when none. */
const struct vpsd_route *vpsd_route_find(const char *method, const char *url, char ret_arg[128]);
