/* The types every subsystem of a VPS shares: a VPS (struct vps_inst) and the manager's state
 * (struct vps_manager: the state root, the host's settings, the set of VPSes), with the
 * network's settings it holds (struct vps_netconf). Types alone: what a subsystem does with
 * them is in its own header, the manager's operations are core/core.h's. They sit below the
 * subsystems (sandbox, net, guest, storage, template), so that none of those includes or calls
 * the manager above them (docs/architecture.md, "Layers"). */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vps/backoff.h"
#include "vps/error.h"

#include "cgroup/cgroup.h"
#include "config/config.h"
#include "netsetup/netsetup.h"

/* The network of this vpsd's VPSes (vpsd.conf; net/net.h's vps_net_configure* fill it). */
#define VPS_HOST_ALLOW_MAX 512

struct vps_netconf {
        char bridge[IFNAMSIZ];
        /* 4 hex digits of a hash of the bridge's name in this vpsd's interface names, "" on
         * the default bridge (whose names stay "veth101.0"): see vps_net_veth_name. */
        char tag[5];
        struct ns_addr subnet;  /* network and prefix */
        struct ns_addr gateway; /* the bridge's address: first host of the subnet */
        bool ready;             /* bridge, NAT and filter tables set up */
        enum vps_netmode default_mode;
        char uplink[IFNAMSIZ]; /* routed mode answers ARP/NDP here; "": the default route's */
        bool routed_ready;     /* routed mode's filter table set up */
        bool v6_ready;         /* IPv6 forwarding and proxy NDP on */
        unsigned int mtu;      /* of every veth; 0: the uplink's, found at the first start */
        /* When a start or a resume announces the VPS's addresses (vpsd.conf announce). */
        enum vps_announce {
                VPS_ANNOUNCE_MIGRATED,
                VPS_ANNOUNCE_ALWAYS,
                VPS_ANNOUNCE_NEVER
        } announce;
        /* Ports of the host itself that VPSes may reach (vpsd.conf host_allow), as nft set
         * elements ("53, 8000-8100"); "": none. */
        char host_tcp[VPS_HOST_ALLOW_MAX];
        char host_udp[VPS_HOST_ALLOW_MAX];
};

/* A VPS of the set: its config, and while it runs its run state and the fds of its init. */
enum vps_status { VPS_STOPPED, VPS_RUNNING, VPS_STOPPING };

struct vps_inst {
        struct vps_config cfg;
        struct vps_state st; /* valid while not stopped */
        enum vps_status status;
        int dir_fd;       /* ROOT/vps/ID */
        int pidfd;        /* the init, -1 when stopped */
        int console_fd;   /* pty master, -1 when stopped or after a daemon restart */
        int console_hold; /* a slave of it kept open, so the master never reads EIO */
        bool is_child;    /* started by this vpsd: its exit status can be read */
        bool starting;    /* a start is under way (core.h, vps_manager_start_begin); stopped */
        bool suspended;   /* stopped, with whole CRIU images to resume from (checkpoint.h) */
        int notify_fd;    /* the init's sysinfo listener until vpsd's loop takes it, or -1 */
        int halt_signal;  /* the template's, once known (0: not yet) */
        /* Of init halt_probe_pid: its sigtimedwait for the halt signal seen (lifecycle.c),
         * else asked again from halt_probe_at (CLOCK_MONOTONIC ms), later each time the
         * guest held the read (halt_probe_held_ms). */
        pid_t halt_probe_pid;
        signed char halt_probe; /* 1 seen, 0 not, -1 not known (held) */
        int64_t halt_probe_at, halt_probe_held_ms;
        void *loop_data; /* owned by the event loop */
        /* Restarts the guest asked for (vpsd's back-off): when the next one is due (time(2)),
         * 0 when none is pending. A VPS waiting for it is stopped, shown as "backoff". */
        struct vps_backoff backoff;
        time_t restart_at;
        /* Bumped (vps_inst_touch) when its status, run state, config or the totals of its
         * traffic file change: what caches of its view (vpsd's list) are checked against. */
        uint64_t gen;
        /* The run (init's PID and start time) whose init was seen taking its halt signal:
         * no longer "booting", so a listing reads no /proc file per running VPS. */
        pid_t booted_pid;
        int64_t booted_at;
        /* net/traffic.c's copy of its traffic totals file, freed with the VPS. */
        void *traffic_file;
        /* vpsd's list entry of the stopped VPS, compact [0] and indented [1], valid while
         * view_key (of gen and what it shows) holds; freed with the VPS. */
        char *view_text[2];
        uint64_t view_key;
};

/* The set of VPSes under one state root, with what the host gives them; vpsd owns one and
 * core/core.h operates on it. */
#define VPS_SKIPPED_MAX 8

struct vps_starter;

struct vps_manager {
        char root[400];
        int root_fd, vps_fd, tpl_fd, lock_fd;
        /* VPS_RUN_DIR/state-DEV-INO (of the root): the run state of running VPSes, ID.json.
         * It describes live processes: it must outlive a vpsd crash (an atomic rename does
         * that) and not a reboot, after which none of it is true; on tmpfs its writes cost
         * no disk flush on the start path. */
        int run_fd;
        char run_name[64];
        struct vps_cgroups cg;
        struct vps_netconf net;
        bool enforce_warn; /* run with limits the host cannot enforce, with a warning */
        char warning[512]; /* set by an operation that went ahead with a warning */
        /* Called by a start once the init runs, before its state is saved: vpsd hands the
         * console to its keeper, so no crash can leave a running VPS without one. */
        void (*console_hook)(void *data, const char *id, int master, int hold, int pidfd,
                             int notify);
        void *console_hook_data;
        /* Takes the pidfd of a child of vpsd's that a start leaves (its setup and maker
         * processes, a killed init) to reap it off the loop; NULL: a start waits for them. */
        void (*reap_hook)(int pidfd, void *data);
        void *reap_hook_data;
        /* vpsd --starter (sandbox.h): clones each start's setup process; NULL: vpsd does. */
        const struct vps_starter *starter;
        char lxcfs[256];              /* LXCFS mount for the VPSes' /proc views, "" when off */
        char plans_dir[256];          /* of the plan files, vpsd.conf plans_dir */
        char default_plan[64];        /* of a create without a plan, "" for none */
        struct vps_defaults defaults; /* numproc and ptys of a VPS without its own */
        /* vpsd.conf resolv_conf, resolv_conf_upstream: where the VPSes that inherit the
         * host's name servers take them from (resolv.h); "" for the defaults. */
        char resolv_conf[256], resolv_upstream[256];
        bool quota_ok;       /* the storage root enforces project quotas (disk.c) */
        char quota_fs[16];   /* "xfs", "ext4" when quota_ok */
        char quota_why[400]; /* what to change when not */
        struct vps_inst **v;
        size_t n, cap;
        /* Bumped with any VPS's gen and when a VPS comes or goes: vpsd's loop compares it
         * instead of walking every VPS each round. members_gen: only when one comes or goes
         * (from 1: 0 is never current). */
        uint64_t gen, members_gen;
        /* Bumped by a write of a traffic totals file that names no VPS (a fold, a reset). */
        uint64_t traffic_gen;
        /* VPS directories vps_manager_open could not load (left alone): the first messages. */
        unsigned int n_skipped;
        char skipped[VPS_SKIPPED_MAX][256];
};

/* The one helper here: a VPS's view changed (status, run state, config, traffic totals). */
static inline void vps_inst_touch(struct vps_manager *m, struct vps_inst *vi)
{
        m->gen++;
        if (vi)
                vi->gen++;
}
