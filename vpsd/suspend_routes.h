/* suspend_routes.c: POST /v1/vps/ID/suspend and /resume (rows of handlers.c's route table):
 * a VPS dumped to disk with CRIU and stopped (status suspended), and restored from its
 * images; each criu runs in a child of vpsd the loop watches. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct vpsd;
struct request;
struct vps_inst;
typedef struct json_t json_t;

int vpsd_route_suspend(struct vpsd *d, struct request *req, const char *id, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err);
int vpsd_route_resume(struct vpsd *d, struct request *req, const char *id, json_t *body,
                      unsigned int *status, json_t **ret, vps_error *err);
/* A resume of vi (req may be NULL): 1 when under way (req answered when it ends), or a
 * negative errno with err set. timeout_s: criu's deadline, 0 for vpsd.conf criu_timeout; at
 * it criu is killed and the VPS stays suspended (ETIMEDOUT). */
int vpsd_resume_vps(struct vpsd *d, struct vps_inst *vi, struct request *req,
                    unsigned int timeout_s, vps_error *err);
/* EBUSY while a suspend or resume of VPS id runs: no other change to it meanwhile (a destroy
 * or stop would pull it from under criu). */
int vpsd_criu_busy(struct vpsd *d, const char *id, vps_error *err);
/* The onboot start of a suspended VPS: resumed now, or once the start-up probe has said
 * whether this host can (vpsd_criu_probed, which criu_probe.c calls). */
void vpsd_resume_onboot(struct vpsd *d, struct vps_inst *vi);
void vpsd_criu_probed(struct vpsd *d);
/* vpsd exits: the waiting requests get an error; true if any. */
bool vpsd_criu_answer_all(struct vpsd *d);
