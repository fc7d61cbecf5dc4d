/* vpsd.conf: vpsd's settings file (/etc/vps/vpsd.conf), "key = value" lines. The command
 * line and the environment override it; it overrides the built-in defaults. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vps/error.h"

#define VPS_DEFAULT_CONF "/etc/vps/vpsd.conf"

struct vps_daemon_conf {
        char root[400];          /* root = DIR */
        char socket[108];        /* socket = PATH */
        char cgroup_parent[256]; /* cgroup_parent = PATH */
        char bridge[16];         /* bridge = NAME */
        char subnet[64];         /* subnet = CIDR */
        int enforce_warn;        /* enforce_limits = strict|warn; -1 when not set */
        char debian_mirror[256]; /* debian_mirror = URL, for template builds */
        char netmode[16];        /* netmode = bridged|routed, of new VPSes */
        char uplink[16];         /* uplink = IFNAME, where routed mode answers ARP/NDP */
        char mtu[8];             /* mtu = N, of every VPS veth (default: the uplink's) */
        char lxcfs[256];         /* lxcfs = DIR|off, LXCFS mount (default /var/lib/lxcfs) */
        /* guest_timeout = S: how long a change that enters a running guest may take (its
         * files, its hostname, its eth0); 0: not set (VPS_GUEST_TIMEOUT_DEFAULT) */
        unsigned int guest_timeout;
        /* cgroup_max_depth, cgroup_max_descendants = N|max: bounds of each guest's cgroup tree
         * (-1: max; -2: not set, the defaults of cgroup.h) */
        long long cg_max_depth, cg_max_descendants;
        /* The numbers below are 0 when not set (vpsd then uses its defaults). */
        /* restart_burst = N, restart_interval = S, restart_delay_max = S: restarts a guest
         * asks for beyond N within S seconds wait, 1 s doubling up to restart_delay_max. */
        unsigned int restart_burst, restart_interval, restart_delay_max;
        /* log_burst = N, log_interval = S: a log message repeated more than N times in S
         * seconds is counted, not written; log_max_size = SIZE, log_keep = N: ROOT/vpsd.log
         * moves to vpsd.log.1 (and on up to .N) when it reaches SIZE. */
        unsigned int log_burst, log_interval, log_keep;
        uint64_t log_max_size;
        unsigned int devpts_max; /* devpts_max = N, ptys per VPS; 0 when not set */
        char host_allow[512];    /* host_allow = tcp:22,udp:53|none, host ports VPSes reach */
        char plans_dir[256];     /* plans_dir = DIR, of the plan files (default /etc/vps/plans) */
        char default_plan[64];   /* default_plan = NAME|none, of a create without --plan */
        /* default_numproc = N|unlimited: pids.max of a VPS without --numproc; -1 when not set,
         * 0 for unlimited */
        long long default_numproc;
        /* resolv_conf = PATH, resolv_conf_upstream = PATH: where VPSes that inherit the
         * host's name servers take them from (resolv.h); "" for the defaults */
        char resolv_conf[256], resolv_upstream[256];
};

#define VPS_DEFAULT_NUMPROC 4096u

#define VPS_DEFAULT_DEVPTS_MAX 1024u
#define VPS_DEVPTS_MAX_LIMIT   1048576u

/* Every key vpsd.conf takes (vpsd --help lists them); NULL ends it. */
extern const char *const vps_daemon_conf_keys[];

/* Empty strings and enforce_warn = -1: nothing set. */
void vps_daemon_conf_init(struct vps_daemon_conf *c);
/* Parses text (the file's contents); name is used in messages ("FILE:LINE: ..."). Blank lines
 * and lines starting with # are skipped; an unknown key or a bad value is an error. */
int vps_daemon_conf_parse(struct vps_daemon_conf *c, const char *name, const char *text,
                          vps_error *err);
/* Reads and parses path; a missing file is no error unless must_exist. */
int vps_daemon_conf_load(struct vps_daemon_conf *c, const char *path, bool must_exist,
                         vps_error *err);
