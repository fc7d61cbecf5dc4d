/* libvpsfleet: the names and the records of the fleet's keys (fleet.h), pure. */
#include "fleet/fleet.h"
#include "json_cleanup.h"
#include "vps/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fleet_name_check(const char *name, vps_error *err)
{
        size_t n = strlen(name);
        if (n == 0 || n > FLEET_NAME_MAX)
                return vps_err(err, EINVAL, "a node name takes 1 to %d characters", FLEET_NAME_MAX);
        if (!isalnum((unsigned char)name[0]))
                return vps_err(err, EINVAL,
                               "node name '%.64s': it must start with a letter or digit", name);
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
                        return vps_err(err, EINVAL,
                                       "node name '%.64s': only letters, digits, '.', '_' and '-'",
                                       name);
        return 0;
}

char *fleet_key(const char *prefix, const char *kind, const char *name, const char *sub)
{
        char *k = NULL;
        int n = sub ? asprintf(&k, "%s%s/%s/%s", prefix, kind, name, sub)
                    : asprintf(&k, "%s%s/%s", prefix, kind, name);
        return n < 0 ? NULL : k;
}

char *fleet_vps_record(const struct fleet_claim *c)
{
        _cleanup_fjson_ json_t *ips = json_array();
        for (size_t i = 0; ips && i < c->n_ips; i++)
                json_array_append_new(ips, json_string(c->ips[i]));
        _cleanup_fjson_ json_t *o = json_pack("{s:s, s:s, s:O?, s:s, s:I}", "node", c->node,
                                              "state", c->state ? c->state : "stopped", "ips", ips,
                                              "nonce", c->nonce ? c->nonce : "", "updated",
                                              (json_int_t)(c->updated ? c->updated : time(NULL)));
        return o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}
