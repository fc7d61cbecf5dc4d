/* migrated.c: the mark of a VPS migrated elsewhere (migrated_to: migrate --keep-src's, or a
 * migration's fence while its copy on the destination may run), checked by a start
 * (power_routes.c) and a resume (suspend_routes.c). A leaf: it uses nothing of vpsd. */
#pragma once

#include "vps/error.h"

typedef struct json_t json_t;
struct vps_inst;

/* A VPS marked migrated_to starts or resumes (verb) only with {"force": true}, which also
 * forgets the mark (saved in its config); -EPERM without it, naming the destination. */
int vpsd_check_migrated(struct vps_inst *vi, json_t *body, const char *verb, vps_error *err);
