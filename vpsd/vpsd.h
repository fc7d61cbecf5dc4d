/* vpsd's state: the daemon (struct vpsd) and what the loop keeps per VPS (struct vps_loop).
 * Each module has its own header for its functions (api.h, stop.h, ...); this one holds only
 * the state they share. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "loop.h"
#include "throttle.h"
#include "ratelimit.h"
#include "sysinfo_handover.h"
#include "vps/backoff.h"
#include "core/core.h"
#include "sandbox/sandbox.h"
#include "template/template.h"
#include "checkpoint/checkpoint.h"

typedef struct json_t json_t;
struct request;
struct job;
struct criu_job;
struct trash_job;
struct console_client;
struct vpsd_sysinfo;
struct vpsd_api_ops;
struct vpsd_fleet;
struct vpsd_subscriber;

#define VPSD_LIMIT_FILES    2
#define VPSD_LIMIT_COUNTERS 6

enum after_stop { AFTER_NOTHING, AFTER_START, AFTER_DESTROY };
/* How a requested stop is going (stop.c), for the log line when the init has exited. */
enum stop_how { STOP_NONE, STOP_HALTING, STOP_KILLED_TIMEOUT, STOP_KILLED_FAST };

/* vi->loop_data: the loop's sources of a VPS and the requests and jobs about it. */
struct vps_loop {
        struct vps_inst *vi;
        struct vpsd_source w_pid, w_console;
        struct vpsd_source w_timer;   /* a stop under way (stop.c) */
        struct vpsd_source w_restart; /* armed while a held-back restart is pending
                                         (vi->restart_at, restart.c) */
        bool console_watched;
        struct request *waiters; /* suspended requests answered when the VPS has stopped */
        enum after_stop after;
        struct console_client *clients;
        struct job *job;       /* a change to the running VPS under way in a child (jobs.c) */
        struct criu_job *criu; /* a suspend or resume under way (suspend_routes.c) */
        bool exit_deferred;    /* its init exited meanwhile: handled when the job ends */
        /* A stop under way (stop.c): the halt is sent again until the deadline. */
        enum stop_how stop_how;
        bool halt_ready; /* the init was seen taking its halt signal: resent once a second */
        int timeout_s;
        int64_t stop_began_ms, stop_deadline_ms; /* CLOCK_MONOTONIC */
        /* A pause under way (pause_routes.c): its cgroup.events watched until it says frozen,
         * a timer for the deadline, the requests answered then. */
        struct vpsd_source w_frozen, w_pause_timer;
        struct request *pause_waiters;
        int64_t pause_began_us;
        /* Its cgroup's memory.events and pids.events watched (limit_events.c): inotify watch
         * descriptors (0: none) and the counters last seen. */
        int limit_wd[VPSD_LIMIT_FILES];
        uint64_t limit_seen[VPSD_LIMIT_FILES][VPSD_LIMIT_COUNTERS];
};

/* A template build running in a child, or the last one of a name (its outcome; builds.c). */
struct build_slot {
        struct vps_build b;
        struct vpsd_source w_out, w_end;
        bool used;
};

#define VPSD_BUILDS 4

struct vpsd {
        struct vps_manager m;
        /* The VPSes sorted by ID for GET /v1/vps (list_view.c), valid while the manager's
         * members_gen is order_gen. */
        struct vps_inst **order;
        size_t n_order;
        uint64_t order_gen;
        struct vps_claims claims; /* cgroup parent, bridge, subnet (claims.h) */
        struct build_slot builds[VPSD_BUILDS];
        char mirror[256]; /* Debian mirror of template builds */
        int keeper_fd;    /* the console keeper (keeper.c), -1 without one */
        char keeper_root[400];
        struct vpsd_event ev;
        int sigfd, listen_fd;
        struct MHD_Daemon *mhd;
        const struct vpsd_api_ops *api_ops; /* where requests go (api.h) */
        struct vpsd_source w_mhd, w_sig;
        bool mhd_kick; /* a connection was resumed: run MHD again at once */
        /* The remote API (`listen`, remote.c): its HTTPS daemon and listening socket (-1:
         * none), its certificate's fingerprint, who may use it (auth.c), the audit log
         * (audit.c), failed authentications held back (api.c, throttle.c). */
        struct MHD_Daemon *tls_mhd;
        struct vpsd_source w_tls;
        int tls_fd;
        char tls_fp[65];
        struct vpsd_auth auth;
        int audit_fd;
        char audit_dir[512];
        uint64_t audit_max; /* rotated at this size, keeping audit_keep old files */
        unsigned int audit_keep;
        struct vpsd_throttle throttle;
        struct vpsd_holds held;
        struct vpsd_rate rate; /* requests per token (ratelimit.c) */
        /* GET /v1/events's subscribers (events.c), their queue's size (0: the default) and
         * the keep-alive timer of idle streams. */
        struct vpsd_subscriber *subscribers;
        unsigned int events_queue;
        struct vpsd_source w_events;
        bool events_timer;
        /* The cgroup event files of running VPSes (limit_events.c): one inotify for all. */
        int limits_fd;
        struct vpsd_source w_limits;
        /* POST /v1/shutdown (vpsd --shutdown-all): every VPS halted at once, the request
         * answered when the last has stopped; no start and no reboot meanwhile. */
        bool shutting_down;
        bool reexec;        /* SIGHUP: leave the loop and exec the binary again (reexec.c) */
        bool reexec_wanted; /* a SIGHUP came: reexec once nothing holds it (signals.c) */
        struct request *shutdown_waiters;
        unsigned int shutdown_count, shutdown_killed;
        /* sysinfo(2) of the VPSes: answered by a thread of its own (notify.c) */
        struct vpsd_sysinfo_shared si_shared; /* listeners and plans handed to it */
        struct vpsd_sysinfo *si_thread;
        int sysinfo_fd;              /* the hand-over socket (the thread's), -1 without one */
        char sysinfo_path[160];      /* its path, for vpsctl (status "sysinfo_socket") */
        unsigned int guest_timeout;  /* vpsd.conf guest_timeout: seconds a job may take */
        unsigned int criu_timeout;   /* vpsd.conf criu_timeout: seconds a criu may take */
        unsigned int start_parallel; /* vpsd.conf start_parallel: API starts at once (starts.c) */
        unsigned int
                token_snapshots;   /* vpsd.conf token_snapshots: a token's per VPS (snapshots.c) */
        unsigned int address_jobs; /* jobs changing a VPS's addresses (jobs.c) */
        /* Tests only: VPS_TEST_LOOP_STALL_MS in vpsd's environment at its start; a
         * `GET /v1/version?stall=1` then holds the loop that long (handlers.c). */
        unsigned int test_stall_ms;
        struct trash_job *trash; /* destroyed VPSes' files being removed (trash.c) */
        struct vps_backoff_policy restart_policy; /* vpsd.conf restart_* */
        struct vpsd_fleet *fleet; /* vpsd --cluster: this node's part of the fleet (fleet.h) */
        /* Whether this host can checkpoint VPSes (criu_probe.c): probed at start-up. */
        struct vps_criu_status criu;
        struct vpsd_source w_criu; /* the probe's pidfd while it runs */
        /* vpsd --starter (starter.c): clones each start's setup; fd -1 without one. */
        struct vps_starter starter;
        struct vpsd_source w_starter;
        int criu_out; /* its report's pipe */
        /* A VPS's init has exited (vpsd_vps_exited, reap.c): set by main.c, called by the
         * loop's watch (watch.c) and by a job that held the exit back (jobs.c). */
        void (*vps_exited)(struct vpsd *d, struct vps_inst *vi);
};

/* vpsd.c: the loop's data of a VPS, or NULL; made when missing (NULL when out of memory). */
struct vps_loop *vpsd_loop_of(struct vps_inst *vi);
struct vps_loop *vpsd_loop_ensure(struct vps_inst *vi);
/* An operation that went ahead with a warning (the manager has one: a limit not enforced...):
 * logs it and, when answer is not NULL, adds it to the answer as "warning". */
void vpsd_report_warning(struct vpsd *d, const char *id, json_t *answer);
