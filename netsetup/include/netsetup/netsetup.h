/* netsetup: network configuration over rtnetlink (libmnl) and nftables (libnftables).
 * Library code: returns errors in a vps_error, never prints. */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"
#include "vps/netaddr.h"

/* Brings the loopback interface of the calling process's network namespace up. */
int ns_loopback_up(vps_error *err);

/* Sets flags on a link by index through RTM_NEWLINK, waiting for the kernel's ACK; the
 * kernel's extended-ack text, when there is one, ends up in the message. */
int ns_link_set_flags(unsigned int ifindex, unsigned int flags, unsigned int change,
                      vps_error *err);
int ns_link_set_master(unsigned int ifindex, unsigned int master, vps_error *err);
int ns_link_del(unsigned int ifindex, vps_error *err);
/* Creates a bridge (EEXIST is fine) and brings it up; returns its ifindex. */
int ns_bridge_ensure(const char *name, vps_error *err);
/* Creates a veth pair: `name` here, `peer` moved into the network namespace of peer_pid, with
 * the given MAC address on the peer and the MTU on both ends (0: the kernel's default). */
int ns_veth_create(const char *name, const char *peer, pid_t peer_pid, const uint8_t mac[6],
                   unsigned int mtu, vps_error *err);

int ns_addr_add(unsigned int ifindex, const struct ns_addr *a, vps_error *err);
int ns_addr_del(unsigned int ifindex, const struct ns_addr *a, vps_error *err);
/* Default route of the family of gw through gw on ifindex; onlink when gw is in no subnet of
 * the link. */
int ns_route_default(unsigned int ifindex, const struct ns_addr *gw, bool onlink, vps_error *err);
/* Adds or removes the route of one address (/32 or /128) to ifindex. */
int ns_route_host(bool add, unsigned int ifindex, const struct ns_addr *a, vps_error *err);
/* Adds or removes a proxy neighbour entry: the host answers ARP (IPv4) or neighbour
 * solicitations (IPv6, with proxy_ndp on) for a on link ifindex. */
int ns_neigh_proxy(bool add, unsigned int ifindex, const struct ns_addr *a, vps_error *err);

/* announce.c: an address that moved to this host, announced on link ifindex as at mac
 * (IPv4: a gratuitous ARP request and reply; IPv6: an unsolicited neighbour advertisement,
 * Override set, to all nodes), for each of addrs. Needs CAP_NET_RAW. */
int ns_announce(unsigned int ifindex, const uint8_t mac[6], const struct ns_addr *addrs,
                unsigned int n, vps_error *err);
/* The frame of one announcement of a as at mac into buf (reply: the ARP reply; IPv6 has
 * none): its length, or 0 (no such frame, or size below NS_ANNOUNCE_FRAME_MAX). */
#define NS_ANNOUNCE_FRAME_MAX 86
size_t ns_announce_frame(const struct ns_addr *a, const uint8_t mac[6], bool reply, uint8_t *buf,
                         size_t size);
/* The Ethernet address of a link. */
int ns_link_mac(unsigned int ifindex, uint8_t mac[6], vps_error *err);

/* Creates an ifb device (an existing one is reused) and brings it up; returns its ifindex. */
int ns_ifb_ensure(const char *name, vps_error *err);
/* Limits a link to bits_per_sec both ways (0: removes the limit and the ifb): a token bucket
 * on what it sends, and one on the ifb device ifb_name, where what it receives is redirected. */
int ns_tc_rate(unsigned int ifindex, const char *ifb_name, uint64_t bits_per_sec, vps_error *err);

/* Keeps one low fd for libnftables' netlink socket (it uses select(2)): call once early in
 * a process that may hold more than 1024 fds. */
void ns_nft_reserve_low_fd(void);
/* nftables (libnftables, no nft process): runs a batch of nft commands. */
int ns_nft_run(const char *commands, vps_error *err);
/* In a child of a process that ran batches: drops the context (and netlink socket) it shares
 * with its parent, whose replies it could otherwise read; the next batch opens its own. */
void ns_nft_forget_context(void);
/* Runs newline-separated commands that may each fail (removals of what may be absent): as one
 * batch, or line by line when the batch fails; failures are ignored. */
void ns_nft_run_each(const char *commands);
/* Runs one nft command and returns its JSON output (caller frees). */
int ns_nft_query(const char *command, char **ret_json, vps_error *err);
/* One change to a table without libnftables (nft_batch.c): an element of set (a map's with
 * name, the counter it maps to) added or deleted, or with set NULL the counter object name. */
struct ns_nft_op {
        bool del;
        const char *set;
        const char *name;
        uint8_t key[48];
        size_t key_len;
};
/* Appends a field of width bytes (data: len of them, zero-padded) to op's concatenated key. */
void ns_nft_key_put(struct ns_nft_op *op, const void *data, size_t len, size_t width);
/* Runs ops in table (family NFPROTO_*) as one nfnetlink batch, all or nothing (very long lists
 * in batches of 128), with no cache of the ruleset: its cost does not grow with the ruleset. */
int ns_nft_apply(int family, const char *table, const struct ns_nft_op *ops, size_t n,
                 vps_error *err);
/* The same for ops that may fail (removals of what may be absent): one batch, or one op at a
 * time when the batch fails; failures are ignored. */
void ns_nft_apply_each(int family, const char *table, const struct ns_nft_op *ops, size_t n);
/* The tables of family (NFPROTO_INET...) in the network namespace we are in, over nfnetlink
 * (nft_tables.c): fn gets each one's name. */
typedef void (*ns_table_fn)(const char *name, void *arg);
int ns_nft_tables(int family, ns_table_fn fn, void *arg, vps_error *err);
/* Deletes the table name of family, with all it holds; ENOENT when there is none. */
int ns_nft_table_del(int family, const char *name, vps_error *err);
/* Reads named counter objects of a table over nfnetlink: every counter of it (name NULL), or
 * the one called name. family: NFPROTO_BRIDGE, NFPROTO_INET... fn gets each counter. */
typedef void (*ns_counter_fn)(const char *name, uint64_t bytes, uint64_t packets, void *arg);
int ns_nft_counters(int family, const char *table, const char *name, ns_counter_fn fn, void *arg,
                    vps_error *err);
/* Reads the counter called name and zeroes it at once (fn gets the values before); ENOENT
 * when there is none. */
int ns_nft_counter_reset(int family, const char *table, const char *name, ns_counter_fn fn,
                         void *arg, vps_error *err);
