/* libvps: plan files (config.h), vzctl's sample-config style KEY="VALUE" lines with vpsctl's
 * option names, checked line by line and turned into the API body fields they stand for. */
#include "config/config.h"
#include "vps/cleanup.h"
#include "vps/safepath.h"
#include "vps/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int vps_plan_name_check(const char *name, vps_error *err)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0)
                return vps_err(err, EINVAL, "empty plan name");
        if (n > VPS_PLAN_NAME_MAX)
                return vps_err(err, EINVAL, "plan name '%.40s...' is longer than %d characters",
                               name, VPS_PLAN_NAME_MAX);
        if (!isalnum((unsigned char)name[0]) ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
                return vps_err(err, EINVAL,
                               "invalid plan name '%.63s': letters, digits, '.', '_' and '-', "
                               "starting with a letter or digit",
                               name);
        if (strcmp(name, "none") == 0)
                return vps_err(err, EINVAL, "'none' is no plan, not a plan name");
        return 0;
}

/* KEY="VALUE" (or KEY=VALUE): key and value cut out of line in place. */
static int split_line(char *line, char **key, char **value)
{
        char *eq = strchr(line, '=');
        if (!eq || eq == line)
                return -EINVAL;
        *eq = '\0';
        char *k = line, *v = eq + 1;
        size_t kn = strlen(k);
        while (kn && (k[kn - 1] == ' ' || k[kn - 1] == '\t'))
                k[--kn] = '\0';
        if (kn == 0 || strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_") != kn)
                return -EINVAL;
        while (*v == ' ' || *v == '\t')
                v++;
        size_t vn = strlen(v);
        while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r'))
                v[--vn] = '\0';
        if (vn && v[0] == '"') {
                if (vn < 2 || v[vn - 1] != '"')
                        return -EINVAL;
                v[vn - 1] = '\0';
                v++;
                if (strchr(v, '"'))
                        return -EINVAL;
        }
        *key = k;
        *value = v;
        return 0;
}

/* One setting: limit k (k >= 0) or a named field, checked and put into body. */
static int plan_setting(json_t *body, const char *key, const char *value, vps_error *err)
{
        for (int k = 0; k < VPS_LIM_COUNT; k++) {
                if (strcasecmp(key, vps_limit_info[k].name) != 0)
                        continue;
                json_t *one = json_pack("{s:s}", vps_limit_info[k].name, value);
                struct vps_limits probe;
                vps_limits_init(&probe);
                int r = one ? vps_limits_update(&probe, one, err) : vps_err(err, ENOMEM, "oom");
                json_decref(one);
                if (r < 0)
                        return r;
                json_t *lim = json_object_get(body, "limits");
                if (!lim)
                        json_object_set_new(body, "limits", lim = json_object());
                return json_object_set_new(lim, vps_limit_info[k].name, json_string(value)) < 0
                               ? vps_err(err, ENOMEM, "out of memory")
                               : 0;
        }
        int r;
        if (strcasecmp(key, "rate") == 0) {
                uint64_t bits;
                if ((r = vps_rate_parse(value, &bits, err)) < 0)
                        return vps_err_wrap(err, "'rate'");
                json_object_set_new(body, "rate", json_string(value));
        } else if (strcasecmp(key, "features") == 0) {
                struct vps_features_change c;
                if ((r = vps_features_parse(value, &c, err)) < 0)
                        return r;
                json_object_set_new(body, "features", json_string(value));
        } else if (strcasecmp(key, "devnodes") == 0) {
                char names[VPS_MAX_DEVNODES][8];
                if ((r = vps_devnodes_parse(value, names, err)) < 0)
                        return r;
                json_object_set_new(body, "devnodes", json_string(value));
        } else if (strcasecmp(key, "onboot") == 0) {
                if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
                        return vps_err(err, EINVAL, "'onboot': expected yes or no, not '%.40s'",
                                       value);
                json_object_set_new(body, "onboot", json_boolean(strcmp(value, "yes") == 0));
        } else {
                return vps_err(err, EINVAL,
                               "unknown setting '%.40s' (a plan takes the limits ram, swap, cpus, "
                               "cpulimit, cpuunits, numproc, diskspace, diskinodes, cpumask, "
                               "iolimit, iopslimit, ioprio, oompolicy and rate, features, "
                               "devnodes, onboot)",
                               key);
        }
        return 0;
}

/* Was this key (any case) set on an earlier line? */
static bool seen_before(json_t *body, const char *key)
{
        json_t *lim = json_object_get(body, "limits");
        const char *k;
        json_t *v;
        json_object_foreach(lim, k, v) if (strcasecmp(k, key) == 0) return true;
        json_object_foreach(body, k, v) if (strcasecmp(k, key) == 0) return true;
        return false;
}

int vps_plan_parse(const char *where, const char *text, json_t **ret, vps_error *err)
{
        _cleanup_free_ char *copy = strdup(text ? text : "");
        _cleanup_json_ json_t *body = json_object();
        if (!copy || !body)
                return vps_err(err, ENOMEM, "out of memory");
        unsigned int lineno = 0;
        for (char *p = copy, *line; (line = strsep(&p, "\n"));) {
                lineno++;
                while (*line == ' ' || *line == '\t')
                        line++;
                if (!*line || *line == '#' || strspn(line, " \t\r") == strlen(line))
                        continue;
                char *key, *value;
                if (split_line(line, &key, &value) < 0)
                        return vps_err(err, EINVAL, "%s:%u: expected KEY=\"VALUE\"", where, lineno);
                if (seen_before(body, key))
                        return vps_err(err, EINVAL, "%s:%u: %s is set twice", where, lineno, key);
                if (plan_setting(body, key, value, err) < 0)
                        return vps_err_wrap(err, "%s:%u", where, lineno);
        }
        *ret = TAKE_PTR(body);
        return 0;
}

int vps_plan_load(const char *dir, const char *name, json_t **ret, vps_error *err)
{
        int r = vps_plan_name_check(name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return vps_err_sys(err, errno, "plan %s: opening the plans directory %s", name,
                                   dir);
        char file[VPS_PLAN_NAME_MAX + 8];
        (void)snprintf(file, sizeof(file), "%s.conf", name);
        /* Resolved as if dir were the root: no symlink in it leads outside. */
        vps_error e;
        _cleanup_close_ int fd = vps_open_in_root(dfd, file, O_RDONLY | O_NOCTTY, 0, &e);
        if (fd == -ENOENT)
                return vps_err(err, ENOENT, "no plan '%s' (no %s/%s)", name, dir, file);
        if (fd < 0)
                return vps_err(err, -fd, "plan %s: %s/%s: %s", name, dir, file, e.msg);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "plan %s: %s/%s", name, dir, file);
        if (!S_ISREG(st.st_mode) || st.st_size > VPS_PLAN_FILE_MAX)
                return vps_err(err, EINVAL,
                               "plan %s: %s/%s is not a regular file of at most %d bytes", name,
                               dir, file, VPS_PLAN_FILE_MAX);
        _cleanup_free_ char *text = calloc(1, (size_t)st.st_size + 1);
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        ssize_t n = read(fd, text, (size_t)st.st_size);
        if (n < 0)
                return vps_err_sys(err, errno, "plan %s: reading %s/%s", name, dir, file);
        text[n] = '\0';
        if (strlen(text) != (size_t)n)
                return vps_err(err, EINVAL, "plan %s: %s/%s holds a NUL byte", name, dir, file);
        char where[600];
        (void)snprintf(where, sizeof(where), "plan %s: %s/%s", name, dir, file);
        return vps_plan_parse(where, text, ret, err);
}

json_t *vps_plan_merge(json_t *plan, json_t *request)
{
        _cleanup_json_ json_t *out = plan ? json_deep_copy(plan) : json_object();
        if (!out)
                return NULL;
        const char *key;
        json_t *v;
        json_object_foreach(request, key, v)
        {
                if (strcmp(key, "plan") == 0)
                        continue;
                json_t *mine = json_object_get(out, "limits");
                bool both = strcmp(key, "limits") == 0 && json_is_object(v) && json_is_object(mine);
                if ((both ? json_object_update(mine, v) : json_object_set(out, key, v)) < 0)
                        return NULL;
        }
        return TAKE_PTR(out);
}

int vps_plan_body(const char *dir, const char *default_plan, json_t *request, bool create,
                  char ret_plan[VPS_PLAN_NAME_MAX + 1], bool *ret_given, json_t **ret_body,
                  vps_error *err)
{
        json_t *jp = json_object_get(request, "plan");
        if (jp && !json_is_string(jp))
                return vps_err(err, EINVAL, "'plan' must be a plan's name or \"none\"");
        const char *name = jp ? json_string_value(jp) : create ? default_plan : NULL;
        ret_plan[0] = '\0';
        *ret_given = name != NULL;
        if (!name || !*name || strcmp(name, "none") == 0) {
                /* No plan: the request as it is, less its "plan": "none". */
                json_t *out = jp ? vps_plan_merge(NULL, request) : json_incref(request);
                if (!out)
                        return vps_err(err, ENOMEM, "out of memory");
                *ret_body = out;
                return 0;
        }
        _cleanup_json_ json_t *plan = NULL;
        int r = vps_plan_load(dir && *dir ? dir : VPS_DEFAULT_PLANS_DIR, name, &plan, err);
        if (r < 0)
                return r;
        json_t *out = vps_plan_merge(plan, request);
        if (!out)
                return vps_err(err, ENOMEM, "out of memory");
        (void)snprintf(ret_plan, VPS_PLAN_NAME_MAX + 1, "%s", name);
        *ret_body = out;
        return 0;
}
