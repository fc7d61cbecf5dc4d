/* libvps: config.json and state.json, parsed and validated with jansson, written atomically. */
#include "config/config.h"
#include "vps/cleanup.h"
#include "vps/netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void vps_json_decrefp(void *p)
{
        json_t **j = p;
        if (*j)
                json_decref(*j);
}

bool vps_ns_none(const struct vps_config *c)
{
        return c->n_ns == 1 && strcmp(c->nameserver[0], VPS_NS_NONE) == 0;
}

const char *vps_netmode_name(enum vps_netmode mode)
{
        return mode == VPS_NET_ROUTED ? "routed" : "bridged";
}

int vps_netmode_parse(const char *s, enum vps_netmode *ret, vps_error *err)
{
        if (s && strcmp(s, "bridged") == 0)
                *ret = VPS_NET_BRIDGED;
        else if (s && strcmp(s, "routed") == 0)
                *ret = VPS_NET_ROUTED;
        else
                return vps_err(err, EINVAL, "unknown netmode '%.30s': bridged or routed",
                               s ? s : "");
        return 0;
}

/* The bit of feature i is 1 << i. */
static const char *const feature_names[] = {"tun", "fuse", "nesting", "io_uring"};
/* The names above as messages quote them. */
#define FEATURE_LIST "tun, fuse, nesting, io_uring"
#define N_FEATURES   (sizeof(feature_names) / sizeof(feature_names[0]))

const char *vps_feature_name(unsigned int bit)
{
        for (unsigned int i = 0; i < N_FEATURES; i++)
                if (bit == 1u << i)
                        return feature_names[i];
        return NULL;
}

/* The bit of the feature named by len bytes at name, 0 if none is. */
static unsigned int feature_bit(const char *name, size_t len)
{
        for (unsigned int i = 0; i < N_FEATURES; i++)
                if (strlen(feature_names[i]) == len && strncmp(feature_names[i], name, len) == 0)
                        return 1u << i;
        return 0;
}

/* One NAME[:on|off] item, len bytes at item, added to c. */
static int feature_item(const char *item, size_t len, struct vps_features_change *c, vps_error *err)
{
        const char *colon = memchr(item, ':', len);
        size_t nlen = colon ? (size_t)(colon - item) : len;
        if (nlen == 0)
                return vps_err(err, EINVAL, "invalid 'features' item '%.*s': no feature name",
                               (int)len, item);
        unsigned int bit = feature_bit(item, nlen);
        if (!bit)
                return vps_err(err, EINVAL,
                               "unknown feature '%.*s' in 'features' (known: " FEATURE_LIST ")",
                               (int)(nlen < 40 ? nlen : 40), item);
        const char *name = vps_feature_name(bit), *value = colon ? colon + 1 : "on";
        size_t vlen = colon ? len - nlen - 1 : 2;
        bool on = vlen == 2 && strncmp(value, "on", 2) == 0;
        if (!on && !(vlen == 3 && strncmp(value, "off", 3) == 0))
                return vps_err(err, EINVAL,
                               "invalid value '%.*s' for feature '%s' in 'features': on or off",
                               (int)(vlen < 40 ? vlen : 40), value, name);
        if ((on ? c->off : c->on) & bit)
                return vps_err(err, EINVAL, "feature '%s' is both on and off in 'features'", name);
        *(on ? &c->on : &c->off) |= bit;
        return 0;
}

int vps_features_parse(const char *text, struct vps_features_change *ret, vps_error *err)
{
        size_t n = text ? strlen(text) : 0;
        if (n == 0)
                return vps_err(err, EINVAL, "empty 'features': give NAME:on|off,... or none");
        /* Checked first, so that every message below can quote the text on one line. */
        if (n > 200 || strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_-:,") != n)
                return vps_err(err, EINVAL,
                               "invalid 'features': expected NAME:on|off items separated by "
                               "commas (names: " FEATURE_LIST "), or none");
        if (strcmp(text, "none") == 0) {
                *ret = (struct vps_features_change){.off = VPS_FEAT_ALL};
                return 0;
        }
        struct vps_features_change c = {0};
        for (const char *p = text;;) {
                size_t len = strcspn(p, ",");
                if (len == 0)
                        return vps_err(err, EINVAL, "invalid 'features' '%.60s': an empty item",
                                       text);
                if (len == 4 && strncmp(p, "none", 4) == 0)
                        return vps_err(err, EINVAL, "'none' in 'features' must stand alone");
                int r = feature_item(p, len, &c, err);
                if (r < 0)
                        return r;
                p += len;
                if (!*p++)
                        break;
        }
        *ret = c;
        return 0;
}

unsigned int vps_features_apply(unsigned int cur, const struct vps_features_change *change)
{
        return ((cur & ~change->off) | change->on) & VPS_FEAT_ALL;
}

void vps_features_format(unsigned int features, char buf[VPS_FEATURES_TEXT_MAX])
{
        size_t used = 0;
        buf[0] = '\0';
        for (unsigned int i = 0; i < N_FEATURES; i++)
                if (features & (1u << i))
                        used += (size_t)snprintf(buf + used, VPS_FEATURES_TEXT_MAX - used, "%s%s",
                                                 used ? "," : "", feature_names[i]);
}

/* "features": ["tun", "nesting"]; absent in a config.json older than --features: none. */
int vps_features_from_json(json_t *arr, unsigned int *ret, vps_error *err)
{
        json_t *v;
        *ret = 0;
        if (arr && !json_is_array(arr))
                return vps_err(err, EBADMSG, "field 'features' must be an array of names");
        size_t i;
        json_array_foreach(arr, i, v)
        {
                unsigned int bit =
                        json_is_string(v) ? feature_bit(json_string_value(v), json_string_length(v))
                                          : 0;
                if (!bit)
                        return vps_err(err, EBADMSG, "field 'features' holds an unknown feature");
                *ret |= bit;
        }
        return 0;
}

json_t *vps_features_to_json(unsigned int features)
{
        json_t *arr = json_array();
        for (unsigned int i = 0; arr && i < N_FEATURES; i++)
                if (features & (1u << i))
                        json_array_append_new(arr, json_string(feature_names[i]));
        return arr;
}

static int save_text(int dfd, const char *name, char *text, vps_error *err)
{
        _cleanup_free_ char *t = text;
        if (!t)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_atomic(dfd, name, t, strlen(t), 0600, err);
}

int vps_config_load(int dfd, struct vps_config *ret, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = vps_read_file_at(dfd, "config.json", &text, NULL, err);
        if (r < 0)
                return r;
        r = vps_config_from_json(text, ret, err);
        return r < 0 ? vps_err_wrap(err, "config.json") : 0;
}

int vps_config_save(int dfd, const struct vps_config *cfg, vps_error *err)
{
        return save_text(dfd, "config.json", vps_config_to_json(cfg), err);
}

int vps_config_set_features(int dfd, struct vps_config *cfg, unsigned int features, vps_error *err)
{
        struct vps_config c = *cfg;
        c.features = features & VPS_FEAT_ALL;
        int r = vps_config_save(dfd, &c, err);
        if (r == 0)
                cfg->features = c.features;
        return r;
}

int vps_config_set_plan(int dfd, struct vps_config *cfg, const char *plan, vps_error *err)
{
        struct vps_config c = *cfg;
        if (strlen(plan) >= sizeof(c.plan))
                return vps_err(err, EINVAL, "too long a plan name");
        strcpy(c.plan, plan);
        int r = vps_config_save(dfd, &c, err);
        if (r == 0)
                memcpy(cfg->plan, c.plan, sizeof(c.plan));
        return r;
}

int vps_state_from_json(const char *text, struct vps_state *ret, vps_error *err)
{
        json_error_t jerr;
        _cleanup_json_ json_t *o = json_loads(text, 0, &jerr);
        if (!json_is_object(o))
                return vps_err(err, EBADMSG, "state is not a JSON object: %s", jerr.text);
        struct vps_state s = {0};
        long long pid = 0, st = 0, started = 0, ino = 0;
        int r;
        /* Written by a vpsd before it was there: 0, the start time decides. */
        json_t *ino_j = json_object_get(o, "pidfd_ino");
        if ((r = vps_json_get_int(json_object_get(o, "pid"), "pid", 1, INT32_MAX, &pid, err)) < 0 ||
            (r = vps_json_get_int(json_object_get(o, "starttime"), "starttime", 0, INT64_MAX, &st,
                                  err)) < 0 ||
            (r = vps_json_get_int(json_object_get(o, "started_at"), "started_at", 0, INT64_MAX,
                                  &started, err)) < 0 ||
            (ino_j && (r = vps_json_get_int(ino_j, "pidfd_ino", 0, INT64_MAX, &ino, err)) < 0) ||
            (r = vps_json_get_str(json_object_get(o, "cgroup"), "cgroup", s.cgroup,
                                  sizeof(s.cgroup), true, err)) < 0)
                return r;
        json_t *paused = json_object_get(o, "paused");
        if (paused && !json_is_boolean(paused))
                return vps_err(err, EBADMSG, "'paused' must be true or false");
        s.paused = json_is_true(paused); /* absent (an older vpsd's state): not paused */
        s.pid = (pid_t)pid;
        s.starttime = (unsigned long long)st;
        s.pidfd_ino = (uint64_t)ino;
        s.started_at = started;
        *ret = s;
        return 0;
}

char *vps_state_to_json(const struct vps_state *s)
{
        _cleanup_json_ json_t *o =
                json_pack("{s:i, s:I, s:I, s:I, s:s}", "pid", (int)s->pid, "starttime",
                          (json_int_t)s->starttime, "pidfd_ino", (json_int_t)s->pidfd_ino,
                          "started_at", (json_int_t)s->started_at, "cgroup", s->cgroup);
        if (o && s->paused)
                json_object_set_new(o, "paused", json_true());
        return o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
}

int vps_state_load(int dfd, const char *name, struct vps_state *ret, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = vps_read_file_at(dfd, name, &text, NULL, err);
        if (r < 0)
                return r;
        r = vps_state_from_json(text, ret, err);
        return r < 0 ? vps_err_wrap(err, "%s", name) : 0;
}

/* Run state: no fsync (vps_write_file_volatile): it only has to outlive a vpsd crash. */
int vps_state_save(int dfd, const char *name, const struct vps_state *st, vps_error *err)
{
        _cleanup_free_ char *t = vps_state_to_json(st);
        if (!t)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_volatile(dfd, name, t, strlen(t), 0600, err);
}

int vps_state_remove(int dfd, const char *name, vps_error *err)
{
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return vps_err_sys(err, errno, "removing %s", name);
        return 0;
}
