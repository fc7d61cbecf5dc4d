/* audit.c: the audit log of mutating requests, ROOT/remote/audit.log (0600), one JSON line
 * each, rotated at vpsd.conf's log_max_size (VPSD_AUDIT_MAX) to audit.log.1 .. .log_keep
 * (VPSD_AUDIT_KEEP). */
#pragma once

#include "vps/error.h"

#include <stdint.h>

struct vpsd;
typedef struct json_t json_t;

#define VPSD_AUDIT_MAX      (8u << 20)
#define VPSD_AUDIT_KEEP     5
#define VPSD_AUDIT_READ_MAX 10000

int vpsd_audit_open(struct vpsd *d, const char *root, vps_error *err);
/* One line: time, client (local, a certificate's fingerprint, a token's name), verb, method,
 * path, VPS (or ""), HTTP status. Failures to write are logged, never answered. */
void vpsd_audit_write(struct vpsd *d, const char *client, const char *verb, const char *method,
                      const char *path, const char *vps, unsigned int status);
/* The lines since a time (seconds since the epoch), oldest first, the last
 * VPSD_AUDIT_READ_MAX at most. */
int vpsd_audit_read(struct vpsd *d, int64_t since, json_t **ret, vps_error *err);
