/* migration_events.c: a migration's phases as "migration" events ({vps, phase: started, done
 * or failed, to (on the source) or from (on the destination)}). vpsctl drives a migration with
 * ordinary requests and says which of them belong to one (the backup stream's migrate_to, the
 * restore's migrate_from, the source's last DELETE ?migrated_to= or PATCH migrated_to); each
 * keeps the verb it needs, and the event is information alone, seen as the VPS's others are. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>

struct vpsd;

/* A peer's name (a host, [user@]host[:port], a node): 1 to 63 of A-Z a-z 0-9 . _ @ : [ ] -. */
#define VPSD_MIGRATION_PEER_MAX 63

/* Checks a request's peer name v (NULL: none, 0); -EINVAL with a message naming key. */
int vpsd_migration_peer_check(const char *key, const char *v, vps_error *err);
/* The VPS id's migration begins here: out (the source; peer the destination) or in. */
void vpsd_migration_begin(struct vpsd *d, const char *id, bool out, const char *peer);
/* It ends: done (err NULL) or failed (err's message its "error"). peer NULL: only when a
 * migration of id in that direction began here (its peer then); else always, with peer. */
void vpsd_migration_end(struct vpsd *d, const char *id, bool out, const char *peer,
                        const vps_error *err);
/* Whether the VPS id is being migrated away from here. */
bool vpsd_migration_pending(const char *id);
