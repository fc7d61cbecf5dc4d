/* vpsd: authorization of a request against the route table's verbs. Host root on the local
 * socket and trusted certificates may do everything; a token only its verbs on its VPSes. */
#include "authz.h"

#include "handlers.h"
#include "migration_events.h"
#include "token_view.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* A PATCH that only sets logins (a password, an ssh key) is the `password` verb; any other
 * setting is the admin's. */
static enum vpsd_verb patch_verb(const char *body, size_t len)
{
        _cleanup_json_ json_t *o = len ? json_loadb(body, len, 0, NULL) : NULL;
        const char *key;
        json_t *v;
        if (!json_is_object(o) || json_object_size(o) == 0)
                return VPSD_VERB_ADMIN;
        json_object_foreach(o, key, v)
        {
                if (strcmp(key, "userpasswd") != 0 && strcmp(key, "ssh_key") != 0)
                        return VPSD_VERB_ADMIN;
        }
        return VPSD_VERB_PASSWORD;
}

/* start, restart (a stopped VPS's is a start) or resume {"force": true} runs a VPS marked
 * migrated (migrate --keep-src's, or a migration's fence: its copy elsewhere may run): the
 * admin's, not a token's verb. */
static bool forced_start(const struct vpsd_route *rt, const char *body, size_t len)
{
        if (strcmp(rt->method, "POST") != 0 || strcmp(rt->what, "vps") != 0 || !rt->action ||
            (strcmp(rt->action, "start") != 0 && strcmp(rt->action, "restart") != 0 &&
             strcmp(rt->action, "resume") != 0) ||
            !len)
                return false;
        _cleanup_json_ json_t *o = json_loadb(body, len, 0, NULL);
        return !json_is_object(o) || json_object_get(o, "force") != NULL;
}

int vpsd_authorize(const struct vpsd_client *c, const char *method, const char *url,
                   const char *body, size_t len, struct vpsd_authz *ret, unsigned int *ret_status,
                   vps_error *err)
{
        char arg[128] = "";
        memset(ret, 0, sizeof(*ret));
        const struct vpsd_route *rt = vpsd_route_find(method, url, arg);
        if (!rt) {
                /* The table answers 404 or 405 and nothing runs. */
                ret->verb = VPSD_VERB_UNDECLARED;
                return 0;
        }
        ret->verb = rt->verb;
        /* An ID too long for one is refused by the route (400): the audit shows none. */
        size_t al = strlen(arg);
        if (!strcmp(rt->what, "vps") && rt->nparts >= 1 && al < sizeof(ret->vps))
                memcpy(ret->vps, arg, al + 1);
        if (!strcmp(rt->method, "PATCH") && !strcmp(rt->what, "vps"))
                ret->verb = patch_verb(body, len);
        if (forced_start(rt, body, len))
                ret->verb = VPSD_VERB_ADMIN;
        ret->list_vps = !strcmp(rt->what, "vps") && rt->nparts == 0 && !strcmp(method, "GET");
        ret->version = !strcmp(rt->what, "version");
        ret->vps_route = !strcmp(rt->what, "vps");
        if (c->kind != VPSD_CLIENT_TOKEN)
                return 0;
        /* Another's VPS is one that does not exist, with the same words (manager.c). */
        if (!strcmp(rt->what, "vps") && rt->nparts >= 1) {
                if (vps_id_check(arg, err) < 0) {
                        *ret_status = 400;
                        return -err->code;
                }
                if (!vpsd_client_sees(c, arg)) {
                        *ret_status = 404;
                        return vps_err(err, ENOENT, "VPS %s does not exist", arg);
                }
        }
        if (ret->verb != VPSD_VERB_ANY && !(c->allow & VPSD_VERB_BIT(ret->verb))) {
                *ret_status = 403;
                return vps_err(err, EACCES, "token %s may not %s %s", c->name, method, url);
        }
        /* A VPS being migrated away: its token changes nothing of it until the move has ended
         * (a start of the stopped source while it is copied would run it twice once the
         * destination's copy starts). */
        if (ret->vps_route && rt->nparts >= 1 && strcmp(rt->method, "GET") != 0 &&
            vpsd_migration_pending(arg)) {
                *ret_status = 409;
                return vps_err(err, EBUSY, "VPS %s is being migrated; try again when it is done",
                               arg);
        }
        return 0;
}

/* An object of a VPS (its "id" and "status"), alone or in an array. */
static void vps_views(json_t *answer)
{
        bool array = json_is_array(answer);
        for (size_t i = 0; i < (array ? json_array_size(answer) : 1); i++) {
                json_t *o = array ? json_array_get(answer, i) : answer;
                if (json_is_string(json_object_get(o, "id")) &&
                    json_is_string(json_object_get(o, "status")))
                        vpsd_token_vps_view(o);
        }
}

/* A VPS's snapshots: where one is mounted is a host directory (the admin's snapshot-mount);
 * a token learns only that it is. */
static void snapshot_views(json_t *answer)
{
        json_t *list = json_object_get(answer, "snapshots"), *s;
        size_t i;
        json_array_foreach(list, i, s)
        {
                if (json_is_string(json_object_get(s, "mounted")))
                        json_object_set_new(s, "mounted", json_true());
        }
}

json_t *vpsd_authz_filter(const struct vpsd_client *c, const struct vpsd_authz *z, json_t *answer)
{
        if (c->kind != VPSD_CLIENT_TOKEN || !answer)
                return answer;
        /* The answer may be shared (a start's view goes to every request waiting on it, a
         * root's among them): a token's is narrowed on its own copy. */
        json_t *copy = json_deep_copy(answer);
        if (copy) {
                json_decref(answer);
                answer = copy;
        }
        if (z->vps_route) {
                vps_views(answer);
                snapshot_views(answer);
        }
        if (z->list_vps && json_is_array(answer)) {
                for (size_t i = json_array_size(answer); i-- > 0;) {
                        const char *id =
                                json_string_value(json_object_get(json_array_get(answer, i), "id"));
                        if (!id || !vpsd_client_sees(c, id))
                                json_array_remove(answer, i);
                }
        }
        /* A token learns the version, not the host's paths and PID. */
        if (z->version && json_is_object(answer)) {
                const char *key;
                json_t *v;
                void *tmp;
                json_object_foreach_safe(answer, tmp, key, v)
                {
                        if (strcmp(key, "version") != 0 && strcmp(key, "api") != 0)
                                json_object_del(answer, key);
                }
        }
        return answer;
}
