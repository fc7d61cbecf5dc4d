/* The set of VPSes under one state root, and the operations on them. vpsd owns one manager;
 * the event loop watches each running VPS's pidfd and console fd. struct vps_manager and
 * struct vps_inst are defined below the subsystems, in inst/inst.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "vps/backoff.h"

#include "cgroup/cgroup.h"
#include "config/config.h"
#include "vps/error.h"
#include "vps/localsock.h"
#include "net/net.h"
#include "inst/inst.h"
#include "template/template.h"

struct json_t;

#define VPS_UID_START 2000000u

/* Opens (creating) the state root, takes its lock, loads every VPS and re-adopts the running
 * ones (state.json + start time + cgroup membership + pidfd_open). */
int vps_manager_open(struct vps_manager *m, const char *root, const char *cgroup_parent,
                     const struct vps_netconf *net, vps_error *err);
void vps_manager_close(struct vps_manager *m);
/* The run state of a VPS (ID.json in run_fd). */
int vps_inst_state_save(struct vps_manager *m, const struct vps_inst *vi,
                        const struct vps_state *st, vps_error *err);
int vps_inst_state_remove(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
struct vps_inst *vps_manager_find(struct vps_manager *m, const char *id, vps_error *err);

/* A VPS made of a create's change set (vps_change_from_json on vps_manager_new_config's
 * defaults): the ID and template in ch->v, the given fields over the defaults, all checked
 * before its directory is made; config.json written once. */
int vps_manager_create(struct vps_manager *m, const struct vps_change *ch, struct vps_inst **ret,
                       vps_error *err);
/* The config of a new VPS without settings: no limits, vpsd's netmode. */
void vps_manager_new_config(const struct vps_manager *m, struct vps_config *ret);
/* base (the new VPS's identity and defaults) with ch's fields, checked against the host and
 * the other VPSes (runtime/core/update.c). */
int vps_manager_create_config(struct vps_manager *m, const struct vps_config *base,
                              const struct vps_change *ch, struct vps_config *ret, vps_error *err);
/* Applies a change set to a VPS as one transaction: checked first (vps_config_next and the
 * host: addresses, forwards, limits), then the live steps of a running VPS in order, each
 * undone when a later one fails, then config.json saved once; vi->cfg changes only then.
 * Fills m->warning with what went ahead with a warning. */
int vps_manager_update(struct vps_manager *m, struct vps_inst *vi, const struct vps_change *ch,
                       vps_error *err);
/* What vps_manager_update would refuse before it changes anything. */
int vps_manager_update_check(struct vps_manager *m, struct vps_inst *vi,
                             const struct vps_change *ch, vps_error *err);
/* defaults.c: the numproc and ptys of a VPS without its own, from vpsd.conf
 * (default_numproc, devpts_max; -1 and 0 there: not set) or the built-in ones. */
void vps_defaults_from_conf(const struct vps_daemon_conf *conf, struct vps_defaults *ret);
/* ret: own, with d's numproc where own has none; true when that default was filled in. */
bool vps_defaults_apply(const struct vps_defaults *d, const struct vps_limits *own,
                        struct vps_limits *ret);
/* The limits a running VPS's cgroup gets: vps_defaults_apply's, the default numproc only
 * where the host enforces it (a default is no reason to refuse a start). */
void vps_manager_effective_limits(const struct vps_manager *m, const struct vps_limits *own,
                                  struct vps_limits *ret);
/* True once per host boot: the first vpsd since the boot (boot_id differs from the one
 * recorded in ROOT/.boot_id, which is then updated). */
bool vps_manager_first_since_boot(struct vps_manager *m);
/* Fills ret with the stopped VPSes marked onboot, highest bootorder first; returns how many. */
size_t vps_manager_onboot_list(struct vps_manager *m, struct vps_inst **ret, size_t max);
/* Only a stopped VPS can be destroyed. */
int vps_manager_destroy(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
/* The first half of a destroy, for a caller that removes the files itself (off its loop: the
 * guest chose their depth): the VPS is forgotten and its directory renamed to ret_trash
 * (VPS_TRASH_PREFIX...) in vps/, its project id in *ret_projid for vps_disk_release once the
 * files are gone. vps_manager_open leaves such directories to its caller. */
int vps_manager_unlink(struct vps_manager *m, struct vps_inst *vi, char *ret_trash, size_t size,
                       uint32_t *ret_projid, vps_error *err);
/* A restore: loads the VPS directory just put in place as vps/ID; forgets a VPS whose
 * directory was replaced (its files are the caller's to remove). */
int vps_manager_load(struct vps_manager *m, const char *id, struct vps_inst **ret, vps_error *err);
void vps_manager_forget(struct vps_manager *m, struct vps_inst *vi);

int vps_manager_start(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
/* -EALREADY, said in one line naming the VPS, unless it is stopped and no start of it is
 * under way. */
int vps_manager_start_refused(const struct vps_inst *vi, vps_error *err);
/* The same in steps, so that a loop runs several starts at once (vpsd/starts.c): begin does
 * the host's part up to the clone of the start's processes (cgroup, limits, console, the
 * network's filter) and marks vi starting (still VPS_STOPPED); when vps_manager_start_fd is
 * readable, step goes on: 1 while it waits for that again, 0 when the VPS runs (as after
 * vps_manager_start, m->warning set), < 0 when it failed (all undone). free ends it in any
 * case (an unfinished start killed and undone). Meanwhile nothing may change vi. */
struct vps_start;
int vps_manager_start_begin(struct vps_manager *m, struct vps_inst *vi, struct vps_start **ret,
                            vps_error *err);
int vps_manager_start_fd(const struct vps_start *s);
struct vps_inst *vps_manager_start_inst(const struct vps_start *s);
int vps_manager_start_step(struct vps_start *s, vps_error *err);
void vps_manager_start_free(struct vps_start *s);

/* core/resume.c: suspend to disk and resume (checkpoint.h runs criu; vpsd its children).
 * check: 0 when vi may be suspended (resume false: running, not paused, a console held, no
 * network yet) or resumed (suspended). resume_begin makes the host side as a start does and
 * fills *ret_p (pointing into the start and run_dir) for vps_checkpoint_restore_exec in a
 * child; vps_manager_start_free ends it, undone unless resume_end took the restored init
 * (pid, vpsd's child, its pidfd then the VPS's). */
struct vps_checkpoint_params;
int vps_manager_suspend_check(struct vps_manager *m, struct vps_inst *vi, bool resume,
                              vps_error *err);
int vps_manager_resume_begin(struct vps_manager *m, struct vps_inst *vi, const char *criu,
                             struct vps_start **ret, struct vps_checkpoint_params *ret_p,
                             char *run_dir, size_t run_dir_size, vps_error *err);
int vps_manager_resume_end(struct vps_start *s, int pidfd, pid_t pid, vps_error *err);
/* A restore cut off (criu killed at its deadline: vpsd/suspend_routes.c): every task it made in
 * the VPS's cgroup killed, and those that are vpsd's children (the init, criu's sibling)
 * handed to m->reap_hook, so none is left a zombie; the rest of the host side goes with
 * vps_manager_start_free. */
void vps_manager_resume_abort(struct vps_start *s);
/* 0 unless vi is suspended: what would run it or change its root (a start, a reinstall, a
 * switch to a snapshot) refuses then, as its images restore processes over the root they were
 * dumped from (EALREADY, naming resume and destroy). */
int vps_manager_not_suspended(const struct vps_inst *vi, vps_error *err);

struct vps_capture;
struct vps_copy_progress;
/* core/clone.c: a new VPS new_id from src (running: frozen for the copy), its own id range,
 * disk project, hostname (NULL: the default) and addresses (none unless given), src's upper
 * layer with owners, ACL ids and file capabilities moved into the new range, no machine-id
 * or ssh host keys; src's settings but port forwards and onboot. In three steps, so that the
 * copy (the guest chose its size) can run in a child while the manager's state changes only
 * in the caller:
 * - vps_clone_begin: the new VPS created (its ID, id range, disk project and addresses taken
 *   in m at once) and hidden as vps/.clone-NEWID, which a vpsd that starts removes;
 * - vps_clone_copy: the copy and the source's settings saved in the new VPS's config.json
 *   (changes the files only, and dst in the process that runs it); on failure the partial
 *   copy is removed; ret_cap: the copy's figures; pr (or NULL): its progress;
 * - vps_clone_end with the copy's result: the settings taken in and the VPS published by one
 *   rename, or (r < 0, or the publish fails) forgotten and removed; returns r or that error. */
int vps_clone_begin(struct vps_manager *m, struct vps_inst *src, const char *new_id,
                    const char *hostname, char ips[][VPS_IP_MAX], unsigned int n_ip,
                    struct vps_inst **ret, vps_error *err);
int vps_clone_copy(struct vps_manager *m, struct vps_inst *src, struct vps_inst *dst,
                   const struct vps_copy_progress *pr, struct vps_capture *ret_cap, vps_error *err);
int vps_clone_end(struct vps_manager *m, struct vps_inst *dst, int r, vps_error *err);

/* Refuses (EPERM) a VPS whose host id range starts below VPS_UID_START (host users, and
 * uid 0) or overlaps another VPS's: two guests sharing host ids could reach each other's
 * files and processes. Checked at every start (config.json may have been edited or copied). */
int vps_manager_check_ids(const struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
/* Sends the template's halt signal; the VPS becomes VPS_STOPPING until its init exits. */
int vps_manager_halt(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
/* The signal that halts vi's init (its template's), remembered in vi. */
int vps_manager_halt_signal(struct vps_manager *m, struct vps_inst *vi);
/* 1 when vi's init takes its halt signal now (sandbox/sandbox.h), 0 while it cannot yet (booting:
 * a halt sent now would be lost) or when it is not running. */
int vps_manager_halt_ready(struct vps_manager *m, struct vps_inst *vi);
/* Before a view of many VPSes (a list): whether each running init sleeps in sigtimedwait()
 * for its halt signal, asked of all of them by one detached grandchild within
 * VPS_HALT_SIGWAIT_MS, so that their `booting` costs no process each (after a restart of
 * vpsd, none is known: 1000 forks of vpsd held its loop for seconds). */
void vps_manager_halt_probe(struct vps_inst *const *v, size_t n);
/* For its JSON view: its init is seen not to take its halt signal yet (not when the look was
 * held or slow); once seen taking it, this run is past booting and not asked again. look:
 * false, from its status alone (one that waits in sigtimedwait counts as booting). */
bool vps_inst_booting(struct vps_inst *vi, bool look);
/* core/pause.c: vpsctl pause and unpause. A pause asks the kernel to freeze the VPS's top
 * cgroup (its guest and its exec'd commands) and says so in the run state (st.paused); the
 * freeze itself completes a little later (cgroup/cgroup.h: vps_cgroup_is_frozen tells when).
 * An unpause thaws it. A halt or kill of a paused VPS thaws it first. Refused: a VPS that is not
 * running (EALREADY), stopping (EBUSY), already paused or not paused (EALREADY). */
int vps_manager_pause(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
int vps_manager_unpause(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
/* EBUSY when vi is paused, the message ending "... to WHAT" ("run a command in it"). */
int vps_manager_check_unpaused(const struct vps_inst *vi, const char *what, vps_error *err);
/* At re-adoption: a VPS whose run state says paused is frozen again if its cgroup is not. */
void vps_pause_readopt(struct vps_manager *m, struct vps_inst *vi);
/* Kills every process of the VPS (cgroup.kill). */
int vps_manager_kill(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
/* After the pidfd became readable: collects the exit, removes the cgroup and state.
 * *ret_reboot tells whether it should start again: the guest asked for a reboot (reboot(2)
 * in its pid namespace), or (*ret_oom) an OOM kill took it down under --oompolicy restart. */
int vps_manager_reap(struct vps_manager *m, struct vps_inst *vi, bool *ret_reboot, bool *ret_oom,
                     vps_error *err);
/* Whether the init's exit can be collected now. Its pidfd turns readable when it exits, but
 * while a tracer (strace, gdb) holds the exit its parent cannot collect it yet. */
bool vps_manager_exit_ready(const struct vps_inst *vi);

/* Its status as the API names it: running, paused, stopping, starting, backoff or stopped. */
const char *vps_inst_status_name(const struct vps_inst *vi);
/* Its JSON view (GET /v1/vps/ID). _started: the same for the answer to its start, whose init
 * has only just exec'd: `booting` from its status alone, without the look at its sigtimedwait
 * (a detached grandchild, two forks of vpsd whose cost grows with the VPSes running). */
struct json_t *vps_inst_to_json(const struct vps_manager *m, struct vps_inst *vi);
struct json_t *vps_inst_to_json_started(const struct vps_manager *m, struct vps_inst *vi);
struct json_t *vps_manager_list_json(const struct vps_manager *m, bool up_only);

/* Usage figures of a running VPS, read from its cgroup (cheap: a few small files). */

struct json_t;

/* {"memory": {"current", "peak", "swap_current", "max"}, "events": {"memory_high",
 * "memory_max", "oom", "oom_kill", "pids_max"}, "cpu": {"usage_usec", "user_usec",
 * "system_usec", "nr_throttled", "throttled_usec"}, "processes": N, "pids": {"current"},
 * "io": {"rbytes", "wbytes", "rios", "wios"}}. A figure whose file the host lacks (no
 * controller) is null. */
struct json_t *vps_cgroup_stats(const char *cgroup);

/* The names of the flat usage fields of `list -o` (NULL-terminated). */
extern const char *const vps_stats_fields[];
/* Adds those fields to a VPS object from its cgroup (cgroup NULL: a stopped VPS, all null):
 * memory_current, memory_peak, swap_current, cpu_usec, cpu_throttled, processes, io_rbytes,
 * io_wbytes, oom_kill, memory_max_hits, pids_max_hits. */
void vps_stats_flatten(struct json_t *obj, const char *cgroup);

/* What a vpsd holds on the host besides its state root: its VPS cgroup parent, its bridge
 * and its subnet. Two vpsds sharing one would kill each other's VPSes (a cgroup of the same
 * ID looks stale to the other) or take over each other's traffic, so each live vpsd holds a
 * claim file per resource in VPS_CLAIMS_DIR, locked with a POSIX record lock: the kernel
 * drops it when the vpsd dies (even by SIGKILL), a fork of vpsd does not inherit it (a job or
 * template build that outlives a killed vpsd holds nothing), and it survives the re-exec of
 * an upgrade when the fds stay open across exec. */

#include <stdbool.h>

#define VPS_CLAIMS_DIR VPS_RUN_DIR "/claims"

enum { VPS_CLAIM_CGROUP, VPS_CLAIM_BRIDGE, VPS_CLAIM_SUBNET, VPS_CLAIM_N };

struct vps_claims {
        int fd[VPS_CLAIM_N]; /* -1 when not held */
        char path[VPS_CLAIM_N][160];
};

/* Does a claim of kind on value a conflict with one on b? Cgroup parents: the same path or
 * one inside the other; bridges: the same name; subnets ("10.88.0.0/16"): overlapping. */
bool vps_claim_conflicts(int kind, const char *a, const char *b);

/* Takes the three claims in dir (VPS_CLAIMS_DIR; created root-only) for the vpsd of root, or
 * none: EADDRINUSE naming the holder's PID and root when a live vpsd holds one that conflicts.
 * Claims left by dead vpsds (and this process's own, after a re-exec) are replaced. */
int vps_claims_take(struct vps_claims *c, const char *dir, const char *root, const char *cgroup,
                    const char *bridge, const char *subnet, vps_error *err);
/* Before a re-exec: the claims' fds stay open across exec, and with them the locks. */
void vps_claims_keep_across_exec(struct vps_claims *c);
void vps_claims_release(struct vps_claims *c);
