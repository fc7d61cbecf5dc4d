/* stream.c: what the backup and restore streams share: the stream (an upgraded connection and
 * the child of vpsd that serves it, backup.c) and the child's frames to its client. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "vps/util.h"
#include "loop.h"
#include "vps/error.h"

struct MHD_UpgradeResponseHandle;

enum vpsd_stream_kind { VPSD_STREAM_BACKUP, VPSD_STREAM_RESTORE };

struct vpsd_stream {
        struct vpsd_source w; /* ctl, in the loop */
        enum vpsd_stream_kind kind;
        char id[VPS_ID_MAX + 1]; /* the VPS backed up, or the one restored */
        bool full, incremental, force;
        char ips[VPS_MAX_IPS][VPS_IP_MAX];
        unsigned int n_ip;
        bool has_ips;
        uint32_t uid_base;
        pid_t pid;
        int ctl;  /* the loop's end of the socketpair with the child; the child's in it */
        int sock; /* the upgraded connection */
        struct MHD_UpgradeResponseHandle *urh;
        char staging[96];
        struct vpsd_stream *next;
};

/* "backup" or "restore", for messages. */
const char *vpsd_stream_what(const struct vpsd_stream *s);

/* --- in the child ------------------------------------------------------------------------- */

/* Dies with vpsd, ignores SIGPIPE, unblocks the signals the loop blocked. */
void vpsd_stream_child_setup(void);
/* Sends err as the stream's 'E' frame and exits 1. */
_Noreturn void vpsd_stream_fail(int fd, const vps_error *err);
/* Sends p as a 'P' frame, at most one each 200 ms (*last_ms: when the last one went). */
struct vps_backup_progress;
void vpsd_stream_progress(int fd, const struct vps_backup_progress *p, int64_t *last_ms);
