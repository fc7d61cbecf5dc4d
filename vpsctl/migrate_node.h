/* migrate_node.c: vpsctl migrate --to-node NAME, the destination a node of this host's fleet:
 * reached over its remote API (HTTPS), its key pinned from its record in etcd, this node's
 * own certificate presented (a fleet node's certificate is admin on the others). The owner
 * records move to it in one transaction through this node's vpsd (POST /v1/vps/ID/move). */
#pragma once

#include <stdbool.h>

#include "client.h"
#include "vps/error.h"

typedef struct json_t json_t;
struct vpsctl;

struct node_dest {
        char name[64], self[64], url[256], pin[64], fp[80], cert[600], key[600];
        struct client_target t;
        bool moved; /* the owner records are the destination's now */
};

/* "&key=peer" into buf, telling vpsd a request is a migration's (its "migration" events);
 * "" when peer has characters vpsd does not take there (the request then goes untold). */
void migrate_peer_arg(char *buf, size_t size, const char *key, const char *peer);

/* Asks the source's vpsd (v) to check the destination to ("auto": the placement rule) for
 * VPS id (vps: its GET answer) and fills nd. Refusals: one line (unknown, down, drained, no
 * template without full, no quorum). */
int node_dest_check(struct vpsctl *v, const char *id, const char *to, bool full, json_t *vps,
                    struct node_dest *nd, vps_error *err);
/* The ID must be free on the destination. */
int node_preflight(struct node_dest *nd, const char *id, vps_error *err);
/* The source's backup stream into the destination's POST /v1/restore. *ret_maybe: the
 * destination may hold a copy now. */
int node_transfer(struct vpsctl *v, struct node_dest *nd, const char *id, bool full, json_t *ips,
                  unsigned long long *ret_bytes, bool *ret_maybe, vps_error *err);
/* POST /v1/vps/ID/VERB there ("start"), or DELETE (verb "destroy", forced). */
int node_simple(struct node_dest *nd, const char *id, const char *verb, vps_error *err);
/* The owner records from the source to the destination (back: the other way). */
int node_move(struct vpsctl *v, struct node_dest *nd, const char *id, bool back, bool running,
              vps_error *err);
/* The destination must have the VPS's template tpl in the version the source has (a backup
 * without --full needs it); when not: carry sets *full, else a refusal naming both. */
int node_template_check(struct vpsctl *v, struct node_dest *nd, const char *tpl, bool *full,
                        bool carry, vps_error *err);
