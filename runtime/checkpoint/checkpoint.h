/* Checkpointing a VPS with CRIU (exec'd, never linked): whether this host can (criu.c: the
 * binary, its version and `criu check`, probed by a child off vpsd's loop), and a VPS's
 * suspend to disk and resume (suspend.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vps/error.h"

struct json_t;

/* Where criu is looked for, in order, when VPS_CRIU (tests: a path, or "" for none) is not
 * set: scripts/install-criu's backport first. */
#define VPS_CRIU_PATHS                                                                             \
        "/usr/local/sbin/criu", "/usr/sbin/criu", "/usr/local/bin/criu", "/usr/bin/criu"

enum vps_criu_state { VPS_CRIU_PROBING, VPS_CRIU_AVAILABLE, VPS_CRIU_UNAVAILABLE };

struct vps_criu_status {
        enum vps_criu_state state;
        char path[256];   /* the binary ("" when none was found) */
        char version[32]; /* "4.1.1" ("" when unknown) */
        char why[512];    /* why not, when unavailable */
};

/* The criu binary to use: VPS_CRIU, else the first executable of VPS_CRIU_PATHS; ENOENT
 * naming where it looked. */
int vps_criu_find(char *ret, size_t size, vps_error *err);

/* The probe: a fork that runs `criu --version` and `criu check` (each with a deadline) and
 * writes a report on *ret_out, then exits; the caller watches *ret_pidfd and reads the
 * report (at most VPS_CRIU_REPORT_MAX bytes, so the child never blocks on the pipe) when it
 * has ended. No criu found: no child, *ret_pid is 0 and st says why. */
#define VPS_CRIU_REPORT_MAX 4096
int vps_criu_probe_start(struct vps_criu_status *st, pid_t *ret_pid, int *ret_pidfd, int *ret_out,
                         vps_error *err);
/* A probe's report (what the child wrote) into st: available when `criu check` passed and
 * vpsd has the capabilities criu needs, else why not (check's last error line, or the
 * capabilities missing); pure, for unit tests. */
void vps_criu_parse_report(const char *report, struct vps_criu_status *st);
/* The capabilities criu needs (of the process that runs it) that capeff lacks, as
 * "cap_sys_resource,..." ("" when none). */
void vps_criu_missing_caps(unsigned long long capeff, char *ret, size_t size);
/* One line for vpsd's log: "available (criu 4.1.1, /usr/local/sbin/criu)" or
 * "not available: ...". */
void vps_criu_describe(const struct vps_criu_status *st, char *ret, size_t size);
/* {"state": "probing"|"available"|"unavailable", "available", "criu", "version", "why"} */
struct json_t *vps_criu_status_json(const struct vps_criu_status *st);
