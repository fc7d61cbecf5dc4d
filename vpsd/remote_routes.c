/* vpsd: managing who may use the remote API (`vpsctl trust`, `vpsctl token`) and reading
 * its audit log (`vpsctl audit`). Admin routes: the local socket or a trusted certificate. */
#include "remote_routes.h"

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "log.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int vpsd_route_trust_list(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                          unsigned int *status, json_t **ret, vps_error *err)
{
        *ret = json_copy(d->auth.trust);
        return *ret ? 0 : vps_err(err, ENOMEM, "out of memory");
}

int vpsd_route_trust_add(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                         unsigned int *status, json_t **ret, vps_error *err)
{
        const char *pem = json_string_value(json_object_get(body, "certificate"));
        json_t *jn = json_object_get(body, "name");
        if (!pem || (jn && !json_is_string(jn)))
                return vps_err(err, EINVAL, "'certificate' (PEM) must be given, 'name' a string");
        int r = vpsd_trust_add(&d->auth, pem, json_string_value(jn), ret, err);
        if (r < 0)
                return r;
        vpsd_log("remote: certificate %s trusted",
                 json_string_value(json_object_get(*ret, "fingerprint")));
        *status = 201;
        return 0;
}

int vpsd_route_trust_remove(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err)
{
        int r = vpsd_trust_remove(&d->auth, arg, err);
        if (r < 0)
                return r;
        vpsd_log("remote: certificate %s no longer trusted", arg);
        *ret = json_pack("{s:s}", "removed", arg);
        return 0;
}

int vpsd_route_token_list(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                          unsigned int *status, json_t **ret, vps_error *err)
{
        *ret = vpsd_token_list(&d->auth);
        return *ret ? 0 : vps_err(err, ENOMEM, "out of memory");
}

int vpsd_route_token_create(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err)
{
        int r = vpsd_token_create(&d->auth, body, (int64_t)time(NULL), ret, err);
        if (r < 0)
                return r;
        /* Its name alone: the secret is never logged. */
        vpsd_log("remote: token %s created", json_string_value(json_object_get(*ret, "name")));
        *status = 201;
        return 0;
}

int vpsd_route_token_revoke(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                            unsigned int *status, json_t **ret, vps_error *err)
{
        int r = vpsd_token_revoke(&d->auth, arg, err);
        if (r < 0)
                return r;
        vpsd_log("remote: token %s revoked", arg);
        *ret = json_pack("{s:s}", "revoked", arg);
        return 0;
}

int vpsd_route_audit(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                     unsigned int *status, json_t **ret, vps_error *err)
{
        const char *since = vpsd_request_arg(req, "since");
        char *end = NULL;
        long long t = since ? strtoll(since, &end, 10) : 0;
        if (since && (!*since || *end || t < 0))
                return vps_err(err, EINVAL, "since takes seconds since the epoch");
        return vpsd_audit_read(d, (int64_t)t, ret, err);
}
