/* api.c: the HTTP API on the local socket (libmicrohttpd in the loop's epoll); complete
 * requests go to the ops given (handlers.c's routes), and may be suspended and answered
 * later. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>
#include <stddef.h>

struct vpsd;
struct vps_inst;
struct MHD_Connection;
struct MHD_Response;
struct request;
struct vpsd_client;
struct vpsd_authz;
typedef struct json_t json_t;

/* Where the API sends complete requests (handlers.c, or a test's own). */
struct vpsd_api_ops {
        /* Answers a request (its status and body) or suspends it (returns 1). */
        int (*handle)(struct vpsd *d, struct request *req, const char *method, const char *url,
                      const char *body, size_t len, unsigned int *status, json_t **ret_body);
        /* POST /v1/vps/ID/console: the VPS whose console the connection is upgraded to. */
        int (*console_check)(struct vpsd *d, const char *url, struct vps_inst **ret,
                             vps_error *err);
        /* The POSTs upgraded to a stream (backup.c): whether url is one, and its 101
         * response (NULL with err: refused). */
        bool (*stream_route)(const char *url);
        struct MHD_Response *(*stream_response)(struct vpsd *d, struct MHD_Connection *c,
                                                const char *url, bool token, vps_error *err);
        /* What an authenticated client may do (authz.c): 0, or a negative errno with err
         * and the status to answer; and its answers narrowed to what it may see (filter
         * takes the answer and returns the one to send, a copy where it narrows). */
        int (*authorize)(const struct vpsd_client *c, const char *method, const char *url,
                         const char *body, size_t len, struct vpsd_authz *ret,
                         unsigned int *ret_status, vps_error *err);
        json_t *(*filter)(const struct vpsd_client *c, const struct vpsd_authz *z, json_t *answer);
        /* The POSTs that may be upgraded to a progress stream (vps-progress): a copy's. */
        bool (*progress_route)(const char *url);
        /* POST /v1/vps/ID/exec, upgraded to vps-exec (exec.c): whether url is it, and its 101
         * response for the request's body (NULL with err: refused). */
        bool (*exec_route)(const char *url);
        struct MHD_Response *(*exec_response)(struct vpsd *d, struct MHD_Connection *c,
                                              const struct vpsd_client *client, const char *url,
                                              const char *body, size_t len, vps_error *err);
};

int vpsd_api_init(struct vpsd *d, const struct vpsd_api_ops *ops, vps_error *err);
/* The remote API on a listening TCP socket: HTTPS alone, after vpsd_api_init. At most
 * per_client connections from one address. */
int vpsd_api_init_tls(struct vpsd *d, int fd, unsigned int per_client, vps_error *err);
/* Answers a suspended request with a JSON body (takes the reference) and resumes it. */
void vpsd_request_finish(struct vpsd *d, struct request *req, unsigned int status, json_t *body);
void vpsd_request_fail(struct vpsd *d, struct request *req, const vps_error *err);
/* A request suspended before it was authenticated goes through authentication again. */
void vpsd_request_resume(struct vpsd *d, struct request *req);
struct request *vpsd_request_next(struct request *req);
void vpsd_request_set_next(struct request *req, struct request *next);
/* The value of a query argument ("force" of DELETE /v1/vps/ID?force=1), or NULL. handlers.c
 * sees a request only through these functions, so tests/fuzz/fuzz_api.c can call vpsd_handle
 * with requests of its own. */
const char *vpsd_request_arg(struct request *req, const char *key);
/* The answer as JSON text its route wrote (takes text, len bytes with the final newline;
 * sent as it is when the route succeeds, in place of the body it returns). */
void vpsd_request_set_raw(struct request *req, char *text, size_t len);
/* A progress stream's connection, where a copy's child writes its 'P' frames (stream.h), or
 * -1 (a plain request: no progress). The answer goes through vpsd_request_finish as ever. */
int vpsd_request_progress_fd(struct request *req);
/* Who sent the request (auth.h), or NULL before it is known (the fuzzer's requests). */
const struct vpsd_client *vpsd_request_client(struct request *req);
