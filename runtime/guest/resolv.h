/* The name servers a VPS inherits from the host (--nameserver inherit, the default): the
 * host's /etc/resolv.conf, and when that names a resolver on the host's loopback (the stub
 * of systemd-resolved at 127.0.0.53, a dnsmasq at 127.0.0.1), which a VPS in its own network
 * namespace cannot reach, the servers that stub asks (systemd-resolved's
 * /run/systemd/resolve/resolv.conf). Both paths are vpsd.conf settings. */
#pragma once

#include <stdbool.h>

#include "config/config.h"
#include "vps/error.h"

#define VPS_RESOLV_CONF_DEFAULT     "/etc/resolv.conf"
#define VPS_RESOLV_UPSTREAM_DEFAULT "/run/systemd/resolve/resolv.conf"
#define VPS_RESOLV_MAX_NS           4 /* the slots of vps_config.nameserver */
#define VPS_RESOLV_MAX_ENTRIES      16

/* One resolv.conf as read: its nameserver lines (canonical addresses, in order, without
 * duplicates; those with a %zone are left out) and its last search or domain line. */
struct vps_resolv_file {
        unsigned int n;
        char ns[VPS_RESOLV_MAX_ENTRIES][VPS_IP_MAX];
        char search[256]; /* the valid domains, space separated */
};

/* Parses resolv.conf text (pure: what the unit tests drive). */
void vps_resolv_parse(const char *text, struct vps_resolv_file *ret);

/* True for an address on the host's own loopback (127.0.0.0/8, ::1). */
bool vps_resolv_is_local(const char *addr);

/* The servers and search domains a VPS in mode (bridged VPSes have no IPv6: IPv6 servers
 * are left out for them) inherits from the host: conf's servers, a local one replaced by
 * upstream's (read only then). Fills cfg->nameserver, cfg->n_ns and, when cfg has no search
 * domains of its own, cfg->searchdomain. Returns the number of servers; an unreadable conf
 * is an error (cfg unchanged), an unreadable upstream only leaves its servers out. */
int vps_resolv_inherit(struct vps_config *cfg, const char *conf, const char *upstream,
                       vps_error *err);

/* The config whose files vpsd writes into the guest: cfg itself, or with the host's servers
 * when cfg inherits them. ret_why says (for a warning) why a VPS that inherits got no
 * server, "" when it got some or does not inherit. */
void vps_resolv_effective(const struct vps_config *cfg, const char *conf, const char *upstream,
                          struct vps_config *ret, char *ret_why, size_t why_size);
