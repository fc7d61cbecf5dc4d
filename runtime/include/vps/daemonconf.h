/* vpsd.conf: vpsd's settings file (/etc/vps/vpsd.conf), "key = value" lines. The command
 * line and the environment override it; it overrides the built-in defaults. */
#pragma once

#include <stdbool.h>

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
        char host_allow[512];    /* host_allow = tcp:22,udp:53|none, host ports VPSes reach */
};

/* Empty strings and enforce_warn = -1: nothing set. */
void vps_daemon_conf_init(struct vps_daemon_conf *c);
/* Parses text (the file's contents); name is used in messages ("FILE:LINE: ..."). Blank lines
 * and lines starting with # are skipped; an unknown key or a bad value is an error. */
int vps_daemon_conf_parse(struct vps_daemon_conf *c, const char *name, const char *text,
                          vps_error *err);
/* Reads and parses path; a missing file is no error unless must_exist. */
int vps_daemon_conf_load(struct vps_daemon_conf *c, const char *path, bool must_exist,
                         vps_error *err);
