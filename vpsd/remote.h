/* remote.c: the remote API's start: `listen ADDR:PORT` parsed and bound (or the socket a
 * re-exec kept), the TLS identity loaded, the trust and token stores and the audit log
 * opened; and `vpsd --fingerprint`. */
#pragma once

#include "vps/error.h"

#include <sys/socket.h>

struct vpsd;
struct vps_daemon_conf;

#define VPSD_LISTEN_CLIENT_LIMIT 256

/* "ADDR:PORT": "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:8443", "[::]:8443". */
int vpsd_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
                      vps_error *err);
/* The stores and the audit log always (the local socket's changes are audited too); the TLS
 * daemon when conf's listen is not empty. */
int vpsd_remote_start(struct vpsd *d, const char *root, const struct vps_daemon_conf *conf,
                      vps_error *err);
/* vpsd --fingerprint: prints the certificate's SHA-256 fingerprint (making it when missing). */
int vpsd_fingerprint_main(const char *root);
/* vpsd --routes: the route table, a JSON object a line ({"method", "path" with {} for the
 * argument, "verb", "vps": whether the argument is a VPS's ID}), for the tests that walk it. */
int vpsd_routes_main(void);
