/* vpsd: the "migration" events. The migrations begun here and not yet ended are kept (one
 * per VPS and direction, so their number is bounded by the VPSes'), so that their end names
 * the peer and a start of the source (vpsctl's roll-back, or its guard's) says "failed". */
#include "migration_events.h"

#include "events.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending {
        char id[VPS_ID_MAX + 1];
        char peer[VPSD_MIGRATION_PEER_MAX + 1];
        bool out;
        struct pending *next;
};

static struct pending *pendings;

int vpsd_migration_peer_check(const char *key, const char *v, vps_error *err)
{
        if (!v)
                return 0;
        size_t n = strlen(v);
        if (n == 0 || n > VPSD_MIGRATION_PEER_MAX ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@:[]-") != n)
                return vps_err(
                        err, EINVAL,
                        "'%s' must be a host or node name (1 to %d of A-Z a-z 0-9 . _ @ : [ ] -)",
                        key, VPSD_MIGRATION_PEER_MAX);
        return 0;
}

static struct pending **find(const char *id, bool out)
{
        struct pending **p = &pendings;
        while (*p && (strcmp((*p)->id, id) != 0 || (*p)->out != out))
                p = &(*p)->next;
        return p;
}

static void emit(struct vpsd *d, const char *id, bool out, const char *peer, const char *phase,
                 const vps_error *err)
{
        json_t *extra = json_pack("{s:s, s:s}", "phase", phase, out ? "to" : "from", peer);
        if (extra && err)
                json_object_set_new(extra, "error", json_string(err->msg));
        vpsd_emit(d, "migration", id, extra);
}

void vpsd_migration_begin(struct vpsd *d, const char *id, bool out, const char *peer)
{
        struct pending **p = find(id, out);
        if (!*p) {
                *p = calloc(1, sizeof(**p));
                if (*p) {
                        (void)snprintf((*p)->id, sizeof((*p)->id), "%s", id);
                        (*p)->out = out;
                }
        }
        if (*p)
                (void)snprintf((*p)->peer, sizeof((*p)->peer), "%s", peer);
        emit(d, id, out, peer, "started", NULL);
}

void vpsd_migration_end(struct vpsd *d, const char *id, bool out, const char *peer,
                        const vps_error *err)
{
        struct pending **p = find(id, out), *e = *p;
        char known[VPSD_MIGRATION_PEER_MAX + 1] = "";
        if (e) {
                (void)snprintf(known, sizeof(known), "%s", e->peer);
                *p = e->next;
                free(e);
        }
        if (!peer && !known[0])
                return;
        emit(d, id, out, peer ? peer : known, err ? "failed" : "done", err);
}

bool vpsd_migration_pending(const char *id)
{
        return *find(id, true) != NULL;
}
