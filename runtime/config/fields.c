/* libvps: the fields of a VPS's config, one row each (vps_fields[]): config.json's load and
 * save and the API's JSON view of a VPS read this table (as vps_limit_info is for limits). */
#include "vps/cleanup.h"
#include "config/config.h"
#include "vps/netaddr.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <string.h>

/* A string of less than size bytes at dst; absent or null: "" unless required. */
int vps_json_get_str(json_t *v, const char *key, char *dst, size_t size, bool required,
                     vps_error *err)
{
        if (!v || json_is_null(v)) {
                if (required)
                        return vps_err(err, EBADMSG, "missing field '%s'", key);
                dst[0] = '\0';
                return 0;
        }
        /* An embedded NUL would make the C string differ from the JSON one. */
        if (!json_is_string(v) || json_string_length(v) >= size ||
            strlen(json_string_value(v)) != json_string_length(v))
                return vps_err(err, EBADMSG, "field '%s' must be a string of at most %zu bytes",
                               key, size - 1);
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return 0;
}

/* An array of at most max strings of less than width bytes each, copied into consecutive
 * slots of dst; addresses are checked as IP addresses. */
static int get_list(json_t *arr, const char *key, char *dst, size_t width, unsigned int max,
                    unsigned int *n, bool addresses, vps_error *err)
{
        json_t *v;
        *n = 0;
        if (arr && (!json_is_array(arr) || json_array_size(arr) > max))
                return vps_err(err, EBADMSG, "field '%s' must be an array of up to %u", key, max);
        size_t i;
        json_array_foreach(arr, i, v)
        {
                struct ns_addr a;
                vps_error e;
                if (!json_is_string(v) || json_string_length(v) >= width ||
                    strlen(json_string_value(v)) != json_string_length(v) ||
                    (addresses && ns_addr_parse(json_string_value(v), &a, &e) < 0))
                        return vps_err(err, EBADMSG, "field '%s' holds an invalid entry", key);
                memcpy(dst + (*n)++ * width, json_string_value(v), json_string_length(v) + 1);
        }
        return 0;
}

int vps_json_get_int(json_t *v, const char *key, long long min, long long max, long long *ret,
                     vps_error *err)
{
        if (!json_is_integer(v))
                return vps_err(err, EBADMSG, "field '%s' must be an integer", key);
        long long n = json_integer_value(v);
        if (n < min || n > max)
                return vps_err(err, EBADMSG, "field '%s' out of range", key);
        *ret = n;
        return 0;
}

static json_t *str_list(const char *first, size_t width, unsigned int n)
{
        json_t *arr = json_array();
        for (unsigned int i = 0; arr && i < n; i++)
                json_array_append_new(arr, json_string(first + i * width));
        return arr;
}

/* The generic rows: a string (STR) or a list of strings (LIST) at an offset of the config. */
static int load_generic(const struct vps_field *f, json_t *v, struct vps_config *c, vps_error *err)
{
        if (f->type == VPS_FT_STR)
                return vps_json_get_str(v, f->key, (char *)c + f->off, f->size,
                                        f->flags & VPS_FIELD_REQUIRED, err);
        return get_list(v, f->key, (char *)c + f->off, f->size, f->max,
                        (unsigned int *)((char *)c + f->count_off), f->flags & VPS_FIELD_ADDRESSES,
                        err);
}

static json_t *save_generic(const struct vps_field *f, const struct vps_config *c)
{
        const char *base = (const char *)c;
        if (f->type == VPS_FT_STR)
                return (f->flags & VPS_FIELD_OMIT_EMPTY) && !base[f->off]
                               ? NULL
                               : json_string(base + f->off);
        return str_list(base + f->off, f->size, *(const unsigned int *)(base + f->count_off));
}

/* The custom rows. */
static int load_uid_base(json_t *v, struct vps_config *c, vps_error *err)
{
        long long n = 0;
        int r = vps_json_get_int(v, "uid_base", 1, UINT32_MAX - VPS_UID_COUNT, &n, err);
        c->uid_base = (uint32_t)n;
        return r;
}

static json_t *save_uid_base(const struct vps_config *c)
{
        return json_integer(c->uid_base);
}

static int load_uid_count(json_t *v, struct vps_config *c, vps_error *err)
{
        long long n = 0;
        int r = vps_json_get_int(v, "uid_count", 1, VPS_UID_COUNT, &n, err);
        c->uid_count = (uint32_t)n;
        return r;
}

static json_t *save_uid_count(const struct vps_config *c)
{
        return json_integer(c->uid_count);
}

static int load_created_at(json_t *v, struct vps_config *c, vps_error *err)
{
        long long n = 0;
        int r = vps_json_get_int(v, "created_at", 0, INT64_MAX, &n, err);
        c->created_at = n;
        return r;
}

static json_t *save_created_at(const struct vps_config *c)
{
        return json_integer((json_int_t)c->created_at);
}

static int load_nameserver(json_t *v, struct vps_config *c, vps_error *err)
{
        /* ["none"] alone is the one nameserver list that holds no address. */
        const char *ns0 = json_string_value(json_array_get(v, 0));
        bool none = json_array_size(v) == 1 && ns0 && strcmp(ns0, VPS_NS_NONE) == 0;
        return get_list(v, "nameserver", c->nameserver[0], sizeof(c->nameserver[0]), VPS_MAX_NS,
                        &c->n_ns, !none, err);
}

static json_t *save_nameserver(const struct vps_config *c)
{
        return str_list(c->nameserver[0], sizeof(c->nameserver[0]), c->n_ns);
}

/* The view shows inheriting as --nameserver takes it, not as an empty list. */
static json_t *view_nameserver(const struct vps_config *c)
{
        json_t *ns = save_nameserver(c);
        if (ns && c->n_ns == 0)
                json_array_append_new(ns, json_string(VPS_NS_INHERIT));
        return ns;
}

static int load_limits(json_t *v, struct vps_config *c, vps_error *err)
{
        return vps_limits_from_json(&c->limits, v, err);
}

static json_t *save_limits(const struct vps_config *c)
{
        return vps_limits_to_json(&c->limits);
}

static int load_projid(json_t *v, struct vps_config *c, vps_error *err)
{
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                  json_integer_value(v) > UINT32_MAX))
                return vps_err(err, EBADMSG, "field 'projid' must be a project id");
        c->projid = v ? (uint32_t)json_integer_value(v) : 0;
        return 0;
}

static json_t *save_projid(const struct vps_config *c)
{
        return c->projid ? json_integer(c->projid) : NULL;
}

static int load_onboot(json_t *v, struct vps_config *c, vps_error *err)
{
        if (v && !json_is_boolean(v))
                return vps_err(err, EBADMSG,
                               "fields 'onboot' and 'bootorder' must be a boolean and an integer");
        c->onboot = json_is_true(v);
        return 0;
}

static json_t *save_onboot(const struct vps_config *c)
{
        return json_boolean(c->onboot);
}

static int load_bootorder(json_t *v, struct vps_config *c, vps_error *err)
{
        if (v && (!json_is_integer(v) || json_integer_value(v) < -VPS_BOOTORDER_MAX ||
                  json_integer_value(v) > VPS_BOOTORDER_MAX))
                return vps_err(err, EBADMSG,
                               "fields 'onboot' and 'bootorder' must be a boolean and an integer");
        c->bootorder = v ? (int)json_integer_value(v) : 0;
        return 0;
}

static json_t *save_bootorder(const struct vps_config *c)
{
        return json_integer(c->bootorder);
}

static int load_netmode(json_t *v, struct vps_config *c, vps_error *err)
{
        c->netmode = VPS_NET_BRIDGED;
        if (v &&
            (!json_is_string(v) || vps_netmode_parse(json_string_value(v), &c->netmode, err) < 0))
                return vps_err(err, EBADMSG, "field 'netmode' must be \"bridged\" or \"routed\"");
        return 0;
}

static json_t *save_netmode(const struct vps_config *c)
{
        return json_string(vps_netmode_name(c->netmode));
}

static int load_rate(json_t *v, struct vps_config *c, vps_error *err)
{
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
                return vps_err(err, EBADMSG, "field 'rate' must be bits per second");
        c->rate = v ? (uint64_t)json_integer_value(v) : 0;
        return 0;
}

static json_t *save_rate(const struct vps_config *c)
{
        return json_integer((json_int_t)c->rate);
}

static int check_devnodes(const struct vps_config *c, vps_error *err)
{
        for (unsigned int i = 0; i < c->n_dev; i++)
                if (!vps_devnode_find(c->devnodes[i]))
                        return vps_err(err, EBADMSG, "field 'devnodes': unknown device '%s'",
                                       c->devnodes[i]);
        return 0;
}

static int load_features(json_t *v, struct vps_config *c, vps_error *err)
{
        return vps_features_from_json(v, &c->features, err);
}

static json_t *save_features(const struct vps_config *c)
{
        return vps_features_to_json(c->features);
}

/* The view shows "plan": null when there is none; config.json leaves it out. */
static json_t *view_plan(const struct vps_config *c)
{
        return c->plan[0] ? json_string(c->plan) : json_null();
}

static int check_id(const struct vps_config *c, vps_error *err)
{
        return vps_id_check(c->id, err);
}

static int check_ostemplate(const struct vps_config *c, vps_error *err)
{
        return vps_template_name_check(c->ostemplate, err);
}

static int check_hostname(const struct vps_config *c, vps_error *err)
{
        return c->hostname[0] ? vps_hostname_check(c->hostname, err) : 0;
}

static int check_plan(const struct vps_config *c, vps_error *err)
{
        return c->plan[0] ? vps_plan_name_check(c->plan, err) : 0;
}

#define MEMBER(name)                                                                               \
        .off = offsetof(struct vps_config, name), .msize = sizeof(((struct vps_config *)0)->name)
#define STR(name, fl)                                                                              \
        .key = #name, .type = VPS_FT_STR, MEMBER(name),                                            \
        .size = sizeof(((struct vps_config *)0)->name), .flags = (fl)
#define LIST(name, cnt, fl)                                                                        \
        .key = #name, .type = VPS_FT_LIST, MEMBER(name),                                           \
        .size = sizeof(((struct vps_config *)0)->name[0]),                                         \
        .max = sizeof(((struct vps_config *)0)->name) / sizeof(((struct vps_config *)0)->name[0]), \
        .count_off = offsetof(struct vps_config, cnt), .flags = (fl)
#define CUSTOM(name, fl)                                                                           \
        .key = #name, .type = VPS_FT_CUSTOM, MEMBER(name), .load = load_##name,                    \
        .save = save_##name, .flags = (fl)

/* Rows in the order config.json is checked (the first bad field is the one reported). The
 * API's view of a VPS shows the VPS_FIELD_VIEW ones, after its identity and run state; vpsctl's
 * create and set take those with a cli as --KEY METAVAR, and their --help shows the help. */
const struct vps_field vps_fields[VPS_F_COUNT] = {
        [VPS_F_ID] = {STR(id, VPS_FIELD_REQUIRED), .check = check_id},
        [VPS_F_OSTEMPLATE] = {STR(ostemplate, VPS_FIELD_REQUIRED), .check = check_ostemplate},
        [VPS_F_HOSTNAME] = {STR(hostname, VPS_FIELD_SETTING | VPS_FIELD_GUEST),
                            .check = check_hostname},
        [VPS_F_UID_BASE] = {CUSTOM(uid_base, 0)},
        [VPS_F_UID_COUNT] = {CUSTOM(uid_count, 0)},
        [VPS_F_CREATED_AT] = {CUSTOM(created_at, 0)},
        [VPS_F_IP] = {LIST(ip, n_ip, VPS_FIELD_ADDRESSES | VPS_FIELD_SETTING | VPS_FIELD_GUEST)},
        [VPS_F_NAMESERVER] = {.cli = VPS_CLI_LIST,
                              CUSTOM(nameserver,
                                     VPS_FIELD_SETTING | VPS_FIELD_VIEW | VPS_FIELD_GUEST),
                              .view = view_nameserver,
                              .count_off = offsetof(struct vps_config, n_ns),
                              .metavar = "ADDR|inherit|none",
                              .help = "DNS server for the guest's /etc/resolv.conf (repeatable, up "
                                      "to 4); inherit (the default): the host's, those of a local "
                                      "stub (127.0.0.53) from its upstream file, read at each "
                                      "start and set; none: no name server"},
        [VPS_F_FORWARD] = {.cli = VPS_CLI_LIST_CLEAR,
                           LIST(forward, n_fwd, VPS_FIELD_SETTING | VPS_FIELD_VIEW),
                           .metavar = "PROTO:HOSTPORT:VPSPORT",
                           .help = "forward host port HOSTPORT to port VPSPORT of the VPS; PROTO "
                                   "is tcp or udp (repeatable; on set the list replaces the old "
                                   "one, none clears); refused: a host port a host socket holds "
                                   "or another VPS forwards, and one below 1024 without --force"},
        [VPS_F_LIMITS] = {CUSTOM(limits, VPS_FIELD_SETTING)},
        [VPS_F_SEARCHDOMAIN] = {.cli = VPS_CLI_STRING,
                                STR(searchdomain,
                                    VPS_FIELD_SETTING | VPS_FIELD_VIEW | VPS_FIELD_GUEST),
                                .metavar = "DOMAINS",
                                .help = "search domains, space separated (inherit also takes the "
                                        "host's, when the VPS has none of its own)"},
        [VPS_F_PROJID] = {CUSTOM(projid, 0)},
        [VPS_F_ONBOOT] = {.cli = VPS_CLI_YESNO,
                          CUSTOM(onboot, VPS_FIELD_SETTING | VPS_FIELD_VIEW),
                          .metavar = "yes|no",
                          .help = "start the VPS when the host boots"},
        [VPS_F_BOOTORDER] = {.cli = VPS_CLI_INT,
                             CUSTOM(bootorder, VPS_FIELD_SETTING | VPS_FIELD_VIEW),
                             .metavar = "N",
                             .help = "at boot, higher numbers start first"},
        [VPS_F_NETMODE] = {.cli = VPS_CLI_STRING,
                           CUSTOM(netmode, VPS_FIELD_SETTING | VPS_FIELD_VIEW),
                           .stopped = "its netmode",
                           .metavar = "bridged|routed",
                           .help = "bridged (private subnet behind NAT, the default of vpsd.conf) "
                                   "or routed (public IPv4/IPv6 addresses routed to the VPS)"},
        [VPS_F_RATE] = {.cli = VPS_CLI_STRING,
                        CUSTOM(rate, VPS_FIELD_SETTING | VPS_FIELD_VIEW),
                        .metavar = "RATE",
                        .help = "bandwidth both ways, as tc writes it: 100mbit, 1gbit, 500kbit, "
                                "10mbps (bytes/s); unlimited removes it"},
        [VPS_F_DEVNODES] = {.cli = VPS_CLI_STRING,
                            LIST(devnodes, n_dev,
                                 VPS_FIELD_SETTING | VPS_FIELD_VIEW | VPS_FIELD_STOPPED_GIVEN),
                            .check = check_devnodes,
                            .stopped = "'devnodes'",
                            .metavar = "LIST",
                            .help = "devices beyond the default set: tun (/dev/net/tun, for "
                                    "VPNs), fuse (/dev/fuse), comma separated, or none; VPS "
                                    "stopped"},
        [VPS_F_FEATURES] = {.cli = VPS_CLI_STRING,
                            CUSTOM(features, VPS_FIELD_SETTING | VPS_FIELD_VIEW),
                            .stopped = "'features'",
                            .metavar = "LIST",
                            .help = "NAME:on|off,... (a bare NAME is on; none turns all off; on "
                                    "set the others stay): tun (/dev/net/tun), fuse (/dev/fuse "
                                    "and FUSE mounts), nesting (containers inside: keyring "
                                    "syscalls, an uncovered proc and sysfs under /dev/.vps; "
                                    "weakens isolation), io_uring (the io_uring syscalls, denied "
                                    "by default); VPS stopped"},
        [VPS_F_PLAN] = {.cli = VPS_CLI_STRING,
                        STR(plan, VPS_FIELD_SETTING | VPS_FIELD_VIEW | VPS_FIELD_OMIT_EMPTY),
                        .check = check_plan,
                        .view = view_plan,
                        .metavar = "NAME|none",
                        .help = "apply plan NAME (/etc/vps/plans/NAME.conf: its limits and "
                                "settings; the options given here override it); none for no "
                                "plan (create takes vpsd.conf's default_plan without it)"},
        /* Set by vpsctl migrate --keep-src through the API (no vpsctl option of its own). */
        [VPS_F_MIGRATED_TO] = {STR(migrated_to, VPS_FIELD_VIEW | VPS_FIELD_OMIT_EMPTY)},
};

const struct vps_field *vps_field_find(const char *key)
{
        for (unsigned int i = 0; i < VPS_F_COUNT; i++)
                if (strcmp(vps_fields[i].key, key) == 0)
                        return &vps_fields[i];
        return NULL;
}

int vps_field_load(const struct vps_field *f, json_t *v, struct vps_config *c, vps_error *err)
{
        int r = f->type == VPS_FT_CUSTOM ? f->load(v, c, err) : load_generic(f, v, c, err);
        return r < 0 || !f->check ? r : f->check(c, err);
}

json_t *vps_field_save(const struct vps_field *f, const struct vps_config *c)
{
        return f->type == VPS_FT_CUSTOM ? f->save(c) : save_generic(f, c);
}

json_t *vps_field_view(const struct vps_field *f, const struct vps_config *c)
{
        return f->view ? f->view(c) : vps_field_save(f, c);
}

int vps_config_from_json(const char *text, struct vps_config *ret, vps_error *err)
{
        json_error_t jerr;
        _cleanup_json_ json_t *o = json_loads(text, 0, &jerr);
        if (!json_is_object(o))
                return vps_err(err, EBADMSG, "config is not a JSON object: %s", jerr.text);
        struct vps_config c = {0};
        for (unsigned int i = 0; i < VPS_F_COUNT; i++) {
                const struct vps_field *f = &vps_fields[i];
                int r = vps_field_load(f, json_object_get(o, f->key), &c, err);
                if (r < 0)
                        return r;
        }
        *ret = c;
        return 0;
}

char *vps_config_to_json(const struct vps_config *c)
{
        _cleanup_json_ json_t *o = json_object();
        for (unsigned int i = 0; o && i < VPS_F_COUNT; i++) {
                json_t *v = vps_field_save(&vps_fields[i], c);
                if (v && json_object_set_new(o, vps_fields[i].key, v) < 0)
                        return NULL;
        }
        return o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
}

void vps_config_view(const struct vps_config *c, json_t *obj)
{
        for (unsigned int i = 0; obj && i < VPS_F_COUNT; i++)
                if (vps_fields[i].flags & VPS_FIELD_VIEW)
                        json_object_set_new(obj, vps_fields[i].key,
                                            vps_field_view(&vps_fields[i], c));
}

const char *const vps_step_names[VPS_STEP_COUNT] = {
        "limits",   "disk",  "addresses", "forwards",   "rate",
        "hostname", "guest", "save",      "userpasswd", "ssh_key",
};

/* The API keys that are no field of the config but have a vpsctl option, and "ip", which
 * vpsctl fills from --ipadd. */
static const struct {
        const char *key, *option;
} other_options[] = {
        {"ip", "ipadd"},        {"ipadd", "ipadd"},
        {"ipdel", "ipdel"},     {"userpasswd", "userpasswd"},
        {"ssh_key", "ssh-key"}, {"reset_counters", "reset-counters"},
        {"force", "force"},
};

const char *vps_field_option(const char *key, size_t len)
{
        for (size_t i = 0; i < sizeof(other_options) / sizeof(other_options[0]); i++)
                if (strlen(other_options[i].key) == len && !strncmp(other_options[i].key, key, len))
                        return other_options[i].option;
        for (unsigned int i = 0; i < VPS_F_COUNT; i++)
                if ((vps_fields[i].flags & VPS_FIELD_SETTING) && i != VPS_F_LIMITS &&
                    strlen(vps_fields[i].key) == len && !strncmp(vps_fields[i].key, key, len))
                        return vps_fields[i].key;
        for (unsigned int k = 0; k < VPS_LIM_COUNT; k++)
                if (strlen(vps_limit_info[k].name) == len &&
                    !strncmp(vps_limit_info[k].name, key, len))
                        return vps_limit_info[k].name;
        return NULL;
}
