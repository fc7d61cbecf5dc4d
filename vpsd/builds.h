/* builds.c: template builds and imports in child processes, watched by the loop. */
#pragma once

#include "vps/error.h"

struct vpsd;
typedef struct json_t json_t;

/* Starts building template name in a child; ret gets its progress object. */
int vpsd_build_start(struct vpsd *d, const char *name, const char *import_path, json_t **ret,
                     vps_error *err);
/* The progress object of the last build of name, or NULL. */
json_t *vpsd_build_status(struct vpsd *d, const char *name);
