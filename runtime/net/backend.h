/* The network backends behind network.c: what differs between a bridged VPS (a port of
 * vpsd's bridge, network_bridged.c) and a routed one (its addresses routed to its veth,
 * network_routed.c),
 * and the helpers both share (nft.c, sysctl.c, netconf.c). Private to runtime/net/. */
#pragma once

#include "net/net.h"

#include <stdbool.h>
#include <stddef.h>

struct json_t;

/* A backend's nftables table, "KIND_BRIDGE" ("bridge vpsd_BR", "inet vpsr_BR"): the hook
 * priority of its checks and the sets of (port . address) they look up, by family. */
struct vps_nft_table {
        int family; /* NFPROTO_BRIDGE, NFPROTO_INET */
        const char *kind;
        int priority;
        const char *addrs4, *addrs6; /* NULL: no address of that family may leave a port */
        const char *set;             /* one more set of the backend: "NAME { type ...; }" */
};

/* A VPS's elements in its backend's table (the ops of one ns_nft_apply). */
struct vps_nft_ops {
        int family;
        char table[IFNAMSIZ + 8];
        char tx[VPS_ID_MAX + 4], rx[VPS_ID_MAX + 4];
        struct ns_nft_op op[2 * VPS_MAX_IPS + 8];
        size_t n;
};

struct vps_net_backend {
        /* A port of vpsd's bridge (a veth of our naming without a master is someone else's). */
        bool on_bridge;
        const struct vps_nft_table *nft;
        /* One address of a VPS's list, parsed (text as given, canon canonical): refused with
         * why this mode cannot give it to the VPS. */
        int (*check)(const struct vps_netconf *n, const char *text, const struct ns_addr *a,
                     const char *canon, vps_error *err);
        /* Prefixes of nc's addresses (parsed from the VPS's list) and the gateways of eth0. */
        void (*child)(const struct vps_netconf *n, struct vps_net_child *nc);
        /* Start path, before the VPS's child exists: the shared tables on first use and the
         * VPS's elements in them, keyed by its veth's name. */
        int (*filter)(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
        /* The host end of the new veth (ifindex), in the host's network namespace. */
        int (*attach)(struct vps_manager *m, const struct vps_inst *vi, unsigned int ifindex,
                      vps_error *err);
        /* The host side of a live address change (the list was old_ips, is vi->cfg.ip). */
        int (*update)(struct vps_manager *m, const struct vps_inst *vi, char old_ips[][VPS_IP_MAX],
                      unsigned int n_old, vps_error *err);
        /* Removes what filter and attach made on the host (the veth is network.c's). */
        void (*detach)(struct vps_manager *m, const struct vps_config *cfg);
        /* The shared tables, once per daemon (nft text extra, if any, in the same batch). */
        int (*prepare)(struct vps_manager *m, const char *extra, vps_error *err);
        /* The VPS's elements in the table (del: their removal), into a fresh o. */
        void (*ops)(const struct vps_manager *m, const struct vps_config *c, bool del,
                    struct vps_nft_ops *o);
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
/* The skeleton of a backend's table that every VPS shares, made once per daemon: the set
 * vports of the VPSes' ports, whose packets the chain check (the backend's rules, keyed by
 * port name through its sets) sees at the table's priority, and the maps tx and rx from a
 * port's name to its VPS's counters. objects: what is created where absent (left as it is
 * where present, elements included), with the address sets and the backend's own; rules: the base
 * chains' rules, replaced, and check emptied for the backend's rules that follow. table: the name
 * of the table (ret_name, "KIND_BRIDGE"). */
void vps_nft_table_name(const struct vps_nft_table *t, const char *bridge, char ret[IFNAMSIZ + 16]);
void vps_nft_objects(const struct vps_nft_table *t, const char *bridge, char *cmd, size_t size);
void vps_nft_rules(char *cmd, size_t size, const char *table);
/* Runs vps_nft_objects alone (after a restart of vpsd: so that the running VPSes' elements can
 * go in before the rules use them). */
int vps_nft_run_objects(const struct vps_nft_table *t, const char *bridge, vps_error *err);
/* What a vpsd before the skeleton made, removed: the map ports (id NULL), the chain vps_ID. */
void vps_nft_legacy(char *cmd, size_t size, const char *table, const char *id);

/* One more op in o (NULL when full), keyed by veth's name when veth is given. */
struct ns_nft_op *vps_nft_op(struct vps_nft_ops *o, bool del, const char *set, const char *name,
                             const char *veth);
/* The VPS's port: its counters tx_ID, rx_ID, their map elements and its vports element. */
void vps_nft_port_ops(struct vps_nft_ops *o, bool del, const char *id, const char *veth);
/* o emptied for table t of bridge. */
void vps_nft_ops_init(struct vps_nft_ops *o, const struct vps_nft_table *t, const char *bridge);
/* The elements veth . address of t's address sets, for each of ips. */
void vps_nft_addr_ops(struct vps_nft_ops *o, const struct vps_nft_table *t, bool del,
                      const char *veth, const char (*ips)[VPS_IP_MAX], unsigned int n);
/* A live address change: old_ips' elements out, ips' in: one batch, or op by op when one of
 * the old is absent. */
int vps_nft_update_addrs(const struct vps_nft_table *t, const char *bridge, const char *veth,
                         const char (*old_ips)[VPS_IP_MAX], unsigned int n_old,
                         const char (*ips)[VPS_IP_MAX], unsigned int n, vps_error *err);

/* The named rx_ID/tx_ID counters of one table of family (NFPROTO_*), merged into res as
 * {"ID": {"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"}}: one netlink dump for all
 * VPSes, or two gets when id is given. */
void vps_nft_merge_counters(int family, const char *table, const char *id, struct json_t *res);

/* sysctl.c: a /proc/sys (or /sys) file written or read whole. */
int vps_sysctl_write(const char *path, const char *value, vps_error *err);
int vps_sysctl_read(const char *path, char *buf, size_t size);
