/* vpsctl: a request on vpsd's local socket, without libcurl: a local command then loads 7
 * shared objects instead of 28 and spends a sixth of the CPU (bench/README.md). A remote's
 * requests go through libcurl (client.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "client.h"

struct local_reply {
        long status;
        char *body; /* NUL-terminated, malloc'd; NULL when empty */
        size_t len;
};

/* METHOD PATH on t's local socket with payload (JSON text, or NULL; a Content-Length of 0
 * when with_length and no payload), within timeout_s seconds (0: no limit; connecting waits
 * at most 10 s). The answer's status and body (at most max bytes, else EMSGSIZE) in *ret,
 * whatever the status. 0, or -errno with err set: "cannot connect to vpsd at PATH", "did not
 * answer within N seconds", "the connection closed without a reply", a malformed answer. */
int local_exchange(const struct client_target *t, const char *method, const char *path,
                   const char *payload, bool with_length, long timeout_s, size_t max,
                   struct local_reply *ret, vps_error *err);

/* GET PATH on t's local socket, its 2xx body handed to on_body as it arrives (chunks undone)
 * within timeout_s seconds (0: no limit), until vpsd ends it or on_body returns a negative
 * errno (returned). Another status becomes err from its body. */
int local_stream(const struct client_target *t, const char *path, long timeout_s,
                 int (*on_body)(const char *data, size_t len, void *arg), void *arg,
                 vps_error *err);
