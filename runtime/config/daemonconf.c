/* libvps: vpsd.conf, "key = value" lines with # comments. */
#include "vps/cleanup.h"
#include "config/config.h"
#include "vps/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const vps_daemon_conf_keys[] = {
        "root",
        "socket",
        "cgroup_parent",
        "bridge",
        "subnet",
        "enforce_limits",
        "debian_mirror",
        "netmode",
        "uplink",
        "mtu",
        "announce",
        "host_allow",
        "lxcfs",
        "guest_timeout",
        "criu_timeout",
        "cgroup_max_depth",
        "cgroup_max_descendants",
        "cgroup_remove_ms",
        "restart_burst",
        "restart_interval",
        "restart_delay_max",
        "log_burst",
        "log_interval",
        "log_max_size",
        "log_keep",
        "devpts_max",
        "resolv_conf",
        "resolv_conf_upstream",
        "plans_dir",
        "default_plan",
        "default_numproc",
        "listen",
        "listen_client_limit",
        "token_rate",
        "token_burst",
        "events_queue",
        "start_parallel",
        "token_snapshots",
        "cluster",
        "node",
        "advertise",
        "cluster_ttl",
        "cluster_prefix",
        "cluster_cacert",
        "cluster_cert",
        "cluster_key",
        NULL,
};

void vps_daemon_conf_init(struct vps_daemon_conf *c)
{
        memset(c, 0, sizeof(*c));
        c->enforce_warn = -1;
        c->cg_max_depth = c->cg_max_descendants = -2;
        c->default_numproc = -1;
}

static char *trim(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = '\0';
        return s;
}

/* Whole numbers within a range; log_max_size is a size (K, M, G suffixes). */
static int set_number(struct vps_daemon_conf *c, const char *where, const char *key,
                      const char *value, vps_error *err)
{
        static const struct {
                const char *key;
                size_t off;
                unsigned int min, max;
        } nums[] = {
                {"restart_burst", offsetof(struct vps_daemon_conf, restart_burst), 1, 1000},
                {"restart_interval", offsetof(struct vps_daemon_conf, restart_interval), 1, 86400},
                {"restart_delay_max", offsetof(struct vps_daemon_conf, restart_delay_max), 1,
                 86400},
                {"log_burst", offsetof(struct vps_daemon_conf, log_burst), 1, 1000000},
                {"log_interval", offsetof(struct vps_daemon_conf, log_interval), 1, 86400},
                {"log_keep", offsetof(struct vps_daemon_conf, log_keep), 1, 99},
                {"listen_client_limit", offsetof(struct vps_daemon_conf, listen_client_limit), 1,
                 100000},
                {"token_rate", offsetof(struct vps_daemon_conf, token_rate), 1, 1000000},
                {"token_burst", offsetof(struct vps_daemon_conf, token_burst), 1, 1000000},
                {"events_queue", offsetof(struct vps_daemon_conf, events_queue), 8, 1000000},
                {"cluster_ttl", offsetof(struct vps_daemon_conf, cluster_ttl), 2, 3600},
                {"start_parallel", offsetof(struct vps_daemon_conf, start_parallel), 1, 64},
                {"token_snapshots", offsetof(struct vps_daemon_conf, token_snapshots), 1, 1000},
        };
        if (strcmp(key, "log_max_size") == 0) {
                uint64_t v = 0;
                if (vps_size_parse(value, &v, err) < 0 || v < 4096 || v > (1ULL << 40))
                        return vps_err(err, EINVAL, "%s: log_max_size takes a size from 4K to 1T",
                                       where);
                c->log_max_size = v;
                return 1;
        }
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
                if (strcmp(key, nums[i].key) != 0)
                        continue;
                char *end = NULL;
                errno = 0;
                unsigned long v = strtoul(value, &end, 10);
                if (!*value || *value == '-' || *end || errno || v < nums[i].min || v > nums[i].max)
                        return vps_err(err, EINVAL, "%s: %s takes a number from %u to %u", where,
                                       key, nums[i].min, nums[i].max);
                *(unsigned int *)(void *)((char *)c + nums[i].off) = (unsigned int)v;
                return 1;
        }
        return 0;
}

static int set(struct vps_daemon_conf *c, const char *where, const char *key, const char *value,
               vps_error *err)
{
        static const struct {
                const char *key;
                size_t off, size;
        } strs[] = {
                {"root", offsetof(struct vps_daemon_conf, root), sizeof(c->root)},
                {"socket", offsetof(struct vps_daemon_conf, socket), sizeof(c->socket)},
                {"cgroup_parent", offsetof(struct vps_daemon_conf, cgroup_parent),
                 sizeof(c->cgroup_parent)},
                {"bridge", offsetof(struct vps_daemon_conf, bridge), sizeof(c->bridge)},
                {"subnet", offsetof(struct vps_daemon_conf, subnet), sizeof(c->subnet)},
                {"debian_mirror", offsetof(struct vps_daemon_conf, debian_mirror),
                 sizeof(c->debian_mirror)},
                {"netmode", offsetof(struct vps_daemon_conf, netmode), sizeof(c->netmode)},
                {"uplink", offsetof(struct vps_daemon_conf, uplink), sizeof(c->uplink)},
                {"mtu", offsetof(struct vps_daemon_conf, mtu), sizeof(c->mtu)},
                {"announce", offsetof(struct vps_daemon_conf, announce), sizeof(c->announce)},
                {"lxcfs", offsetof(struct vps_daemon_conf, lxcfs), sizeof(c->lxcfs)},
                {"host_allow", offsetof(struct vps_daemon_conf, host_allow), sizeof(c->host_allow)},
                {"plans_dir", offsetof(struct vps_daemon_conf, plans_dir), sizeof(c->plans_dir)},
                {"default_plan", offsetof(struct vps_daemon_conf, default_plan),
                 sizeof(c->default_plan)},
                {"resolv_conf", offsetof(struct vps_daemon_conf, resolv_conf),
                 sizeof(c->resolv_conf)},
                {"resolv_conf_upstream", offsetof(struct vps_daemon_conf, resolv_upstream),
                 sizeof(c->resolv_upstream)},
                {"listen", offsetof(struct vps_daemon_conf, listen), sizeof(c->listen)},
                {"cluster", offsetof(struct vps_daemon_conf, cluster), sizeof(c->cluster)},
                {"node", offsetof(struct vps_daemon_conf, node), sizeof(c->node)},
                {"advertise", offsetof(struct vps_daemon_conf, advertise), sizeof(c->advertise)},
                {"cluster_prefix", offsetof(struct vps_daemon_conf, cluster_prefix),
                 sizeof(c->cluster_prefix)},
                {"cluster_cacert", offsetof(struct vps_daemon_conf, cluster_cacert),
                 sizeof(c->cluster_cacert)},
                {"cluster_cert", offsetof(struct vps_daemon_conf, cluster_cert),
                 sizeof(c->cluster_cert)},
                {"cluster_key", offsetof(struct vps_daemon_conf, cluster_key),
                 sizeof(c->cluster_key)},
        };
        if (strcmp(key, "netmode") == 0 && strcmp(value, "bridged") && strcmp(value, "routed"))
                return vps_err(err, EINVAL, "%s: netmode takes bridged or routed, not '%.40s'",
                               where, value);
        if (strcmp(key, "lxcfs") == 0 && strcmp(value, "off") != 0 && value[0] != '/')
                return vps_err(err, EINVAL, "%s: lxcfs takes an absolute directory or off", where);
        if (strcmp(key, "plans_dir") == 0 && value[0] != '/')
                return vps_err(err, EINVAL, "%s: plans_dir takes an absolute directory", where);
        if (strcmp(key, "default_plan") == 0 && strcmp(value, "none") != 0) {
                int r = vps_plan_name_check(value, err);
                if (r < 0)
                        return vps_err_wrap(err, "%s: default_plan", where);
        }
        if (strcmp(key, "default_numproc") == 0) {
                char *end = NULL;
                unsigned long long v = strtoull(value, &end, 10);
                bool unl = strcmp(value, "unlimited") == 0;
                if (!unl && (!isdigit((unsigned char)value[0]) || *end || v < 1 || v > 4194304))
                        return vps_err(err, EINVAL,
                                       "%s: default_numproc takes a number from 1 to 4194304 or "
                                       "unlimited, not '%.40s'",
                                       where, value);
                c->default_numproc = unl ? 0 : (long long)v;
                return 0;
        }
        if (strncmp(key, "resolv_conf", 11) == 0 && value[0] != '/')
                return vps_err(err, EINVAL, "%s: %s takes an absolute path", where, key);
        if (strcmp(key, "guest_timeout") == 0) {
                char *end = NULL;
                long t = strtol(value, &end, 10);
                if (!*value || *end || t < 1 || t > 3600)
                        return vps_err(err, EINVAL,
                                       "%s: guest_timeout takes seconds from 1 to 3600, not "
                                       "'%.40s'",
                                       where, value);
                c->guest_timeout = (unsigned int)t;
                return 0;
        }
        if (strcmp(key, "criu_timeout") == 0) {
                char *end = NULL;
                long t = strtol(value, &end, 10);
                if (!*value || *end || t < 1 || t > VPS_CRIU_TIMEOUT_MAX)
                        return vps_err(err, EINVAL,
                                       "%s: criu_timeout takes seconds from 1 to %d, not '%.40s'",
                                       where, VPS_CRIU_TIMEOUT_MAX, value);
                c->criu_timeout = (unsigned int)t;
                return 0;
        }
        if (strcmp(key, "cgroup_max_depth") == 0 || strcmp(key, "cgroup_max_descendants") == 0) {
                char *end = NULL;
                bool max = strcmp(value, "max") == 0;
                long long v = max ? -1 : strtoll(value, &end, 10);
                if (!max && (!*value || *end || v < 0 || v > 1000000))
                        return vps_err(err, EINVAL,
                                       "%s: %s takes a number from 0 to 1000000 or max, not "
                                       "'%.40s'",
                                       where, key, value);
                if (strcmp(key, "cgroup_max_depth") == 0)
                        c->cg_max_depth = v;
                else
                        c->cg_max_descendants = v;
                return 0;
        }
        if (strcmp(key, "cgroup_remove_ms") == 0) {
                char *end = NULL;
                unsigned long v = strtoul(value, &end, 10);
                if (!isdigit((unsigned char)value[0]) || *end || v < 1 || v > 60000)
                        return vps_err(err, EINVAL,
                                       "%s: cgroup_remove_ms takes milliseconds from 1 to "
                                       "60000, not '%.40s'",
                                       where, value);
                c->cg_remove_ms = (unsigned int)v;
                return 0;
        }
        if (strcmp(key, "devpts_max") == 0) {
                char *end = NULL;
                unsigned long v = strtoul(value, &end, 10);
                if (!isdigit((unsigned char)value[0]) || *end || v < 1 || v > VPS_DEVPTS_MAX_LIMIT)
                        return vps_err(err, EINVAL,
                                       "%s: devpts_max takes a number from 1 to %u, not '%.40s'",
                                       where, VPS_DEVPTS_MAX_LIMIT, value);
                c->devpts_max = (unsigned int)v;
                return 0;
        }
        if (strcmp(key, "enforce_limits") == 0) {
                if (strcmp(value, "strict") != 0 && strcmp(value, "warn") != 0)
                        return vps_err(err, EINVAL,
                                       "%s: enforce_limits takes strict or warn, not '%.40s'",
                                       where, value);
                c->enforce_warn = strcmp(value, "warn") == 0;
                return 0;
        }
        int r = set_number(c, where, key, value, err);
        if (r != 0)
                return r < 0 ? r : 0;
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                if (strcmp(key, strs[i].key) != 0)
                        continue;
                if (!*value || strlen(value) >= strs[i].size)
                        return vps_err(err, EINVAL, "%s: %s: %s value", where, key,
                                       *value ? "too long a" : "an empty");
                memcpy((char *)c + strs[i].off, value, strlen(value) + 1);
                return 0;
        }
        char known[900];
        size_t used = 0;
        for (size_t i = 0; vps_daemon_conf_keys[i] && used < sizeof(known); i++)
                used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                         vps_daemon_conf_keys[i]);
        return vps_err(err, EINVAL, "%s: unknown setting '%.40s' (known: %s)", where, key, known);
}

int vps_daemon_conf_parse(struct vps_daemon_conf *c, const char *name, const char *text,
                          vps_error *err)
{
        _cleanup_free_ char *copy = strdup(text);
        if (!copy)
                return vps_err(err, ENOMEM, "out of memory");
        struct vps_daemon_conf n = *c;
        unsigned int lineno = 0;
        for (char *p = copy, *line; (line = strsep(&p, "\n"));) {
                lineno++;
                char *l = trim(line);
                if (!*l || *l == '#')
                        continue;
                char where[300];
                (void)snprintf(where, sizeof(where), "%.280s:%u", name, lineno);
                char *eq = strchr(l, '=');
                if (!eq)
                        return vps_err(err, EINVAL, "%s: expected 'key = value'", where);
                *eq = '\0';
                int r = set(&n, where, trim(l), trim(eq + 1), err);
                if (r < 0)
                        return r;
        }
        *c = n;
        return 0;
}

int vps_daemon_conf_load(struct vps_daemon_conf *c, const char *path, bool must_exist,
                         vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = vps_read_file_at(AT_FDCWD, path, &text, NULL, err);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0)
                return r;
        return vps_daemon_conf_parse(c, path, text, err);
}
