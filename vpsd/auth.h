/* auth.c: who a remote client is. Trusted client certificates (by SHA-256 fingerprint) and
 * customer tokens (only their hash kept), in ROOT/remote/{trust,tokens}.json (0600), and
 * the verbs a route needs (every row of handlers.c's table declares one). */
#pragma once

#include "vps/error.h"
#include "vps/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json_t json_t;

/* What a route needs. 0 is no verb at all: a route without one fails unit-routes. */
enum vpsd_verb {
        VPSD_VERB_UNDECLARED = 0,
        VPSD_VERB_ANY, /* any client that authenticated (GET /v1/version) */
        /* A token may hold these (`vpsctl token create --allow`): */
        VPSD_VERB_START,
        VPSD_VERB_STOP,
        VPSD_VERB_RESTART,
        VPSD_VERB_STATUS,
        VPSD_VERB_CONSOLE,
        VPSD_VERB_EXEC,
        VPSD_VERB_PASSWORD,
        VPSD_VERB_REINSTALL,
        VPSD_VERB_SNAPSHOT,
        VPSD_VERB_BACKUP,
        VPSD_VERB_METRICS,
        /* The local socket and trusted certificates alone. */
        VPSD_VERB_ADMIN,
        VPSD_VERB_COUNT
};

const char *vpsd_verb_name(enum vpsd_verb v);
/* A token's verb by name (start ... metrics), or VPSD_VERB_UNDECLARED. */
enum vpsd_verb vpsd_verb_parse(const char *name);
#define VPSD_VERB_BIT(v) (1u << (v))
#define VPSD_TOKEN_VERBS (((1u << VPSD_VERB_ADMIN) - 1) & ~3u)

enum vpsd_client_kind { VPSD_CLIENT_LOCAL, VPSD_CLIENT_CERT, VPSD_CLIENT_TOKEN };

#define VPSD_TOKEN_NAME_MAX 64
#define VPSD_TOKEN_VPS_MAX  64

/* An authenticated client: host root on the local socket, a trusted certificate (full
 * power), or a token (its verbs, its VPSes). */
struct vpsd_client {
        enum vpsd_client_kind kind;
        char name[VPSD_TOKEN_NAME_MAX + 1]; /* the token's name or the certificate's fingerprint */
        uint32_t allow;                     /* a token's verbs (VPSD_VERB_BIT) */
        bool all_vps;                       /* a token made without --vps */
        unsigned int n_vps;
        char vps[VPSD_TOKEN_VPS_MAX][VPS_ID_MAX + 1];
};

/* What a request needs (authz.c): its route's verb and the VPS its path names. */
struct vpsd_authz {
        enum vpsd_verb verb;      /* the route's, VPSD_VERB_UNDECLARED when none matched */
        char vps[VPS_ID_MAX + 1]; /* the VPS the path names, or "" */
        bool list_vps, version;   /* GET /v1/vps, GET /v1/version: narrowed for tokens */
        bool vps_route;           /* /v1/vps/...: a VPS's object in the answer, narrowed too */
};

/* The trust and token stores of a state root, in memory and in ROOT/remote. */
struct vpsd_auth {
        char dir[512];
        json_t *trust;  /* [{"fingerprint", "name", "added"}] */
        json_t *tokens; /* [{"id", "name", "hash", "vps", "allow", "created", "expires"}] */
};

int vpsd_auth_open(struct vpsd_auth *a, const char *root, vps_error *err);
void vpsd_auth_close(struct vpsd_auth *a);

/* "Bearer TOKEN" (the scheme in any case): the token's ID (16 hex digits) and the token.
 * Pure, for the fuzzer: -EINVAL for anything else. */
#define VPSD_TOKEN_ID_LEN 16
#define VPSD_TOKEN_LEN    (5 + VPSD_TOKEN_ID_LEN + 1 + 64)
int vpsd_auth_parse_bearer(const char *header, char ret_id[VPSD_TOKEN_ID_LEN + 1],
                           char ret_token[VPSD_TOKEN_LEN + 1]);
/* Checks an Authorization header: the token's client, or -EACCES with why (unknown, wrong,
 * expired); the hashes are compared in constant time. */
int vpsd_auth_token(struct vpsd_auth *a, const char *header, int64_t now, struct vpsd_client *ret,
                    vps_error *err);
/* Whether the fingerprint is trusted; ret gets the client. */
bool vpsd_auth_trusted(struct vpsd_auth *a, const char *fp, struct vpsd_client *ret);
/* Whether the client may see VPS id (a token's list, or all). */
bool vpsd_client_sees(const struct vpsd_client *c, const char *id);

/* The stores' changes (vpsd/remote_routes.c): each saved before it is answered. */
int vpsd_trust_add(struct vpsd_auth *a, const char *pem, const char *name, json_t **ret,
                   vps_error *err);
int vpsd_trust_remove(struct vpsd_auth *a, const char *fp, vps_error *err);
/* body: {"name", "vps": [...], "allow": [...], "expires": "30d"}; ret: the token's view and
 * "token", its secret, shown this once. */
int vpsd_token_create(struct vpsd_auth *a, json_t *body, int64_t now, json_t **ret, vps_error *err);
int vpsd_token_revoke(struct vpsd_auth *a, const char *name, vps_error *err);
/* The tokens without their hashes. */
/* A VPS destroyed (or moved away): its ID leaves every token's list, so that a later VPS of
 * that ID (another customer's) is not the old token's. */
int vpsd_token_forget_vps(struct vpsd_auth *a, const char *id, vps_error *err);
json_t *vpsd_token_list(struct vpsd_auth *a);
/* "30d", "12h", "90m", "3600s", "2w" or plain seconds; "never" or "0": 0. */
int vpsd_duration_parse(const char *s, int64_t *ret, vps_error *err);
