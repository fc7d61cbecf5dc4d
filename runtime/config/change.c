/* libvps: a change set (struct vps_change) read from an API body by the field table's
 * decoders, and the config it makes (vps_config_next, pure: no file, no system call). */
#include "vps/cleanup.h"
#include "config/config.h"
#include "vps/netaddr.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BIT(f) (1u << (f))

/* Reads a JSON array of address strings into ips after the *n there (at most VPS_MAX_IPS). */
static int read_ips(json_t *arr, const char *key, char ips[][VPS_IP_MAX], unsigned int *n,
                    vps_error *err)
{
        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return vps_err(err, EINVAL, "'%s' must be an array of addresses", key);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                if (!json_is_string(v) || json_string_length(v) >= VPS_IP_MAX)
                        return vps_err(err, EINVAL, "'%s' must be an array of addresses", key);
                if (*n >= VPS_MAX_IPS)
                        return vps_err(err, EINVAL, "at most %d addresses per VPS", VPS_MAX_IPS);
                strcpy(ips[(*n)++], json_string_value(v));
        }
        return 0;
}

static int decode_hostname(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                           vps_error *err)
{
        (void)cur;
        json_t *h = json_object_get(body, "hostname");
        if (!h || (json_is_null(h) && ch->create))
                return 0;
        if (!json_is_string(h))
                return vps_err(err, EINVAL, "'hostname' must be a string");
        /* An empty name on create: vpsd picks one (vps<ID>). */
        if (ch->create && json_string_length(h) == 0)
                return 0;
        int r = vps_hostname_check(json_string_value(h), err);
        if (r == 0 && json_string_length(h) >= sizeof(ch->v.hostname))
                r = vps_err(err, EINVAL, "too long a hostname");
        if (r == 0)
                strcpy(ch->v.hostname, json_string_value(h));
        return r;
}

/* Removes the addresses of del (["all"]: every one) from ips. */
static int del_ips(const char *id, char ips[][VPS_IP_MAX], unsigned int *n, char del[][VPS_IP_MAX],
                   unsigned int nd, vps_error *err)
{
        for (unsigned int i = 0; i < nd; i++) {
                if (strcmp(del[i], "all") == 0) {
                        *n = 0;
                        continue;
                }
                struct ns_addr a, b;
                int r = ns_addr_parse(del[i], &a, err);
                if (r < 0)
                        return r;
                unsigned int k = 0;
                for (unsigned int j = 0; j < *n; j++)
                        if (ns_addr_parse(ips[j], &b, err) < 0 || !ns_addr_equal(&a, &b))
                                memmove(ips[k++], ips[j], sizeof(ips[j]));
                if (k == *n)
                        return vps_err(err, ENOENT, "VPS %s has no address %s", id, del[i]);
                *n = k;
        }
        return 0;
}

/* ip replaces the list; on set, ipdel removes (["all"] every address), then ipadd appends. */
static int decode_ip(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                     vps_error *err)
{
        json_t *jip = json_object_get(body, "ip"), *jadd = json_object_get(body, "ipadd"),
               *jdel = json_object_get(body, "ipdel");
        if (!jip && !jadd && !jdel)
                return 0;
        char del[VPS_MAX_IPS][VPS_IP_MAX];
        unsigned int n = 0, nd = 0;
        int r = 0;
        if (jip)
                r = read_ips(jip, "ip", ch->v.ip, &n, err);
        for (unsigned int i = 0; !jip && i < cur->n_ip; i++)
                strcpy(ch->v.ip[n++], cur->ip[i]);
        if (r == 0)
                r = read_ips(jdel, "ipdel", del, &nd, err);
        if (r == 0)
                r = del_ips(cur->id, ch->v.ip, &n, del, nd, err);
        if (r == 0)
                r = read_ips(jadd, "ipadd", ch->v.ip, &n, err);
        ch->v.n_ip = n;
        return r;
}

static int decode_limits(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                         vps_error *err)
{
        json_t *jl = json_object_get(body, "limits");
        if (!jl)
                return 0;
        if (!json_is_object(jl))
                return vps_err(err, EINVAL, "'limits' must be an object");
        ch->v.limits = cur->limits;
        return vps_limits_update(&ch->v.limits, jl, err);
}

/* "nameserver": [ADDR...], ["inherit"] (stored as []) or ["none"] (stored as itself). */
static int decode_nameserver(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                             vps_error *err)
{
        (void)cur;
        json_t *jns = json_object_get(body, "nameserver");
        if (!jns)
                return 0;
        char ns[VPS_MAX_IPS][VPS_IP_MAX];
        unsigned int n = 0;
        int r = read_ips(jns, "nameserver", ns, &n, err);
        if (r < 0)
                return r;
        if (n > VPS_MAX_NS)
                return vps_err(err, EINVAL, "at most 4 name servers");
        for (unsigned int i = 0; n > 1 && i < n; i++)
                if (strcmp(ns[i], VPS_NS_NONE) == 0 || strcmp(ns[i], VPS_NS_INHERIT) == 0)
                        return vps_err(err, EINVAL,
                                       "'nameserver' %s stands alone, without addresses", ns[i]);
        ch->v.n_ns = 0;
        if (n == 1 && strcmp(ns[0], VPS_NS_INHERIT) == 0)
                return 0;
        if (n == 1 && strcmp(ns[0], VPS_NS_NONE) == 0) {
                strcpy(ch->v.nameserver[0], VPS_NS_NONE);
                ch->v.n_ns = 1;
                return 0;
        }
        for (unsigned int i = 0; i < n; i++) {
                struct ns_addr a;
                if (ns_addr_parse(ns[i], &a, err) < 0)
                        return vps_err_wrap(err, "'nameserver'");
                ns_addr_format(&a, ch->v.nameserver[i], sizeof(ch->v.nameserver[i]));
        }
        ch->v.n_ns = n;
        return 0;
}

static int decode_searchdomain(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                               vps_error *err)
{
        (void)cur;
        json_t *js = json_object_get(body, "searchdomain");
        if (!js)
                return 0;
        if (!json_is_string(js))
                return vps_err(err, EINVAL, "'searchdomain' must be a string");
        const char *search = json_string_value(js);
        if (strlen(search) >= sizeof(ch->v.searchdomain))
                return vps_err(err, EINVAL, "'searchdomain' is too long");
        _cleanup_free_ char *copy = strdup(search);
        if (!copy)
                return vps_err(err, ENOMEM, "out of memory");
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                if (vps_hostname_check(w, err) < 0)
                        return vps_err(err, EINVAL, "invalid search domain '%.80s'", w);
        strcpy(ch->v.searchdomain, search);
        return 0;
}

/* "forward": ["tcp:8080:80", ...] replaces the list ([] clears it); canonical once the
 * manager has checked it against the VPS's addresses (vps_net_check_forwards). */
static int decode_forward(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                          vps_error *err)
{
        (void)cur;
        json_t *jf = json_object_get(body, "forward");
        if (!jf)
                return 0;
        if (!json_is_array(jf) || json_array_size(jf) > VPS_MAX_FWD)
                return vps_err(err, EINVAL, "'forward' must be an array of up to 16 strings");
        size_t i;
        json_t *v;
        json_array_foreach(jf, i, v)
        {
                if (!json_is_string(v) || json_string_length(v) >= VPS_FWD_MAX)
                        return vps_err(err, EINVAL, "invalid forward in 'forward'");
                strcpy(ch->v.forward[i], json_string_value(v));
        }
        ch->v.n_fwd = (unsigned int)json_array_size(jf);
        return 0;
}

static int boot_type_error(vps_error *err)
{
        return vps_err(err, EINVAL, "'onboot' must be a boolean and 'bootorder' an integer");
}

static int decode_onboot(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                         vps_error *err)
{
        (void)cur;
        json_t *ob = json_object_get(body, "onboot");
        if (ob && !json_is_boolean(ob))
                return boot_type_error(err);
        ch->v.onboot = json_is_true(ob);
        return 0;
}

static int decode_bootorder(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                            vps_error *err)
{
        (void)cur;
        json_t *bo = json_object_get(body, "bootorder");
        if (!bo)
                return 0;
        if (!json_is_integer(bo))
                return boot_type_error(err);
        if (json_integer_value(bo) < -VPS_BOOTORDER_MAX ||
            json_integer_value(bo) > VPS_BOOTORDER_MAX)
                return vps_err(err, ERANGE, "'bootorder' must be within +-1000000");
        ch->v.bootorder = (int)json_integer_value(bo);
        return 0;
}

static int decode_netmode(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                          vps_error *err)
{
        (void)cur;
        json_t *j = json_object_get(body, "netmode");
        if (!j)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'netmode' must be \"bridged\" or \"routed\"");
        return vps_netmode_parse(json_string_value(j), &ch->v.netmode, err);
}

/* "rate": "100mbit" as tc writes it, "unlimited", or bits per second as a number. */
static int decode_rate(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                       vps_error *err)
{
        (void)cur;
        json_t *j = json_object_get(body, "rate");
        if (!j)
                return 0;
        if (json_is_integer(j)) {
                json_int_t n = json_integer_value(j);
                if (n != 0 && (n < 8000 || n > 400000000000))
                        return vps_err(err, ERANGE, "rate %lld is out of range (8kbit to 400gbit)",
                                       (long long)n);
                ch->v.rate = (uint64_t)n;
                return 0;
        }
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'rate' must be a string such as \"100mbit\"");
        return vps_rate_parse(json_string_value(j), &ch->v.rate, err);
}

/* "devnodes": "tun,fuse" or "none". */
static int decode_devnodes(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                           vps_error *err)
{
        (void)cur;
        json_t *j = json_object_get(body, "devnodes");
        if (!j)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'devnodes' must be a string such as \"tun,fuse\"");
        int r = vps_devnodes_parse(json_string_value(j), ch->v.devnodes, err);
        ch->v.n_dev = r < 0 ? 0 : (unsigned int)r;
        return r < 0 ? r : 0;
}

/* "features": "fuse:on,nesting" or "none", applied to the features it has. */
static int decode_features(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                           vps_error *err)
{
        json_t *j = json_object_get(body, "features");
        if (!j)
                return 0;
        if (!json_is_string(j))
                return vps_err(err, EINVAL, "'features' must be a string such as \"fuse:on,tun\"");
        struct vps_features_change c;
        int r = vps_features_parse(json_string_value(j), &c, err);
        if (r == 0)
                ch->v.features = vps_features_apply(cur->features, &c);
        return r;
}

/* Only on set (vpsctl migrate --keep-src marks the VPS it keeps); "" clears it. */
static int decode_migrated_to(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                              vps_error *err)
{
        (void)cur;
        if (ch->create)
                return vps_err(err, EINVAL, "cannot create with 'migrated_to'");
        json_t *j = json_object_get(body, "migrated_to");
        if (!json_is_string(j) || json_string_length(j) >= sizeof(ch->v.migrated_to) ||
            strlen(json_string_value(j)) != json_string_length(j))
                return vps_err(err, EINVAL, "'migrated_to' must be a string of at most %zu bytes",
                               sizeof(ch->v.migrated_to) - 1);
        strcpy(ch->v.migrated_to, json_string_value(j));
        return 0;
}

/* The API keys each settable field reads (its own key, and on set the extra ones). */
static const struct {
        int (*decode)(json_t *body, const struct vps_config *cur, struct vps_change *ch,
                      vps_error *err);
        const char *set_keys[3];
} decoders[VPS_F_COUNT] = {
        [VPS_F_HOSTNAME] = {decode_hostname, {0}},
        [VPS_F_IP] = {decode_ip, {"ipadd", "ipdel", NULL}},
        [VPS_F_LIMITS] = {decode_limits, {0}},
        [VPS_F_NAMESERVER] = {decode_nameserver, {0}},
        [VPS_F_SEARCHDOMAIN] = {decode_searchdomain, {0}},
        [VPS_F_FORWARD] = {decode_forward, {0}},
        [VPS_F_ONBOOT] = {decode_onboot, {0}},
        [VPS_F_BOOTORDER] = {decode_bootorder, {0}},
        [VPS_F_NETMODE] = {decode_netmode, {0}},
        [VPS_F_RATE] = {decode_rate, {0}},
        [VPS_F_DEVNODES] = {decode_devnodes, {0}},
        [VPS_F_FEATURES] = {decode_features, {0}},
        [VPS_F_MIGRATED_TO] = {decode_migrated_to, {0}},
};

/* Keys that are no field of the config. */
static const char *const create_extra[] = {"id", "ostemplate", "force", NULL};
static const char *const set_extra[] = {"userpasswd", "ssh_key", "reset_counters", "force", NULL};

static bool in_list(const char *const *list, const char *key)
{
        for (size_t i = 0; list[i]; i++)
                if (strcmp(list[i], key) == 0)
                        return true;
        return false;
}

bool vps_change_key_known(const char *key, bool create)
{
        if (in_list(create ? create_extra : set_extra, key))
                return true;
        for (unsigned int i = 0; i < VPS_F_COUNT; i++)
                if (decoders[i].decode && (strcmp(vps_fields[i].key, key) == 0 ||
                                           (!create && in_list(decoders[i].set_keys, key))))
                        return true;
        return false;
}

/* The keys of body that are not the field's own, checked. */
static int decode_extra(json_t *body, struct vps_change *ch, vps_error *err)
{
        json_t *f = json_object_get(body, "force");
        if (f && !json_is_boolean(f))
                return vps_err(err, EINVAL, "'force' must be true or false");
        ch->force = json_is_true(f);
        if (ch->create) {
                json_t *id = json_object_get(body, "id"),
                       *tpl = json_object_get(body, "ostemplate");
                if (!json_is_string(id) || !json_is_string(tpl) ||
                    json_string_length(id) >= sizeof(ch->v.id) ||
                    json_string_length(tpl) >= sizeof(ch->v.ostemplate))
                        return vps_err(err, EINVAL,
                                       "create needs string fields 'id' and 'ostemplate'");
                strcpy(ch->v.id, json_string_value(id));
                strcpy(ch->v.ostemplate, json_string_value(tpl));
                return 0;
        }
        json_t *rc = json_object_get(body, "reset_counters");
        if (rc && !json_is_boolean(rc))
                return vps_err(err, EINVAL, "'reset_counters' must be true or false");
        ch->reset_counters = json_is_true(rc);
        json_t *pw = json_object_get(body, "userpasswd"), *keys = json_object_get(body, "ssh_key");
        if ((pw && !json_is_string(pw)) || (keys && !json_is_string(keys)))
                return vps_err(err, EINVAL, "'userpasswd' and 'ssh_key' must be strings");
        ch->userpasswd = json_string_value(pw);
        ch->ssh_keys = json_string_value(keys);
        return 0; /* their form: the manager's check (guest/guestauth.h) */
}

int vps_change_from_json(json_t *body, const struct vps_config *cur, bool create,
                         struct vps_change *ret, vps_error *err)
{
        *ret = (struct vps_change){.create = create};
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v)
        {
                if (!vps_change_key_known(key, create))
                        return vps_err(err, EINVAL,
                                       create ? "cannot create with '%.60s'" : "cannot set '%.60s'",
                                       key);
        }
        int r = decode_extra(body, ret, err);
        for (unsigned int i = 0; r == 0 && i < VPS_F_COUNT; i++) {
                if (!decoders[i].decode)
                        continue;
                bool given = json_object_get(body, vps_fields[i].key) != NULL;
                for (size_t k = 0; !create && decoders[i].set_keys[k]; k++)
                        given |= json_object_get(body, decoders[i].set_keys[k]) != NULL;
                if (!given)
                        continue;
                r = decoders[i].decode(body, cur, ret, err);
                /* a null hostname on create, or an empty one: vpsd picks it */
                if (r == 0 && !(i == VPS_F_HOSTNAME && !ret->v.hostname[0]))
                        ret->given |= BIT(i);
        }
        return r;
}

/* Copies field f of from into to. */
static void copy_field(const struct vps_field *f, struct vps_config *to,
                       const struct vps_config *from)
{
        memcpy((char *)to + f->off, (const char *)from + f->off, f->msize);
        if (f->count_off)
                memcpy((char *)to + f->count_off, (const char *)from + f->count_off,
                       sizeof(unsigned int));
}

bool vps_config_field_differs(const struct vps_config *a, const struct vps_config *b,
                              enum vps_field_id id)
{
        const struct vps_field *f = &vps_fields[id];
        json_t *x = vps_field_save(f, a), *y = vps_field_save(f, b);
        bool differs = !json_equal(x, y) && (x || y);
        json_decref(x);
        json_decref(y);
        return differs;
}

/* What each step needs, given what the change holds (bits of fields) on a running VPS. */
static unsigned int live_steps(const struct vps_config *next, uint32_t given)
{
        unsigned int s = 0;
        if (given & BIT(VPS_F_LIMITS))
                s |= VPS_STEP_LIMITS;
        if (given & BIT(VPS_F_IP))
                s |= VPS_STEP_ADDRESSES;
        if (given & (BIT(VPS_F_IP) | BIT(VPS_F_FORWARD)))
                s |= VPS_STEP_FORWARDS;
        if ((given & BIT(VPS_F_RATE)) && next->n_ip > 0)
                s |= VPS_STEP_RATE;
        if (given & BIT(VPS_F_HOSTNAME))
                s |= VPS_STEP_HOSTNAME;
        if (given &
            (BIT(VPS_F_HOSTNAME) | BIT(VPS_F_IP) | BIT(VPS_F_NAMESERVER) | BIT(VPS_F_SEARCHDOMAIN)))
                s |= VPS_STEP_GUEST;
        return s;
}

int vps_config_next(const struct vps_config *cur, bool running, const struct vps_change *ch,
                    struct vps_config *ret, unsigned int *ret_steps, vps_error *err)
{
        struct vps_config next = *cur;
        for (unsigned int i = 0; i < VPS_F_COUNT; i++)
                if (ch->given & BIT(i))
                        copy_field(&vps_fields[i], &next, &ch->v);
        /* What changes only while the VPS is stopped: its netmode and features when they
         * differ (a plan set again names the ones it has), --devnodes when given at all. */
        for (unsigned int i = 0; running && i < VPS_F_COUNT; i++) {
                const struct vps_field *f = &vps_fields[i];
                if (!(ch->given & BIT(i)) || !f->stopped)
                        continue;
                if ((f->flags & VPS_FIELD_STOPPED_GIVEN) || vps_config_field_differs(cur, &next, i))
                        return vps_err(err, EBUSY, "VPS %s is running: stop it to change %s",
                                       cur->id, f->stopped);
        }
        if ((ch->given & BIT(VPS_F_IP)) && next.n_ip == 0 && next.n_fwd > 0)
                return vps_err(err, EBUSY,
                               "VPS %s has port forwards: remove them first ('forward' none)",
                               cur->id);
        unsigned int steps = running ? live_steps(&next, ch->given) : 0;
        if (ch->given & BIT(VPS_F_LIMITS))
                steps |= VPS_STEP_DISK; /* the project quota, running or not */
        if (ch->userpasswd)
                steps |= VPS_STEP_USERPASSWD;
        if (ch->ssh_keys)
                steps |= VPS_STEP_SSH_KEY;
        if (ch->given)
                steps |= VPS_STEP_SAVE;
        *ret = next;
        *ret_steps = steps;
        return 0;
}
