/* vpsctl: the HTTP client of vpsd's REST API (docs/api.md), over its Unix socket. */
#pragma once

#include <jansson.h>

#include "vps/error.h"

/* Connects a stream socket to vpsd (for the console upgrade, which client_request() does
 * not do), waiting as long as the daemon takes to accept. On failure the message names the
 * socket and the real errno. Returns the fd (O_CLOEXEC) or a negative errno. */
int client_connect(const char *socket_path, vps_error *err);

/* Sends METHOD PATH with body (NULL for none) as JSON over HTTP/1.1 (http.h) and waits up
 * to timeout_s seconds (0 or less: forever; connecting never waits more than 10 s) before
 * "vpsd at PATH did not answer within N seconds". On a 2xx reply stores the parsed JSON
 * body in *ret (NULL when the body is empty) and returns 0. An HTTP error status becomes
 * err with the daemon's "error" text and "errno"; returns a negative errno. */
int client_request(const char *socket_path, const char *method, const char *path, json_t *body,
                   long timeout_s, json_t **ret, vps_error *err);

/* The same for a GET whose 2xx body is wanted as vpsd sent it (*ret: malloc'd, NUL
 * terminated, NULL when empty), e.g. to print it without parsing it. */
int client_request_text(const char *socket_path, const char *path, long timeout_s, char **ret,
                        size_t *ret_len, vps_error *err);

/* Turns an HTTP error reply body into err: the "error" field as is, "errno" as the code. */
int client_error_from_body(const char *body, size_t len, long http_status, vps_error *err);
/* The API's field names in msg ('ram', 'ssh_key') as vpsctl's options (--ram, --ssh-key). */
void client_option_names(char *msg, size_t size);
