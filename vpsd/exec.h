/* exec.c: POST /v1/vps/ID/exec, upgraded to vps-exec: a command run in the VPS by a child of
 * vpsd (exec_child.c) whose stdio travels as frames on the connection (docs/api.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "vps/error.h"

struct vpsd;
struct vps_inst;
struct vpsd_client;
struct MHD_Connection;
struct MHD_Response;

/* At most this many at once into one VPS, and for one client (a token or a certificate). */
#define VPSD_EXEC_PER_VPS    8
#define VPSD_EXEC_PER_CLIENT 16
/* A request's bounds: argv entries, env entries, and the bytes of one. */
#define VPSD_EXEC_ARGV_MAX    256
#define VPSD_EXEC_ENV_MAX     64
#define VPSD_EXEC_ARG_LEN_MAX 65536

/* What a request asks for, checked (exec_child.c runs it). */
struct vpsd_exec_req {
        char id[VPS_ID_MAX + 1];
        char client[80]; /* the client's name, for the per-client limit ("" locally) */
        char **argv;     /* NULL-terminated */
        char **env;      /* "NAME=value", NULL-terminated */
        bool tty;
        unsigned int cols, rows; /* 0: not given */
        bool token; /* a token's request: host paths taken out of its errors (redact.h) */
};

/* Across a re-exec (reexec.c): the running commands' children, "|x=PID,ID" each, and in the
 * new image each taken back (watched, reaped when it ends, counted against its VPS). */
size_t vpsd_exec_inherit_env(char *buf, size_t size);
size_t vpsd_exec_sessions(void);
void vpsd_exec_inherit(struct vpsd *d, const char *env);

/* Whether url is /v1/vps/ID/exec. */
bool vpsd_exec_route(const char *url);
/* The 101 response, or NULL with err (refused: bad body, VPS not running or paused, limits). */
struct MHD_Response *vpsd_exec_response(struct vpsd *d, struct MHD_Connection *c,
                                        const struct vpsd_client *client, const char *url,
                                        const char *body, size_t len, vps_error *err);
/* Parses a request body into r (freed by vpsd_exec_req_free). */
int vpsd_exec_parse(const char *body, size_t len, struct vpsd_exec_req *r, vps_error *err);
void vpsd_exec_req_free(struct vpsd_exec_req *r);

/* Sends err as the stream's only frame ('E', {"error","errno"}), without host paths for a
 * token's request r. */
void vpsd_exec_refuse(const struct vpsd *d, const struct vpsd_exec_req *r, int sock,
                      const vps_error *err);
/* In the child: runs r in VPS vi, relaying its stdio as frames on sock; exits. */
_Noreturn void vpsd_exec_child(struct vpsd *d, struct vps_inst *vi, const struct vpsd_exec_req *r,
                               int sock);
