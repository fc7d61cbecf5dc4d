/* libvps: VPS resource limits: parsing (vzctl's names and units), config JSON, and the cgroup
 * v2 files that enforce them (disk limits are enforced by disk.c through quotas). */
#include "vps/cleanup.h"
#include "config/config.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const oom_words[] = {"process", "restart", NULL};

/* vpsctl's create and set take each as --NAME METAVAR; their --help shows the help. */
const struct vps_limit_info vps_limit_info[VPS_LIM_COUNT] = {
        [VPS_LIM_RAM] = {"ram", "memory", true, false, 4 * 1024 * 1024, UINT64_MAX - 1,
                         .metavar = "SIZE",
                         .help = "memory limit (memory.max), K/M/G/T suffixes or unlimited"},
        [VPS_LIM_SWAP] = {"swap", "memory", true, false, 0, UINT64_MAX - 1, .metavar = "SIZE",
                          .help = "swap limit (memory.swap.max)"},
        [VPS_LIM_CPUS] = {"cpus", "cpu", false, false, 1, 409600, .scale = 100, .metavar = "N",
                          .help = "at most N CPUs (cpu.max; 0.5 is half a CPU)"},
        [VPS_LIM_CPULIMIT] = {"cpulimit", "cpu", false, false, 1, 409600, .metavar = "PCT",
                              .help = "at most PCT percent of one CPU (cpu.max; 200 = two CPUs)"},
        [VPS_LIM_CPUUNITS] = {"cpuunits", "cpu", false, false, 1, 10000, .metavar = "N",
                              .help = "CPU weight from 1 to 10000 (cpu.weight, default 100)"},
        [VPS_LIM_NUMPROC] = {"numproc", "pids", false, false, 1, 4194304, .metavar = "N",
                             .help = "at most N processes and threads (pids.max)"},
        /* Quotas count in KiB: sizes up to 2^63 bytes keep clear of every overflow. */
        [VPS_LIM_DISKSPACE] = {"diskspace", NULL, true, true, 1024 * 1024, 1ULL << 63,
                               .metavar = "SIZE[:HARD]",
                               .help = "disk space of the VPS's own files, soft SIZE and hard HARD "
                                       "(default SIZE); a project quota on the storage root, shown "
                                       "by df inside"},
        [VPS_LIM_DISKINODES] = {"diskinodes", NULL, false, true, 100, UINT32_MAX,
                                .metavar = "N[:HARD]",
                                .help = "files and directories the VPS may own, soft N and hard "
                                        "HARD"},
        [VPS_LIM_CPUMASK] = {"cpumask", "cpuset", false, false, 1, 1, .cpulist = true,
                             .metavar = "LIST", .help = "only these CPUs, as 0-3,6 (cpuset.cpus)"},
        [VPS_LIM_IOLIMIT] = {"iolimit", "io", true, false, 64 * 1024, UINT64_MAX - 1,
                             .metavar = "SIZE",
                             .help = "disk bytes per second, each of read and write (io.max on "
                                     "the disk holding the VPS storage), K/M/G suffixes"},
        [VPS_LIM_IOPSLIMIT] = {"iopslimit", "io", false, false, 1, 1000000000, .metavar = "N",
                               .help = "disk operations per second, each of read and write "
                                       "(io.max)"},
        [VPS_LIM_IOPRIO] = {"ioprio", "io", false, false, 0, 7, .metavar = "N",
                            .help = "disk priority 0 (lowest) to 7, default 4 (io.weight)"},
        [VPS_LIM_OOMPOLICY] = {"oompolicy", "memory", false, false, 0, 1, .words = oom_words,
                               .metavar = "process|restart",
                               .help = "on running out of --ram: process (the kernel kills one "
                                       "process, the default) or restart (the whole VPS is killed "
                                       "and restarted; memory.oom.group)"},
};

void vps_limits_init(struct vps_limits *l)
{
        for (int i = 0; i < VPS_LIM_COUNT; i++)
                l->v[i] = l->soft[i] = VPS_LIMIT_NONE;
        memset(l->cpumask, 0, sizeof(l->cpumask));
}

bool vps_limits_have_disk(const struct vps_limits *l)
{
        for (int k = 0; k < VPS_LIM_COUNT; k++)
                if (vps_limit_info[k].pair &&
                    (l->v[k] != VPS_LIMIT_NONE || l->soft[k] != VPS_LIMIT_NONE))
                        return true;
        return false;
}

/* "0-3,6" into its canonical form, every CPU one the host has (configured, online or not). */
static int parse_cpulist(const char *text, char *canon, size_t size, vps_error *err)
{
        enum { MAXCPU = 4096 };
        uint8_t set[MAXCPU / 8] = {0};
        long host = sysconf(_SC_NPROCESSORS_CONF);
        if (host <= 0 || host > MAXCPU)
                host = MAXCPU;
        const char *p = text;
        if (!p || !*p)
                return vps_err(err, EINVAL, "'cpumask': empty CPU list");
        while (*p) {
                char *end;
                if (*p < '0' || *p > '9')
                        goto bad;
                unsigned long a = strtoul(p, &end, 10), b = a;
                if (*end == '-') {
                        p = end + 1;
                        if (*p < '0' || *p > '9')
                                goto bad;
                        b = strtoul(p, &end, 10);
                }
                if (a > b || (*end && *end != ','))
                        goto bad;
                if (b >= (unsigned long)host)
                        return vps_err(
                                err, EINVAL,
                                "'cpumask': CPU %lu does not exist on this host (CPUs 0-%ld)", b,
                                host - 1);
                for (unsigned long c = a; c <= b; c++)
                        set[c / 8] |= (uint8_t)(1u << (c % 8));
                p = *end ? end + 1 : end;
                if (*end == ',' && !*p)
                        goto bad;
        }
        size_t n = 0;
        canon[0] = '\0';
        for (long c = 0; c < host; c++) {
                if (!(set[c / 8] & (1u << (c % 8))))
                        continue;
                long e = c;
                while (e + 1 < host && (set[(e + 1) / 8] & (1u << ((e + 1) % 8))))
                        e++;
                int w = e > c ? snprintf(canon + n, size - n, "%s%ld-%ld", n ? "," : "", c, e)
                              : snprintf(canon + n, size - n, "%s%ld", n ? "," : "", c);
                if (w < 0 || (size_t)w >= size - n)
                        return vps_err(err, EINVAL, "'cpumask': too long a CPU list");
                n += (size_t)w;
                c = e;
        }
        return 0;
bad:
        return vps_err(err, EINVAL, "'cpumask': invalid CPU list '%.40s' (expected e.g. 0-3,6)",
                       text);
}

/* A decimal number with at most as many fractional digits as the scale allows, times scale. */
static int parse_scaled(const char *text, unsigned int scale, uint64_t *ret)
{
        size_t digits = strspn(text, "0123456789");
        if (digits == 0 || digits > 15)
                return -EINVAL;
        uint64_t v = strtoull(text, NULL, 10) * scale;
        const char *p = text + digits;
        if (*p == '.') {
                p++;
                unsigned int place = scale / 10;
                if (!*p)
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++, place /= 10) {
                        if (place == 0)
                                return -EINVAL; /* more digits than the scale keeps */
                        v += (uint64_t)(*p - '0') * place;
                }
        }
        if (*p)
                return -EINVAL;
        *ret = v;
        return 0;
}

int vps_limit_parse(enum vps_limit_kind k, const char *text, uint64_t *ret, vps_error *err)
{
        const struct vps_limit_info *in = &vps_limit_info[k];
        if (text && strcasecmp(text, "unlimited") == 0) {
                *ret = VPS_LIMIT_NONE;
                return 0;
        }
        uint64_t v = 0;
        if (in->words) {
                for (size_t i = 0; in->words[i]; i++)
                        if (text && strcmp(text, in->words[i]) == 0) {
                                *ret = i;
                                return 0;
                        }
                return vps_err(err, EINVAL, "'%s': expected %s or %s, not '%.40s'", in->name,
                               in->words[0], in->words[1], text ? text : "");
        }
        if (in->cpulist) {
                char canon[VPS_CPUMASK_MAX];
                int r = parse_cpulist(text, canon, sizeof(canon), err);
                if (r == 0)
                        *ret = 1;
                return r;
        }
        if (in->size) {
                if (vps_size_parse(text, &v, err) < 0)
                        return vps_err_wrap(err, "'%s'", in->name);
        } else if (in->scale > 1) {
                if (!text || parse_scaled(text, in->scale, &v) < 0)
                        return vps_err(err, EINVAL, "'%s': invalid number '%.40s'", in->name,
                                       text ? text : "");
        } else {
                char *end = NULL;
                errno = 0;
                unsigned long long n =
                        text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
                if (!end || *end || errno)
                        return vps_err(err, EINVAL, "'%s': invalid number '%.40s'", in->name,
                                       text ? text : "");
                v = n;
        }
        if (v < in->min || v > in->max)
                return vps_err(err, ERANGE, "'%s': %.40s is out of range", in->name, text);
        *ret = v;
        return 0;
}

void vps_limit_format(const struct vps_limits *l, enum vps_limit_kind k, char *buf, size_t size)
{
        const struct vps_limit_info *in = &vps_limit_info[k];
        uint64_t v = l->v[k];
        if (v == VPS_LIMIT_NONE)
                (void)snprintf(buf, size, "unlimited");
        else if (in->cpulist)
                (void)snprintf(buf, size, "%s", l->cpumask);
        else if (in->words)
                (void)snprintf(buf, size, "%s", in->words[v ? 1 : 0]);
        else if (in->scale > 1 && v % in->scale)
                (void)snprintf(buf, size, "%llu.%02llu", (unsigned long long)(v / in->scale),
                               (unsigned long long)(v % in->scale));
        else
                (void)snprintf(buf, size, "%llu",
                               (unsigned long long)(in->scale > 1 ? v / in->scale : v));
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
                return vps_err(err, EINVAL, "'%s': invalid value '%.40s'", vps_limit_info[k].name,
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
                return vps_err(err, EINVAL, "'%s': the soft limit %s is above the hard limit %s",
                               vps_limit_info[k].name, first, colon + 1);
        *soft = s;
        *hard = h;
        return 0;
}

/* A pair as JSON: {"soft": N, "hard": N} (numbers or strings) into "SOFT:HARD"; NULL for
 * anything else, a misspelt key included (it would silently mean "unlimited"). */
static const char *pair_text(json_t *val, char *buf, size_t size)
{
        json_t *s = json_object_get(val, "soft"), *h = json_object_get(val, "hard");
        if (json_object_size(val) != (size_t)(s != NULL) + (size_t)(h != NULL))
                return NULL;
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
                } else if (json_is_real(val) && vps_limit_info[k].scale > 1 &&
                           json_real_value(val) >= 0 && json_real_value(val) < 1e9) {
                        (void)snprintf(buf, sizeof(buf), "%.2f", json_real_value(val));
                        text = buf;
                } else if (json_is_null(val)) {
                        text = "unlimited";
                }
                if (!text && json_is_object(val) && vps_limit_info[k].pair)
                        return vps_err(err, EINVAL,
                                       "limit '%s' takes {\"soft\": N, \"hard\": N} and nothing "
                                       "else",
                                       key);
                if (!text)
                        return vps_err(err, EINVAL, "limit '%s' must be a string or a number", key);
                int r = vps_limit_info[k].pair
                                ? vps_limit_parse_pair(k, text, &n.soft[k], &n.v[k], err)
                                : vps_limit_parse(k, text, &n.v[k], err);
                if (r == 0 && vps_limit_info[k].cpulist && n.v[k] != VPS_LIMIT_NONE)
                        r = parse_cpulist(text, n.cpumask, sizeof(n.cpumask), err);
                if (r < 0)
                        return r;
                if (vps_limit_info[k].cpulist && n.v[k] == VPS_LIMIT_NONE)
                        n.cpumask[0] = '\0';
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
                const struct vps_limit_info *in = &vps_limit_info[k];
                json_t *v = number_or_null(l->v[k]);
                if (l->v[k] != VPS_LIMIT_NONE && in->cpulist) {
                        json_decref(v);
                        v = json_string(l->cpumask);
                } else if (l->v[k] != VPS_LIMIT_NONE && in->words) {
                        json_decref(v);
                        v = json_string(in->words[l->v[k] ? 1 : 0]);
                } else if (l->v[k] != VPS_LIMIT_NONE && in->scale > 1) {
                        json_decref(v);
                        v = l->v[k] % in->scale ? json_real((double)l->v[k] / in->scale)
                                                : json_integer((json_int_t)(l->v[k] / in->scale));
                }
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
                } else if (v && !json_is_null(v) &&
                           (vps_limit_info[k].cpulist || vps_limit_info[k].words ||
                            vps_limit_info[k].scale > 1)) {
                        /* The same text or number as a request takes. */
                        json_t *one = json_pack("{s:O}", name, v);
                        struct vps_limits t = *l;
                        r = one ? vps_limits_update(&t, one, err) : -ENOMEM;
                        json_decref(one);
                        if (r < 0)
                                return vps_err(err, EBADMSG, "limit '%s': %s", name, err->msg);
                        l->v[k] = t.v[k];
                        memcpy(l->cpumask, t.cpumask, sizeof(l->cpumask));
                } else {
                        r = number_from_json(v, name, &l->v[k], err);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}
