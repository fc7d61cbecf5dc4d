/* VPS networking: each networked VPS gets a veth pair, its guest end eth0 configured before
 * the init runs, its host end set up by the VPS's netmode's backend (net/backend.h). Bridged
 * (network_bridged.c): a port of vpsd's bridge, outbound NAT and per-VPS anti-spoofing rules
 * through nftables. Routed (network_routed.c): no bridge; each address is routed to the
 * VPS's veth, the host answers ARP/NDP for it on the uplink, and the guest's default routes go
 * through link-local gateways on the host end. A VPS with no address gets loopback only. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "netsetup/netsetup.h"
#include "config/config.h"
#include "vps/error.h"
#include "inst/inst.h"

struct json_t;

/* What the VPS's child configures inside its network namespace. */
struct vps_net_child {
        unsigned int n;
        struct ns_addr addr[16];
        struct ns_addr gateway;  /* IPv4 default route */
        struct ns_addr gateway6; /* IPv6 default route (routed mode) */
        bool routed;             /* gateways are link-local: 169.254.0.1 onlink and fe80::1 */
};

/* Routed mode: the gateway the host end of each VPS's veth answers for. */
#define VPS_ROUTED_GW4 "169.254.0.1"
#define VPS_ROUTED_GW6 "fe80::1"

#define VPS_DEFAULT_BRIDGE "vpsbr0"
/* What a VPS may reach of the host itself besides ICMP and replies (vpsd.conf host_allow). */
#define VPS_DEFAULT_HOST_ALLOW "udp:53,tcp:53"
#define VPS_DEFAULT_SUBNET     "10.88.0.0/16"

int vps_net_configure(struct vps_netconf *n, const char *bridge, const char *subnet,
                      vps_error *err);
/* The default netmode of new VPSes and the uplink of routed mode (NULL or "": found from the
 * default route when needed). */
int vps_net_configure_routed(struct vps_netconf *n, const char *netmode, const char *uplink,
                             vps_error *err);
/* When a VPS's addresses are announced (vpsd.conf announce): "migrated" (NULL or "": the
 * first start or resume after a migration brought it here), "always" (every start and
 * resume, as vzctl did), "never". */
int vps_net_configure_announce(struct vps_netconf *n, const char *when, vps_error *err);
/* The marker a migration's restore leaves in ROOT/vps/ID (vpsd/restore.c): its addresses
 * have moved here, so the next start or resume announces them. */
#define VPS_NET_ANNOUNCE_FILE "announce"
/* Announces a running VPS's addresses where they now live, to the neighbours that cached
 * them elsewhere (netsetup's ns_announce): bridged, on the bridge as from the VPS's MAC (a
 * bridge with a port on a shared segment tells the switch and the other hosts); routed, on
 * the uplink of each family as from the uplink's MAC (the host answers for them there). A
 * VPS without addresses, or routed with no uplink: nothing. */
int vps_net_announce(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
/* The same; a failure appended to warning (size bytes) instead: the VPS runs on, and the
 * neighbours learn the addresses anyway, only later. */
void vps_net_announce_or_warn(struct vps_manager *m, const struct vps_inst *vi, char *warning,
                              size_t size);
/* MTU of the veths (vpsd.conf mtu); 0 or NULL: the MTU of the uplink (see netconf.c). */
int vps_net_configure_mtu(struct vps_netconf *n, const char *mtu, vps_error *err);
/* The ports of the host itself that VPSes may reach, besides ICMP and replies to the host's
 * own connections: "tcp:22,udp:53,tcp:8000-8100", or none (NULL or "": the default, DNS). */
int vps_net_configure_host_allow(struct vps_netconf *n, const char *spec, vps_error *err);
/* Appends to cmd the input filter of table ("ip vpsd_BR", "inet vpsr_BR"): what matches
 * from_vps (an nft match picking the packets that came from a VPS) reaches the host only as
 * ICMP, as replies, or on an allowed port. */
void vps_net_host_input(const struct vps_netconf *n, const char *table, const char *from_vps,
                        char *cmd, size_t size);
/* The MTU a new veth gets: the configured one, else the uplink's (1500 when it has none). */
unsigned int vps_net_mtu(struct vps_netconf *n);
/* Checks a VPS's address list for its netmode: valid; in bridged mode inside the subnet and
 * not the gateway, network or broadcast address; in routed mode a unicast address outside it
 * (IPv4 or IPv6); no duplicates, none used by another VPS than `self`. */
int vps_net_check_ips(const struct vps_manager *m, const struct vps_inst *self,
                      enum vps_netmode mode, char ips[][VPS_IP_MAX], unsigned int n,
                      vps_error *err);
/* Sets the rate limit of a running VPS's veth (0: none). */
int vps_net_set_rate(const struct vps_netconf *n, const struct vps_inst *vi, uint64_t bits_per_sec,
                     vps_error *err);
/* "veth101.0", or "vh" + a hash when the ID is too long for an interface name; on another
 * bridge than the default, "v" + the netconf's tag + the ID + ".0" ("v" TAG "." hash). */
void vps_net_veth_name(const struct vps_netconf *n, const char *id, char ret[IFNAMSIZ]);

/* Start path: host side in two steps, the filter (bridge or routed table on first use, port
 * forwards, the VPS's anti-spoofing chain, keyed by its veth's name) before the VPS's child
 * exists, then the veth while the child builds its root; and the child's side (eth0).
 * libnftables writes a few MiB of memory per batch: with the child alive (its pages shared
 * copy-on-write until it execs) each page written costs vpsd a copy and a TLB shootdown. */
int vps_net_prepare_child(const struct vps_manager *m, const struct vps_inst *vi,
                          struct vps_net_child *ret, vps_error *err);
int vps_net_filter(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
int vps_net_attach(struct vps_manager *m, const struct vps_inst *vi, pid_t pid, vps_error *err);
/* A resume (checkpoint.h): the name the restore gives the host end of the veth it makes
 * (criu's --external veth[eth0]:NAME), an old interface of ours by that name removed; then,
 * once restored, that end adopted as vps_net_attach makes it (rate, bridge or routes; its MTU
 * is criu's: the kernel's default). */
int vps_net_restore_name(struct vps_manager *m, const struct vps_inst *vi, char *ret,
                         vps_error *err);
int vps_net_adopt(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
int vps_net_child_setup(const struct vps_net_child *nc, vps_error *err);
/* Traffic of every networked VPS (or only of one): {"ID": {"rx_bytes", "rx_packets",
 * "tx_bytes", "tx_packets"}}, or NULL when no VPS has been networked by this daemon. */
struct json_t *vps_net_counters(struct vps_manager *m, const struct vps_inst *only);
/* Removes the VPS's filter rules, routes and proxy entries, and its veth. */
void vps_net_detach(struct vps_manager *m, const struct vps_config *cfg);
/* Checks a list of port forwards ("tcp:HOSTPORT:VPSPORT", "udp:..."), canonicalising them:
 * the VPS needs an address, and no other VPS may forward the same host port. */
int vps_net_check_forwards(const struct vps_manager *m, const struct vps_inst *self,
                           const struct vps_config *cfg, char fwd[][24], unsigned int n,
                           vps_error *err);
/* For the forwards of a list (canonical, vps_net_check_forwards) that self does not have yet:
 * refuses a host port a host socket listens on (TCP) or is bound to (UDP), naming its process,
 * and one below 1024 unless force (network_ports.c). */
int vps_net_check_forward_hosts(const struct vps_manager *m, const struct vps_inst *self,
                                char fwd[][24], unsigned int n, bool force, vps_error *err);
/* Replaces the forwards of a running VPS (old list in old, new in vi->cfg). */
int vps_net_update_forwards(struct vps_manager *m, const struct vps_config *old,
                            const struct vps_config *now, vps_error *err);
/* Adds and removes addresses of a running VPS (eth0 and its filter), without a restart.
 * Each step is idempotent. undo: putting a failed change back, the host side is restored
 * even when eth0 cannot be. */
int vps_net_update_live(struct vps_manager *m, const struct vps_inst *vi,
                        char old_ips[][VPS_IP_MAX], unsigned int n_old, bool undo, vps_error *err);

/* The MAC of the VPS's eth0, derived from its ID (locally administered, unicast). */
void vps_net_mac(const char *id, uint8_t mac[6]);
/* After vpsd (re)starts: the shared tables (guard chains, the input filter with this
 * daemon's host_allow) and the chains of the running VPSes written again, so a restart with
 * new settings or an upgraded vpsd applies them to what already runs. One nft batch. */
int vps_net_readopt(struct vps_manager *m, vps_error *err);

/* Cumulative traffic of each VPS (bytes and packets, both ways), for billing: it survives
 * restarts of the VPS and of vpsd, and is zeroed only on request. The live figures are the
 * nftables counters rx_ID and tx_ID, which exist while the VPS's network does; what earlier
 * runs counted is ROOT/vps/ID/traffic.json (0600, written atomically). */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct json_t;
struct vps_manager;
struct vps_inst;

#define VPS_TRAFFIC_FILE "traffic.json"
/* A reader saves what the live counters show at most this often (seconds), so that losing
 * them (a host reboot, a vpsd killed as the VPS stopped) loses at most that much. */
#define VPS_TRAFFIC_SAVE_EVERY 60

enum { VPS_TR_RX_BYTES, VPS_TR_RX_PACKETS, VPS_TR_TX_BYTES, VPS_TR_TX_PACKETS, VPS_TR_COUNT };
extern const char *const vps_traffic_keys[VPS_TR_COUNT]; /* "rx_bytes", ... */

struct vps_traffic {
        uint64_t v[VPS_TR_COUNT];
};

/* What traffic.json holds: base, the totals of counters that are gone; seen, what the live
 * counters showed when last saved (part of the total while they live, added to base when
 * they are gone without being folded); saved, when (unix seconds). */
struct vps_traffic_file {
        struct vps_traffic base, seen;
        int64_t saved;
};

/* Pure parts, for the unit tests. */
int vps_traffic_parse(const char *text, struct vps_traffic_file *ret, vps_error *err);
/* The file's text (caller frees), NULL when out of memory. */
char *vps_traffic_format(const struct vps_traffic_file *f);
/* The total given the file and the live counters (NULL: none exist). A live direction
 * below what was seen is a new counter (the old one went unfolded): base takes what was
 * seen. Returns true when f changed. */
bool vps_traffic_merge(struct vps_traffic_file *f, const struct vps_traffic *live,
                       struct vps_traffic *ret_total);

/* Adds the VPS's live counters to its base and zeroes them (one atomic read-and-reset), or,
 * when there are none, what was last seen of them: before the counters are deleted (a stop,
 * a crash, the last address removed) and before new ones are made (a start). */
int vps_traffic_fold(struct vps_manager *m, const struct vps_config *cfg, vps_error *err);
/* The VPS's total now. live: its counters from vps_net_counters ({"rx_bytes", ...}) or NULL.
 * Saves the live figures when VPS_TRAFFIC_SAVE_EVERY has passed (force: now). */
int vps_traffic_total(struct vps_manager *m, struct vps_inst *vi, struct json_t *live,
                      bool force_save, struct vps_traffic *ret, vps_error *err);
/* Zeroes the VPS's totals and its live counters (vpsctl set --reset-counters). */
int vps_traffic_reset(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
/* What every VPS's live counters show, saved (vpsd's exit: the VPSes run on). */
void vps_traffic_save_all(struct vps_manager *m);
/* Sets rx_bytes, rx_packets, tx_bytes, tx_packets of obj. */
void vps_traffic_to_json(const struct vps_traffic *t, struct json_t *obj);
