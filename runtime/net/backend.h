/* The network backends behind network.c: what differs between a bridged VPS (a port of
 * vpsd's bridge, network_bridged.c) and a routed one (its addresses routed to its veth,
 * network_routed.c),
 * and the helpers both share (nft.c, sysctl.c, netconf.c). Private to runtime/net/. */
#pragma once

#include "net/net.h"

#include <stdbool.h>
#include <stddef.h>

struct json_t;

struct vps_net_backend {
        /* A port of vpsd's bridge (a veth of our naming without a master is someone else's). */
        bool on_bridge;
        /* One address of a VPS's list, parsed (text as given, canon canonical): refused with
         * why this mode cannot give it to the VPS. */
        int (*check)(const struct vps_netconf *n, const char *text, const struct ns_addr *a,
                     const char *canon, vps_error *err);
        /* Prefixes of nc's addresses (parsed from the VPS's list) and the gateways of eth0. */
        void (*child)(const struct vps_netconf *n, struct vps_net_child *nc);
        /* Start path, before the VPS's child exists: the shared tables on first use and the
         * VPS's own filter chain, keyed by its veth's name. */
        int (*filter)(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
        /* The host end of the new veth (ifindex), in the host's network namespace. */
        int (*attach)(struct vps_manager *m, const struct vps_inst *vi, unsigned int ifindex,
                      vps_error *err);
        /* The host side of a live address change (the list was old_ips, is vi->cfg.ip). */
        int (*update)(struct vps_manager *m, const struct vps_inst *vi, char old_ips[][VPS_IP_MAX],
                      unsigned int n_old, vps_error *err);
        /* Removes what filter and attach made on the host (the veth is network.c's). */
        void (*detach)(struct vps_manager *m, const struct vps_config *cfg);
        /* After a restart of vpsd: the shared tables, and the VPS's chain as nft text. */
        int (*prepare)(struct vps_manager *m, vps_error *err);
        void (*filter_text)(const struct vps_manager *m, const struct vps_config *c, char *cmd,
                            size_t size);
        /* Whether this daemon made the shared tables; the rx_/tx_ counters of all (id NULL)
         * or one VPS merged into res (see vps_net_counters). */
        bool (*ready)(const struct vps_netconf *n);
        void (*counters)(const struct vps_manager *m, const char *id, struct json_t *res);
};

extern const struct vps_net_backend vps_net_bridged, vps_net_routed;
/* backends.c: all of them, and the one of a netmode. */
#define VPS_NET_N_BACKENDS 2
extern const struct vps_net_backend *const vps_net_backends[VPS_NET_N_BACKENDS];
const struct vps_net_backend *vps_net_backend_of(enum vps_netmode mode);

/* eth0.c: from a helper in the VPS's network namespace (vps_ns_run), eth0 set up from nothing
 * (fresh: a veth just made) or brought from the addresses of before to those of now. */
int vps_net_eth0_update(const struct vps_inst *vi, const struct vps_net_child *now,
                        const struct vps_net_child *before, bool fresh, vps_error *err);

/* netconf.c: the names of a VPS's host interfaces (ifb: the one of --rate). */
void vps_net_link_name(const struct vps_netconf *n, const char *id, bool ifb, char ret[IFNAMSIZ]);
/* The uplink of a family: vpsd.conf's, else the interface of the default route; 0: none. */
unsigned int vps_net_uplink(const struct vps_netconf *n, int family);

/* forwards.c: "add"/"delete" the port forward elements of cfg (bridged mode) into cmd. */
void vps_net_forward_elements(const struct vps_manager *m, const struct vps_config *cfg,
                              const char *verb, char *cmd, size_t size);

/* nft.c: nft batches as text. Each appends to cmd (NUL-terminated), silently truncated at size,
 * which the callers size for the longest batch. */
void vps_nft_addf(char *cmd, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The per-port dispatch of table ("bridge vpsd_BR", "inet vpsr_BR") at a hook priority: the map
 * ports from a port's name to its VPS's chain (prerouting), and the map rx from a port's name
 * to its VPS's rx counter (postrouting). */
void vps_nft_port_maps(char *cmd, size_t size, const char *table, int priority);
/* The VPS's chain vps_ID, created or emptied; its rules follow. */
void vps_nft_vps_chain(char *cmd, size_t size, const char *table, const char *id);
/* Closes the VPS's chain: what passed its checks counts as its tx; its port into the maps
 * (rx counted on the way out to the port, in postrouting). */
void vps_nft_vps_port(char *cmd, size_t size, const char *table, const char *id, const char *veth);
/* The delete batch of everything vps_nft_vps_* made (for ns_nft_run_each: some may be absent). */
void vps_nft_vps_delete(char *cmd, size_t size, const char *table, const char *id,
                        const char *veth);
/* The named rx_ID/tx_ID counters of one table of family (NFPROTO_*), merged into res as
 * {"ID": {"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"}}: one netlink dump for all
 * VPSes, or two gets when id is given. */
void vps_nft_merge_counters(int family, const char *table, const char *id, struct json_t *res);

/* sysctl.c: a /proc/sys (or /sys) file written or read whole. */
int vps_sysctl_write(const char *path, const char *value, vps_error *err);
int vps_sysctl_read(const char *path, char *buf, size_t size);
