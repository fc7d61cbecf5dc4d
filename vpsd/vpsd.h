/* vpsd internals: one event loop (epoll) over the API socket (libmicrohttpd in external
 * epoll mode), a signalfd, and per running VPS its pidfd, console master and stop timer. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "template/template.h"

typedef struct json_t json_t;

enum watch_kind {
        W_MHD,
        W_SIGNAL,
        W_PIDFD,
        W_CONSOLE,
        W_TIMER,
        W_CLIENT,
        W_BUILD_OUT,
        W_BUILD_END,
        W_SYSINFO,        /* a seccomp listener of VPS processes (sysinfo.c) */
        W_SYSINFO_LISTEN, /* the socket vpsctl hands the listeners of exec'd processes to */
        W_SYSINFO_CLIENT, /* one such vpsctl */
        W_JOB,            /* the pidfd of a change running in a child (jobs.c) */
        W_JOB_TIMER,      /* and the timer that kills it if it overruns */
        W_TRASH,          /* the removal of a destroyed VPS's files (trash.c) */
        W_RESTART,        /* a restart the guest asked for, held back (restart.c) */
        W_STREAM,         /* a backup or restore child's control socket (backup.c) */
};

struct watch {
        enum watch_kind kind;
        void *ptr;
};

struct request;
struct job;
struct trash_job;

/* A `vpsctl console` connection (an upgraded HTTP socket). */
struct console_client {
        struct watch w;
        int fd;
        struct MHD_UpgradeResponseHandle *urh;
        struct vps_inst *vi;
        struct console_client *next;
};

enum after_stop { AFTER_NOTHING, AFTER_START, AFTER_DESTROY };
/* How a requested stop is going (stop.c), for the log line when the init has exited. */
enum stop_how { STOP_NONE, STOP_HALTING, STOP_KILLED_TIMEOUT, STOP_KILLED_FAST };

struct vps_loop {
        struct watch w_pid, w_console, w_timer, w_restart;
        int timer_fd;
        int restart_fd; /* armed while a held-back restart is pending (vi->restart_at) */
        bool console_watched;
        struct request *waiters; /* suspended requests answered when the VPS has stopped */
        enum after_stop after;
        struct console_client *clients;
        struct job *job;    /* a change to the running VPS under way in a child (jobs.c) */
        bool exit_deferred; /* its init exited meanwhile: handled when the job ends */
        /* A stop under way (stop.c): the halt is sent again until the deadline. */
        enum stop_how stop_how;
        bool halt_ready; /* the init was seen taking its halt signal: resent once a second */
        int timeout_s;
        int64_t stop_began_ms, stop_deadline_ms; /* CLOCK_MONOTONIC */
};

/* A template build running in a child, or the last one of a name (its outcome). */
struct build_slot {
        struct vps_build b;
        struct watch w_out, w_end;
        bool used;
};

#define VPSD_BUILDS 4

/* A seccomp listener served by the loop, or a vpsctl connection handing one over. */
struct notifier {
        struct watch w;
        int fd;
        struct notifier *next;
};

struct vpsd {
        struct vps_manager m;
        struct vps_claims claims; /* cgroup parent, bridge, subnet (claims.h) */
        struct build_slot builds[VPSD_BUILDS];
        char mirror[256]; /* Debian mirror of template builds */
        int keeper_fd;    /* the console keeper (keeper.c), -1 without one */
        char keeper_root[400];
        int epfd, sigfd, listen_fd;
        struct MHD_Daemon *mhd;
        struct watch w_mhd, w_sig;
        bool quit;
        bool mhd_kick; /* a connection was resumed: run MHD again at once */
        /* POST /v1/shutdown (vpsd --shutdown-all): every VPS halted at once, the request
         * answered when the last has stopped; no start and no reboot meanwhile. */
        bool shutting_down;
        bool reexec; /* SIGHUP: leave the loop and exec the binary again (reexec.c) */
        struct request *shutdown_waiters;
        unsigned int shutdown_count, shutdown_killed;
        struct notifier *notifiers; /* listeners and hand-over clients (notify.c) */
        bool loop_up;               /* epfd exists */
        int sysinfo_fd;             /* the hand-over socket, -1 without one */
        struct watch w_sysinfo;
        char sysinfo_path[160];     /* its path, for vpsctl (status "sysinfo_socket") */
        unsigned int guest_timeout; /* vpsd.conf guest_timeout: seconds a job may take */
        unsigned int address_jobs;  /* jobs changing a VPS's addresses (jobs.c) */
        struct trash_job *trash; /* destroyed VPSes' files being removed (trash.c) */
        struct vps_backoff_policy restart_policy; /* vpsd.conf restart_* */
};

/* log.c: one line on stderr (ROOT/vpsd.log with --daemon). A message repeated more than
 * burst times within interval_s (same format, same strings; numbers may differ) is counted
 * and summed up in one line when the interval ends. */
void vpsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vpsd_log_limit(unsigned int burst, unsigned int interval_s);
/* Rotates path (from then on, if stderr is that file) at max_size bytes, keeping keep old
 * files path.1 (newest) to path.KEEP, each 0600. */
void vpsd_log_rotate_at(const char *path, uint64_t max_size, unsigned int keep);
/* Writes the summaries of intervals that have ended; returns the milliseconds until the next
 * one is due, or -1 when none is (a bound on the loop's wait). */
int vpsd_log_tick(void);

/* loop.c */
int vpsd_loop_init(struct vpsd *d, vps_error *err);
int vpsd_loop_run(struct vpsd *d);
/* Starts watching a VPS that just started or was re-adopted. */
int vpsd_watch_vps(struct vpsd *d, struct vps_inst *vi, vps_error *err);
void vpsd_forget_vps(struct vpsd *d, struct vps_inst *vi);
struct vps_loop *vpsd_loop_of(struct vps_inst *vi);
/* The loop's data of a VPS, made when missing (NULL when out of memory). */
struct vps_loop *vpsd_loop_ensure(struct vps_inst *vi);

/* stop.c */
/* Begins a stop: the halt signal and the timer that sends it again and kills the VPS at the
 * timeout, or cgroup.kill when fast. */
int vpsd_stop_begin(struct vpsd *d, struct vps_inst *vi, bool fast, int timeout_s, vps_error *err);
void vpsd_stop_on_timer(struct vpsd *d, struct vps_inst *vi);
/* How the stop of vi's exited init went, for its log line: " (clean: ...)", or "" when no
 * stop was asked for; forgets it. */
const char *vpsd_stop_describe(struct vps_inst *vi, char *buf, size_t size);

/* restart.c: restarts the guest asks for, held back when they come too fast. */
/* After the reap of a VPS whose guest asked for a restart, having run ran_s seconds: starts
 * it again at once or arms its restart timer. */
void vpsd_restart_guest(struct vpsd *d, struct vps_inst *vi, int64_t ran_s, bool oom);
void vpsd_restart_on_timer(struct vpsd *d, struct vps_inst *vi);
/* An operator's start or stop: no pending restart, and the history starts over. */
void vpsd_restart_cancel(struct vpsd *d, struct vps_inst *vi);
/* Closes the restart timer (the VPS is forgotten or destroyed). */
void vpsd_restart_drop(struct vpsd *d, struct vps_inst *vi);
/* Re-exec: "|r=ID,AT,RESTARTS,DELAY" of each pending restart, appended to buf; after it,
 * the pending restarts read back from env, and their timers armed once the loop is up. */
size_t vpsd_restart_inherit_env(struct vpsd *d, char *buf, size_t size);
void vpsd_restart_inherit(struct vpsd *d, const char *env);
void vpsd_restart_arm_all(struct vpsd *d);

/* builds.c */
/* Starts building template name in a child; ret gets its progress object. */
int vpsd_build_start(struct vpsd *d, const char *name, const char *import_path, json_t **ret,
                     vps_error *err);
/* The progress object of the last build of name, or NULL. */
json_t *vpsd_build_status(struct vpsd *d, const char *name);
void vpsd_build_on_output(struct vpsd *d, struct build_slot *s);
void vpsd_build_on_end(struct vpsd *d, struct build_slot *s);

/* jobs.c: a change that enters a running guest (its files, its namespaces) runs in a child
 * of vpsd with the guest_timeout deadline, so nothing a guest does can make the loop wait.
 * fn runs in the child on its copy of d and vi; what it changes of them (vi's config, the
 * network's state, the warning) comes back, and req is answered, when the child ends. */
typedef int (*vpsd_job_fn)(struct vpsd *d, struct vps_inst *vi, void *arg, vps_error *err);
/* Returns 1 (req suspended) or a negative errno. addresses: the job changes vi's addresses
 * (no other VPS's may change meanwhile: the child checks against the others it knows). */
int vpsd_job_start(struct vpsd *d, struct request *req, struct vps_inst *vi, bool addresses,
                   vpsd_job_fn fn, void *arg, vps_error *err);
/* Refuses (EBUSY) a change to vi while a job changes it, or (addresses) while any job
 * changes addresses. */
int vpsd_job_check_busy(struct vpsd *d, const struct vps_inst *vi, bool addresses, vps_error *err);
void vpsd_job_on_end(struct vpsd *d, struct job *j);
void vpsd_job_on_timer(struct vpsd *d, struct job *j);
/* vpsd exits: the requests of the jobs get an error (the jobs finish on their own); true
 * when there was one. */
bool vpsd_job_answer_all(struct vpsd *d);

/* loop.c: a VPS's init has exited (its pidfd is readable): reap it, answer its waiters. */
void vpsd_vps_exited(struct vpsd *d, struct vps_inst *vi);

/* reexec.c */
void vpsd_reexec_save_argv(char **argv);
/* Why a re-exec must wait (a build, a stop under way), or NULL. */
const char *vpsd_reexec_blocker(struct vpsd *d);
/* Execs the binary again keeping the API socket and the console ptys; returns on failure. */
void vpsd_reexec(struct vpsd *d);
/* After such an exec: the API socket, or -1; the consoles and children of the VPSes. */
int vpsd_inherited_listen_fd(void);
void vpsd_inherit_consoles(struct vpsd *d);

/* Answers every suspended request (waiting for a stop or a shutdown) with an error, as vpsd
 * exits: libmicrohttpd cannot stop with suspended connections. */
void vpsd_answer_suspended(struct vpsd *d);

/* keeper.c */
/* `vpsd --console-keeper`: the keeper process itself (fd 3: its listening socket). */
int vpsd_keeper_main(void);
/* Connects to the keeper of this root, starting it when there is none. */
void vpsd_keeper_open(struct vpsd *d, const char *root);
/* Takes back the consoles of re-adopted VPSes (same init) from the keeper, and from then on
 * hands it the console of every start. */
void vpsd_keeper_restore(struct vpsd *d);
/* Hands a copy of a starting VPS's console (and its init's pidfd) to the keeper (the
 * manager's console_hook) / tells it the VPS has stopped. */
void vpsd_keeper_put(void *data, const char *id, int master, int hold, int pidfd, int notify);
void vpsd_keeper_drop(struct vpsd *d, const char *id);

/* notify.c: sysinfo(2) of VPS processes, answered from their cgroups. */
/* Serves a listener from now on (takes the fd). */
void vpsd_notify_add(struct vpsd *d, int listener);
void vpsd_notify_on(struct vpsd *d, struct notifier *n, uint32_t events);
/* The abstract socket (named after the state root) vpsctl hands exec listeners to. */
int vpsd_notify_listen(struct vpsd *d, vps_error *err);
void vpsd_notify_on_accept(struct vpsd *d);
/* The listener fds, for a re-exec: "|n=FD" each, appended to buf. */
size_t vpsd_notify_inherit_env(struct vpsd *d, char *buf, size_t size);
/* After a re-exec: serves the listeners named in env. */
void vpsd_notify_inherit(struct vpsd *d, const char *env);
/* Watches the listeners taken before the loop existed. */
void vpsd_notify_watch_all(struct vpsd *d);

/* trash.c */
/* Destroys a stopped VPS: forgotten at once, its files removed by a child; the waiters (the
 * suspended DELETE requests, may be NULL) are answered when they are gone. Returns 1 when it
 * took them (0: done already, the caller answers). */
int vpsd_destroy(struct vpsd *d, struct vps_inst *vi, struct request *waiters, vps_error *err);
void vpsd_trash_on_end(struct vpsd *d, struct trash_job *t);
/* At start-up: removes what destroys left when an earlier vpsd died (vps/.del-*). */
void vpsd_trash_resume(struct vpsd *d);
/* As vpsd exits: fails the requests still waiting; true if there were any. */
bool vpsd_trash_answer_all(struct vpsd *d);

/* shutdown.c */
/* Answers the shutdown requests once no VPS runs any more. */
void vpsd_shutdown_check(struct vpsd *d);
/* vpsd --shutdown-all: asks the vpsd on sock to stop every VPS (timeout s each, in
 * parallel) and waits; returns the exit status. */
int vpsd_shutdown_all_client(const char *sock, int timeout);

/* console.c */
int vpsd_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                        struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len);
void vpsd_console_on_master(struct vpsd *d, struct vps_inst *vi);
/* Reads what is left on the console of a VPS whose init has exited (before it is closed). */
void vpsd_console_drain(struct vpsd *d, struct vps_inst *vi);
void vpsd_console_on_client(struct vpsd *d, struct console_client *c);
void vpsd_console_drop_all(struct vpsd *d, struct vps_inst *vi);

/* api.c */
int vpsd_api_init(struct vpsd *d, vps_error *err);
/* Answers a suspended request with a JSON body (takes the reference) and resumes it. */
void vpsd_request_finish(struct vpsd *d, struct request *req, unsigned int status, json_t *body);
void vpsd_request_fail(struct vpsd *d, struct request *req, const vps_error *err);
struct request *vpsd_request_next(struct request *req);
void vpsd_request_set_next(struct request *req, struct request *next);
/* The value of a query argument ("force" of DELETE /v1/vps/ID?force=1), or NULL. handlers.c
 * sees a request only through these functions, so tests/fuzz/fuzz_api.c can call vpsd_handle
 * with requests of its own. */
const char *vpsd_request_arg(struct request *req, const char *key);

/* handlers.c: route a complete request; either answers it (returns the response through
 * status and body) or suspends it (returns 1). */
int vpsd_handle(struct vpsd *d, struct request *req, const char *method, const char *url,
                const char *body, size_t len, unsigned int *status, json_t **ret_body);
/* After a VPS stopped: answer its waiters, run what the stop was for. */
void vpsd_after_stop(struct vpsd *d, struct vps_inst *vi);
/* Called from the upgrade path of POST /v1/vps/ID/console. */
int vpsd_handle_console_check(struct vpsd *d, const char *url, struct vps_inst **ret,
                              vps_error *err);
/* backup.c: POST /v1/vps/ID/backup and POST /v1/restore, HTTP Upgrades to a stream served
 * by a child of vpsd. */
struct stream;
bool vpsd_stream_route(const char *url);
/* The 101 response, or NULL with err (the request is refused). */
struct MHD_Response *vpsd_stream_response(struct vpsd *d, struct MHD_Connection *c,
                                          const char *url, vps_error *err);
void vpsd_stream_on_ctl(struct vpsd *d, struct stream *s);
/* EBUSY while a backup or restore of VPS id is under way. */
int vpsd_stream_busy(struct vpsd *d, const char *id, vps_error *err);
