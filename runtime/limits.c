/* libvps: VPS resource limits: parsing (vzctl's names and units), config JSON, and the cgroup
 * v2 files that enforce them (disk limits are enforced by disk.c through quotas). */
#include "vps/cleanup.h"
#include "vps/limits.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct vps_limit_info vps_limit_info[VPS_LIM_COUNT] = {
        [VPS_LIM_RAM] = {"ram", "memory", true, false, 4 * 1024 * 1024, UINT64_MAX - 1},
        [VPS_LIM_SWAP] = {"swap", "memory", true, false, 0, UINT64_MAX - 1},
        [VPS_LIM_CPUS] = {"cpus", "cpu", false, false, 1, 4096},
        [VPS_LIM_CPULIMIT] = {"cpulimit", "cpu", false, false, 1, 409600},
        [VPS_LIM_CPUUNITS] = {"cpuunits", "cpu", false, false, 1, 10000},
        [VPS_LIM_NUMPROC] = {"numproc", "pids", false, false, 1, 4194304},
        /* Quotas count in KiB: sizes up to 2^63 bytes keep clear of every overflow. */
        [VPS_LIM_DISKSPACE] = {"diskspace", NULL, true, true, 1024 * 1024, 1ULL << 63},
        [VPS_LIM_DISKINODES] = {"diskinodes", NULL, false, true, 100, UINT32_MAX},
};

#define CPU_PERIOD 100000ULL

void vps_limits_init(struct vps_limits *l)
{
        for (int i = 0; i < VPS_LIM_COUNT; i++)
                l->v[i] = l->soft[i] = VPS_LIMIT_NONE;
}

bool vps_limits_have_disk(const struct vps_limits *l)
{
        for (int k = 0; k < VPS_LIM_COUNT; k++)
                if (vps_limit_info[k].pair &&
                    (l->v[k] != VPS_LIMIT_NONE || l->soft[k] != VPS_LIMIT_NONE))
                        return true;
        return false;
}

int vps_limit_parse(enum vps_limit_kind k, const char *text, uint64_t *ret, vps_error *err)
{
        const struct vps_limit_info *in = &vps_limit_info[k];
        if (text && strcasecmp(text, "unlimited") == 0) {
                *ret = VPS_LIMIT_NONE;
                return 0;
        }
        uint64_t v = 0;
        if (in->size) {
                if (vps_size_parse(text, &v, err) < 0)
                        return vps_err_wrap(err, "--%s", in->name);
        } else {
                char *end = NULL;
                errno = 0;
                unsigned long long n =
                        text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
                if (!end || *end || errno)
                        return vps_err(err, EINVAL, "--%s: invalid number '%.40s'", in->name,
                                       text ? text : "");
                v = n;
        }
        if (v < in->min || v > in->max)
                return vps_err(err, ERANGE, "--%s: %.40s is out of range", in->name, text);
        *ret = v;
        return 0;
}

int vps_limit_parse_pair(enum vps_limit_kind k, const char *text, uint64_t *soft, uint64_t *hard,
                         vps_error *err)
{
        const char *colon = text ? strchr(text, ':') : NULL;
        if (!colon) {
                int r = vps_limit_parse(k, text, hard, err);
                if (r == 0)
                        *soft = *hard;
                return r;
        }
        char first[64];
        if ((size_t)(colon - text) >= sizeof(first))
                return vps_err(err, EINVAL, "--%s: invalid value '%.40s'", vps_limit_info[k].name,
                               text);
        memcpy(first, text, (size_t)(colon - text));
        first[colon - text] = '\0';
        uint64_t s, h;
        int r = vps_limit_parse(k, first, &s, err);
        if (r == 0)
                r = vps_limit_parse(k, colon + 1, &h, err);
        if (r < 0)
                return r;
        if (s != VPS_LIMIT_NONE && (h == VPS_LIMIT_NONE || s > h))
                return vps_err(err, EINVAL, "--%s: the soft limit %s is above the hard limit %s",
                               vps_limit_info[k].name, first, colon + 1);
        *soft = s;
        *hard = h;
        return 0;
}

/* A pair as JSON: {"soft": N, "hard": N} (numbers or strings) into "SOFT:HARD". */
static const char *pair_text(json_t *val, char *buf, size_t size)
{
        json_t *s = json_object_get(val, "soft"), *h = json_object_get(val, "hard");
        char part[2][32];
        json_t *v[2] = {s, h};
        for (int i = 0; i < 2; i++) {
                if (!v[i] || json_is_null(v[i]))
                        (void)snprintf(part[i], sizeof(part[i]), "unlimited");
                else if (json_is_integer(v[i]) && json_integer_value(v[i]) >= 0)
                        (void)snprintf(part[i], sizeof(part[i]), "%lld",
                                       (long long)json_integer_value(v[i]));
                else if (json_is_string(v[i]) && strlen(json_string_value(v[i])) < 32)
                        (void)snprintf(part[i], sizeof(part[i]), "%s", json_string_value(v[i]));
                else
                        return NULL;
        }
        (void)snprintf(buf, size, "%s:%s", part[0], part[1]);
        return buf;
}

int vps_limits_update(struct vps_limits *l, json_t *obj, vps_error *err)
{
        struct vps_limits n = *l;
        const char *key;
        json_t *val;
        json_object_foreach(obj, key, val)
        {
                int k = 0;
                while (k < VPS_LIM_COUNT && strcmp(vps_limit_info[k].name, key) != 0)
                        k++;
                if (k == VPS_LIM_COUNT)
                        return vps_err(err, EINVAL, "unknown limit '%s'", key);
                char buf[80];
                const char *text = json_string_value(val);
                if (vps_limit_info[k].pair && json_is_object(val)) {
                        text = pair_text(val, buf, sizeof(buf));
                } else if (json_is_integer(val) && json_integer_value(val) >= 0) {
                        (void)snprintf(buf, sizeof(buf), "%lld",
                                       (long long)json_integer_value(val));
                        text = buf;
                } else if (json_is_null(val)) {
                        text = "unlimited";
                }
                if (!text)
                        return vps_err(err, EINVAL, "limit '%s' must be a string or a number", key);
                int r = vps_limit_info[k].pair
                                ? vps_limit_parse_pair(k, text, &n.soft[k], &n.v[k], err)
                                : vps_limit_parse(k, text, &n.v[k], err);
                if (r < 0)
                        return r;
        }
        *l = n;
        return 0;
}

static json_t *number_or_null(uint64_t v)
{
        return v == VPS_LIMIT_NONE ? json_null() : json_integer((json_int_t)v);
}

json_t *vps_limits_to_json(const struct vps_limits *l)
{
        json_t *o = json_object();
        for (int k = 0; o && k < VPS_LIM_COUNT; k++) {
                json_t *v = number_or_null(l->v[k]);
                if (vps_limit_info[k].pair &&
                    (l->v[k] != VPS_LIMIT_NONE || l->soft[k] != VPS_LIMIT_NONE))
                        v = json_pack("{s:o, s:o}", "soft", number_or_null(l->soft[k]), "hard", v);
                json_object_set_new(o, vps_limit_info[k].name, v);
        }
        return o;
}

static int number_from_json(json_t *v, const char *name, uint64_t *ret, vps_error *err)
{
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return vps_err(err, EBADMSG, "limit '%s' must be a number", name);
        *ret = (uint64_t)json_integer_value(v);
        return 0;
}

int vps_limits_from_json(struct vps_limits *l, json_t *obj, vps_error *err)
{
        vps_limits_init(l);
        if (!obj)
                return 0;
        if (!json_is_object(obj))
                return vps_err(err, EBADMSG, "field 'limits' must be an object");
        for (int k = 0; k < VPS_LIM_COUNT; k++) {
                const char *name = vps_limit_info[k].name;
                json_t *v = json_object_get(obj, name);
                int r = 0;
                if (vps_limit_info[k].pair && json_is_object(v)) {
                        if ((r = number_from_json(json_object_get(v, "soft"), name, &l->soft[k],
                                                  err)) == 0)
                                r = number_from_json(json_object_get(v, "hard"), name, &l->v[k],
                                                     err);
                } else if (vps_limit_info[k].pair && v && !json_is_null(v)) {
                        r = vps_err(err, EBADMSG, "limit '%s' must be {\"soft\", \"hard\"}", name);
                } else {
                        r = number_from_json(v, name, &l->v[k], err);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static void put(const char *file[8], char value[8][32], const char *ctl[8], int *n, const char *f,
                const char *c, uint64_t v)
{
        file[*n] = f;
        ctl[*n] = c;
        if (v == VPS_LIMIT_NONE)
                (void)snprintf(value[*n], 32, "max");
        else
                (void)snprintf(value[*n], 32, "%llu", (unsigned long long)v);
        (*n)++;
}

/* A file is written when the new or the old limits set it: removing a limit writes "max". */
static bool touched(const struct vps_limits *l, const struct vps_limits *old, int k)
{
        return l->v[k] != VPS_LIMIT_NONE || (old && old->v[k] != VPS_LIMIT_NONE);
}

int vps_limits_files(const struct vps_limits *l, const struct vps_limits *old, unsigned int ncpu,
                     const char *file[8], char value[8][32], const char *ctl[8])
{
        int n = 0;
        const uint64_t *v = l->v;
        if (touched(l, old, VPS_LIM_RAM) || touched(l, old, VPS_LIM_SWAP)) {
                put(file, value, ctl, &n, "memory.max", "memory", v[VPS_LIM_RAM]);
                put(file, value, ctl, &n, "memory.swap.max", "memory", v[VPS_LIM_SWAP]);
        }
        if (touched(l, old, VPS_LIM_NUMPROC))
                put(file, value, ctl, &n, "pids.max", "pids", v[VPS_LIM_NUMPROC]);
        if (touched(l, old, VPS_LIM_CPUUNITS))
                put(file, value, ctl, &n, "cpu.weight", "cpu",
                    v[VPS_LIM_CPUUNITS] == VPS_LIMIT_NONE ? 100 : v[VPS_LIM_CPUUNITS]);
        /* --cpus N is N whole CPUs; --cpulimit P is P percent of one CPU (vzctl): the lower
         * of the two wins. */
        uint64_t quota = VPS_LIMIT_NONE;
        if (v[VPS_LIM_CPUS] != VPS_LIMIT_NONE && v[VPS_LIM_CPUS] < ncpu)
                quota = v[VPS_LIM_CPUS] * CPU_PERIOD;
        if (v[VPS_LIM_CPULIMIT] != VPS_LIMIT_NONE && v[VPS_LIM_CPULIMIT] * CPU_PERIOD / 100 < quota)
                quota = v[VPS_LIM_CPULIMIT] * CPU_PERIOD / 100;
        if (touched(l, old, VPS_LIM_CPUS) || touched(l, old, VPS_LIM_CPULIMIT)) {
                file[n] = "cpu.max";
                ctl[n] = "cpu";
                if (quota == VPS_LIMIT_NONE)
                        (void)snprintf(value[n], 32, "max %llu", CPU_PERIOD);
                else
                        (void)snprintf(value[n], 32, "%llu %llu", (unsigned long long)quota,
                                       CPU_PERIOD);
                n++;
        }
        return n;
}
