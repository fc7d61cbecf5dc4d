/* stream.c: what the backup and restore streams share: the stream (an upgraded connection and
 * the child of vpsd that serves it, backup.c) and the child's frames to its client, which a
 * copy's progress stream (api.c, copy_job.c) sends too. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "vps/util.h"
#include "loop.h"
#include "vps/error.h"

struct MHD_UpgradeResponseHandle;
struct vpsd;
typedef struct json_t json_t;

enum vpsd_stream_kind { VPSD_STREAM_BACKUP, VPSD_STREAM_RESTORE };

struct vpsd_stream {
        struct vpsd_source w; /* ctl, in the loop */
        enum vpsd_stream_kind kind;
        char id[VPS_ID_MAX + 1]; /* the VPS backed up, or the one restored */
        bool full, incremental, force;
        bool trust_config; /* a restore: the archive's features and devnodes are taken */
        /* An online migration's copy (checkpoint=1, admin): a backup of a suspended VPS sends
         * its checkpoint images after the archive ('C' frames), a restore takes them. */
        bool checkpoint;
        char ips[VPS_MAX_IPS][VPS_IP_MAX];
        unsigned int n_ip;
        bool has_ips;
        uint64_t size; /* a restore: the archive bytes its client will send (0: unknown) */
        uint32_t uid_base;
        pid_t pid;
        int ctl;  /* the loop's end of the socketpair with the child; the child's in it */
        int sock; /* the upgraded connection */
        struct MHD_UpgradeResponseHandle *urh;
        char staging[96];
        char migrate[64]; /* a migration's peer (migrate_to, migrate_from), or "" */
        bool token;       /* a token's: its errors without host paths (redact.h) */
        bool done;        /* its child has said its last frame is going out: no longer busy */
        struct vpsd_stream *next;
};

/* "backup" or "restore", for messages. */
const char *vpsd_stream_what(const struct vpsd_stream *s);

/* One frame of type with body (JSON, or an empty payload) sent on fd without waiting, from
 * the loop: a whole frame or, when the peer does not read, what fits (the stream's end). */
void vpsd_frame_send_nowait(int fd, char type, const json_t *body);

/* --- in the child ------------------------------------------------------------------------- */

/* Dies with vpsd, ignores SIGPIPE, unblocks the signals the loop blocked. */
void vpsd_stream_child_setup(void);
/* The child's end of ctl, for vpsd_stream_last's word to the loop. */
void vpsd_stream_child_ctl(int ctl);
/* A token's stream: vpsd_stream_fail's text without d's host paths (redact.h). */
void vpsd_stream_child_redact(const struct vpsd *d);
/* The stream's last frame (type 'K' or 'E'): the loop hears first that the child is done
 * ('D', answered 'O'), so a client's next request about the VPS, sent the moment this frame
 * arrives, does not find it still busy with this one. */
void vpsd_stream_last(int fd, char type, const char *text, size_t len);
/* Sends err as the stream's last frame ('E') and exits 1. */
_Noreturn void vpsd_stream_fail(int fd, const vps_error *err);
/* A stream's progress, sent as 'P' frames {"phase", "unit", "done", "total", "files",
 * "bytes"}: done and total count the unit ("files": the paths a backup walks, counted before;
 * "bytes": the archive bytes a restore has received, of the size its client announced, 0 when
 * it did not), files and bytes what the library reports (paths and content bytes so far). */
struct vpsd_progress {
        int fd;
        const char *phase, *unit;
        uint64_t done, total, files, bytes;
        uint64_t sent_done; /* done in the last frame */
        int64_t sent_ms;    /* when it went (CLOCK_MONOTONIC) */
        bool sent;
};
/* Sends a frame when done grew by a hundredth of total, or 200 ms after the last one. */
void vpsd_progress_update(struct vpsd_progress *p);
/* Sends one now (a new phase). */
void vpsd_progress_send(struct vpsd_progress *p);
/* The work is done: the last frame, done equal to total. */
void vpsd_progress_end(struct vpsd_progress *p);
/* In a job's child: its progress feed (progress_feed.h) gets each frame's JSON too, at most
 * every 0.5 s and the last (vpsd_progress_end) always; fd -1: none. fd of a struct
 * vpsd_progress may be -1 (no client follows the progress): the feed alone then. */
void vpsd_progress_feed_child(int fd);
