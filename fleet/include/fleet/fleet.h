/* libvpsfleet: the fleet's records in etcd, under one prefix (docs/fleet.md):
 *   PREFIX/nodes/NAME        a live node: its capacity (JSON), bound to the node's lease
 *   PREFIX/members/NAME      a node that ever joined (no lease): what `nodes` lists as down
 *   PREFIX/vps/ID            who owns VPS ID: {"node", "state", "ips", "nonce", "updated"}
 *   PREFIX/owners/NAME/ID    the same, keyed by node (a node reads its own alone)
 *   PREFIX/ips/ADDR          who holds an address: {"vps", "node"}
 * IDs and addresses are claimed by one transaction that compares every key absent, so no two
 * nodes ever hold the same one. Blocking calls (etcd.h): vpsd makes them off its loop. */
#pragma once

#include "fleet/etcd.h"

#include <stdint.h>

#define FLEET_PREFIX_DEFAULT "/vps/v1/"
#define FLEET_NAME_MAX       63
#define FLEET_TTL_DEFAULT    15

/* A node's name: 1 to 63 of [A-Za-z0-9._-], starting with a letter or digit. */
int fleet_name_check(const char *name, vps_error *err);

/* PREFIX + kind + "/" + name [+ "/" + sub]; NULL when out of memory. */
char *fleet_key(const char *prefix, const char *kind, const char *name, const char *sub);

/* A VPS's claim: its ID and addresses, for node, in state. nonce makes a retried claim
 * (a transaction whose answer was lost) recognise itself. updated: the record's time (0:
 * now); fixed by whoever must know the record's exact text (fleet_finish compares it). */
struct fleet_claim {
        const char *id, *node, *state, *nonce;
        const char *const *ips;
        size_t n_ips;
        int64_t updated;
};
/* The record of vps/ID for c (a JSON text), NULL when out of memory. */
char *fleet_vps_record(const struct fleet_claim *c);

/* Claims c's ID and addresses in one transaction. Taken: EEXIST ("VPS ID exists on node
 * N") or EADDRINUSE ("address A is held by VPS ID on node N"); without quorum:
 * EHOSTUNREACH "cluster unavailable: ...". */
int fleet_claim(struct etcd *e, const char *prefix, const struct fleet_claim *c, vps_error *err);
/* Turns a claim into the VPS's record (c: its state now) once it is made on c->node, in
 * one transaction that holds only while vps/ID, owners/NODE/ID and each ips/ADDR still hold
 * what the claim wrote (claimed: vps/ID's text as claimed). A claim lost meanwhile (its keys
 * deleted, the ID or an address taken since): ESTALE, or EEXIST when another node owns the
 * ID now, with a message that says so; nothing is written then. */
int fleet_finish(struct etcd *e, const char *prefix, const struct fleet_claim *c,
                 const char *claimed, vps_error *err);
/* Writes vps/ID's record anew for its owner (state, addresses: a claim of those it did not
 * hold, a release of those it no longer has); refused (EEXIST) when another node owns it.
 * Returns 1 when vps/ID had no record (it has now), else 0. */
int fleet_update(struct etcd *e, const char *prefix, const struct fleet_claim *c, vps_error *err);
/* Drops VPS id's records and its addresses' if node owns it (ENOENT when it has none; EEXIST
 * when another node owns vps/ID). With vps/ID gone or another's, node's owner record and
 * the addresses it names that are still node's go alone (what a lost claim leaves). */
int fleet_release(struct etcd *e, const char *prefix, const char *id, const char *node,
                  vps_error *err);
/* Moves VPS id from node from to node to (a migration): vps/ID, owners/FROM/ID ->
 * owners/TO/ID and its addresses' records, in one transaction that holds only while vps/ID
 * is still from's as read (EEXIST: another node owns it; ENOENT: no record; EAGAIN: it
 * changed meanwhile). state: the record's state there ("" or NULL: kept). *ret_rec (may be
 * NULL): the new record's text. */
int fleet_move(struct etcd *e, const char *prefix, const char *id, const char *from, const char *to,
               const char *state, char **ret_rec, vps_error *err);
