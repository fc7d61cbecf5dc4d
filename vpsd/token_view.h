/* token_view.c: a VPS's object as a token sees it (authz.c for every answer under /v1/vps,
 * list_view.c for GET /v1/vps): without what is the host's. A leaf: it uses nothing of vpsd. */
#pragma once

typedef struct json_t json_t;

/* Removes from vps (a VPS's object) its state directory, the host's PID of its init (and
 * what identifies that process), its cgroup, its uid range and vpsd's sysinfo socket. */
void vpsd_token_vps_view(json_t *vps);
