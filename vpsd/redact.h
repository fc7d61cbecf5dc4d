/* redact.c: host paths taken out of the error texts a token's client gets (its answers are
 * narrowed by authz's filter; its errors by this). */
#pragma once

#include <jansson.h>
#include <stddef.h>

struct vpsd;

#define VPSD_REDACTED "(host path)"

/* Each path in text (NUL-terminated, at most size bytes with the NUL) that starts with one of
 * prefixes (absolute directories, given without a trailing slash) replaced by VPSD_REDACTED,
 * up to the next space, quote, comma, colon, semicolon or bracket: the prefix itself, or a
 * path below it, never a longer name that only begins alike ("/run/vpsx"). Truncated at size. */
void vpsd_redact_paths(char *text, size_t size, const char *const *prefixes, size_t n);
/* A token's error answer ({"error": TEXT, ...}): its TEXT without vpsd's host paths (the
 * state root, the run directory, the cgroup mount, /proc, /sys, /dev, LXCFS's). body is
 * changed in place and returned. */
json_t *vpsd_redact_error(const struct vpsd *d, json_t *body);
