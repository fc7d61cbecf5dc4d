/* A VPS's configuration (config.json, the truth) and its run state (state.json). */
#pragma once

/* Resource limits of a VPS, with vzctl's option names: cgroup v2 (ram, swap, cpus, cpulimit,
 * cpuunits, numproc, cpumask, iolimit, iopslimit, ioprio, oompolicy) and project quotas
 * (diskspace, diskinodes). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

struct json_t;

#define VPS_LIMIT_NONE UINT64_MAX /* not set: no limit */

enum vps_limit_kind {
        VPS_LIM_RAM,
        VPS_LIM_SWAP,
        VPS_LIM_CPUS,
        VPS_LIM_CPULIMIT,
        VPS_LIM_CPUUNITS,
        VPS_LIM_NUMPROC,
        VPS_LIM_DISKSPACE,  /* SOFT[:HARD] bytes */
        VPS_LIM_DISKINODES, /* SOFT[:HARD] inodes */
        VPS_LIM_CPUMASK,    /* cpuset.cpus: the list is in cpumask, v is 1 when set */
        VPS_LIM_IOLIMIT,    /* bytes per second, each of read and write (io.max) */
        VPS_LIM_IOPSLIMIT,  /* operations per second, each of read and write (io.max) */
        VPS_LIM_IOPRIO,     /* 0 (lowest) to 7, vzctl's; io.weight */
        VPS_LIM_OOMPOLICY,  /* 0 "process", 1 "restart" (memory.oom.group) */
        VPS_LIM_COUNT
};

#define VPS_CPUMASK_MAX 128

struct vps_limits {
        uint64_t v[VPS_LIM_COUNT];     /* bytes, hundredths of CPUs, percent of one CPU, weight,
                                          processes, ...; the hard limit of a pair */
        uint64_t soft[VPS_LIM_COUNT];  /* the soft limit of a pair, else VPS_LIMIT_NONE */
        char cpumask[VPS_CPUMASK_MAX]; /* "0-3,6" when VPS_LIM_CPUMASK is set */
};

struct vps_limit_info {
        const char *name;       /* JSON key and vpsctl option without "--" */
        const char *controller; /* cgroup v2 controller that enforces it, NULL: a quota */
        bool size;              /* takes K/M/G/T suffixes */
        bool pair;              /* SOFT[:HARD], vzctl's barrier:limit */
        uint64_t min, max;
        unsigned int scale;       /* >1: a decimal number, kept times scale ("0.5" CPUs: 50) */
        const char *const *words; /* the value is one of these words (its index) */
        bool cpulist;             /* a list of CPUs, "0-3,6" */
        /* vpsctl's --NAME METAVAR and its help (the man page names it so too). */
        const char *metavar, *help;
};

/* What the host contributes to the cgroup files of the limits. */
struct vps_limit_host {
        unsigned int ncpu; /* online CPUs */
        char iodev[24];    /* "MAJ:MIN" of the disk holding the VPS storage, "" if none */
};

#define VPS_LIMIT_FILES_MAX 12
#define VPS_LIMIT_VALUE_MAX 160

extern const struct vps_limit_info vps_limit_info[VPS_LIM_COUNT];

void vps_limits_init(struct vps_limits *l);
/* Parses one value: a size or a number within the limit's range, or "unlimited". */
int vps_limit_parse(enum vps_limit_kind k, const char *text, uint64_t *ret, vps_error *err);
/* Parses SOFT[:HARD] of a pair limit ("unlimited" for none); SOFT alone sets both. */
int vps_limit_parse_pair(enum vps_limit_kind k, const char *text, uint64_t *soft, uint64_t *hard,
                         vps_error *err);
/* Is any of the disk quota limits set? */
bool vps_limits_have_disk(const struct vps_limits *l);
/* Applies a JSON object {"ram": "1G", "numproc": 100, "swap": "unlimited", ...} on top of l.
 * Unknown keys are refused. */
int vps_limits_update(struct vps_limits *l, struct json_t *obj, vps_error *err);
/* {"ram": 1073741824, "swap": null, "diskspace": {"soft": N, "hard": N}, ...} */
struct json_t *vps_limits_to_json(const struct vps_limits *l);
/* Reads the "limits" object of config.json (numbers or null). */
int vps_limits_from_json(struct vps_limits *l, struct json_t *obj, vps_error *err);
/* The text form of limit k of l ("0.5", "0-3", "restart", "1073741824"), for messages. */
void vps_limit_format(const struct vps_limits *l, enum vps_limit_kind k, char *buf, size_t size);
/* The cgroup files and values that enforce l: fills file[], value[] and the controller of
 * each, returns how many. With old (the limits in force), a limit that l removes is written
 * back to its default ("max", cpu.weight 100, an empty cpuset, oom.group 0). */
int vps_limits_files(const struct vps_limits *l, const struct vps_limits *old,
                     const struct vps_limit_host *host, const char *file[VPS_LIMIT_FILES_MAX],
                     char value[VPS_LIMIT_FILES_MAX][VPS_LIMIT_VALUE_MAX],
                     const char *controller[VPS_LIMIT_FILES_MAX]);

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/util.h"

struct json_t;

#define VPS_UID_COUNT     65536u
#define VPS_MAX_IPS       16
#define VPS_IP_MAX        46      /* INET6_ADDRSTRLEN */
#define VPS_MAX_NS        4       /* name servers */
#define VPS_MAX_FWD       16      /* port forwards */
#define VPS_FWD_MAX       24      /* "tcp:65535:65535" and its NUL, with room */
#define VPS_BOOTORDER_MAX 1000000 /* --bootorder within +-this */

enum vps_netmode {
        VPS_NET_BRIDGED, /* on vpsd's bridge, private subnet, NAT */
        VPS_NET_ROUTED,  /* own public addresses routed to its veth, proxy ARP/NDP */
};

/* "bridged", "routed" */
const char *vps_netmode_name(enum vps_netmode mode);
int vps_netmode_parse(const char *s, enum vps_netmode *ret, vps_error *err);

/* --features: what a provider may sell beyond the default profile (vzctl's --features), as
 * bits of vps_config.features. They change only while the VPS is stopped. */
enum vps_feature {
        VPS_FEAT_TUN = 1u << 0,      /* /dev/net/tun, as --devnodes tun grants it */
        VPS_FEAT_FUSE = 1u << 1,     /* /dev/fuse, as --devnodes fuse grants it */
        VPS_FEAT_NESTING = 1u << 2,  /* containers inside: the keyring syscalls, and a proc and
                                      * a sysfs nothing covers under /dev/.vps (mounts.c) */
        VPS_FEAT_IO_URING = 1u << 3, /* the io_uring syscalls, denied by default (security.c) */
};
#define VPS_FEAT_ALL          (VPS_FEAT_TUN | VPS_FEAT_FUSE | VPS_FEAT_NESTING | VPS_FEAT_IO_URING)
#define VPS_FEATURES_TEXT_MAX 48 /* "tun,fuse,nesting,io_uring" and its NUL, with room */

/* A --features argument: the features it turns on and those it turns off. */
struct vps_features_change {
        unsigned int on, off;
};

/* The name of one feature bit ("tun", "fuse", "nesting", "io_uring"), NULL for anything
 * else. */
const char *vps_feature_name(unsigned int bit);
/* Parses "fuse:on,tun:on,nesting:off" (NAME:on|off items, comma separated; a bare NAME is
 * on; "none", alone, turns every feature off). Unknown names, values other than on and off,
 * empty items and a feature both on and off are refused with a one-line message. */
int vps_features_parse(const char *text, struct vps_features_change *ret, vps_error *err);
/* The features after applying change to cur: the ones named change, the others stay. */
unsigned int vps_features_apply(unsigned int cur, const struct vps_features_change *change);
/* "tun,fuse,nesting,io_uring" order, comma separated; "" when none. */
void vps_features_format(unsigned int features, char buf[VPS_FEATURES_TEXT_MAX]);
/* ["tun", "nesting"], as config.json and the API show them. */
struct json_t *vps_features_to_json(unsigned int features);
/* Reads such an array (NULL: none, for a config.json older than --features). */
int vps_features_from_json(struct json_t *arr, unsigned int *ret, vps_error *err);

struct vps_config {
        char id[VPS_ID_MAX + 1];
        char ostemplate[VPS_ID_MAX + 1];
        char hostname[VPS_HOSTNAME_MAX + 1];
        uint32_t uid_base; /* first host uid and gid of the VPS's range */
        uint32_t uid_count;
        uint32_t projid; /* disk quota project of upper/ and work/, 0: none */
        int64_t created_at;
        struct vps_limits limits;
        unsigned int n_ip; /* addresses of the VPS, without prefix ("10.88.0.5") */
        char ip[VPS_MAX_IPS][VPS_IP_MAX];
        /* For the guest's /etc/resolv.conf: none (config.json []) inherits the host's
         * (resolv.h), the default; ["none"] alone (vps_ns_none) writes none. */
        unsigned int n_ns;
        char nameserver[VPS_MAX_NS][VPS_IP_MAX];
        char searchdomain[256]; /* space separated */
        bool onboot;            /* start when the host boots */
        int bootorder;          /* higher starts earlier */
        unsigned int n_fwd;     /* port forwards from the host, "tcp:8080:80" */
        char forward[VPS_MAX_FWD][VPS_FWD_MAX];
        enum vps_netmode netmode;
        uint64_t rate;      /* bits per second both ways on its veth, 0: no limit */
        unsigned int n_dev; /* --devnodes granted beyond the default set ("tun", "fuse") */
        char devnodes[4][8];
        unsigned int features; /* VPS_FEAT_* bits */
        char plan[64];         /* the plan it was created with or last set to, "" for none */
        /* `vpsctl migrate --keep-src`: the destination its copy went to; start refuses it
         * (start --force clears it), "" for none. */
        char migrated_to[256];
};

#define VPS_NS_NONE    "none"    /* --nameserver none: no name server in the guest */
#define VPS_NS_INHERIT "inherit" /* --nameserver inherit: the host's (stored as []) */
/* True when cfg's nameserver list is ["none"]. */
bool vps_ns_none(const struct vps_config *cfg);

struct vps_state {
        pid_t pid;
        unsigned long long starttime;
        uint64_t pidfd_ino; /* the init's pidfs inode number (0: unknown): its identity */
        int64_t started_at;
        char cgroup[512]; /* absolute host path of the VPS cgroup */
        bool paused;      /* vpsctl pause: its cgroup frozen until vpsctl unpause */
};

/* The field table: one row per field of struct vps_config, which config.json's load and
 * save and the API's view of a VPS read (runtime/config/fields.c). The enum's order is the
 * order config.json is checked in and the view shows the fields. */
enum vps_field_id {
        VPS_F_ID,
        VPS_F_OSTEMPLATE,
        VPS_F_HOSTNAME,
        VPS_F_UID_BASE,
        VPS_F_UID_COUNT,
        VPS_F_CREATED_AT,
        VPS_F_IP,
        VPS_F_LIMITS,
        VPS_F_PROJID,
        VPS_F_NAMESERVER,
        VPS_F_SEARCHDOMAIN,
        VPS_F_FORWARD,
        VPS_F_ONBOOT,
        VPS_F_BOOTORDER,
        VPS_F_NETMODE,
        VPS_F_RATE,
        VPS_F_DEVNODES,
        VPS_F_FEATURES,
        VPS_F_PLAN,
        VPS_F_MIGRATED_TO,
        VPS_F_COUNT
};

enum vps_field_type {
        VPS_FT_STR,    /* char[size] at off */
        VPS_FT_LIST,   /* char[max][size] at off, how many in the unsigned int at count_off */
        VPS_FT_CUSTOM, /* load and save */
};

#define VPS_FIELD_REQUIRED      (1u << 0) /* config.json must have it */
#define VPS_FIELD_SETTING       (1u << 1) /* create and set take it (the API, vpsctl's options) */
#define VPS_FIELD_VIEW          (1u << 2) /* vps_config_view shows it */
#define VPS_FIELD_ADDRESSES     (1u << 3) /* a LIST of IP addresses */
#define VPS_FIELD_OMIT_EMPTY    (1u << 4) /* a STR config.json leaves out when "" */
#define VPS_FIELD_STOPPED_GIVEN (1u << 5) /* refused on a running VPS even when unchanged */
#define VPS_FIELD_GUEST         (1u << 6) /* changing it enters a running guest */

/* How vpsctl's create and set take a field, as --KEY VALUE (the option is the key). */
enum vps_field_cli {
        VPS_CLI_NONE,       /* not a setting option (or one each command has its own way) */
        VPS_CLI_STRING,     /* "KEY": "VALUE" */
        VPS_CLI_LIST,       /* repeatable: "KEY": ["VALUE", ...] */
        VPS_CLI_LIST_CLEAR, /* the same, with none for [] */
        VPS_CLI_YESNO,      /* yes or no: "KEY": true or false */
        VPS_CLI_INT,        /* a number: "KEY": N */
};

struct vps_field {
        const char *key; /* in config.json and the API */
        enum vps_field_cli cli;
        enum vps_field_type type;
        unsigned int flags;
        size_t off, msize; /* the member of struct vps_config */
        size_t size;       /* STR: its size; LIST: an entry's */
        size_t count_off;  /* a list's count (LIST, and a CUSTOM list), else 0 */
        unsigned int max;  /* LIST: entries */
        /* Changes only while the VPS is stopped: how the refusal names it ("its netmode"). */
        const char *stopped;
        /* CUSTOM: the value in config.json (NULL when absent) into c, and back (NULL: left
         * out of config.json). */
        int (*load)(struct json_t *v, struct vps_config *c, vps_error *err);
        struct json_t *(*save)(const struct vps_config *c);
        /* What the view shows when it differs from config.json's form, or NULL. */
        struct json_t *(*view)(const struct vps_config *c);
        /* Checked once loaded, or NULL. */
        int (*check)(const struct vps_config *c, vps_error *err);
        /* With cli: vpsctl's --KEY METAVAR and its help (the man page names it so too). */
        const char *metavar, *help;
};

extern const struct vps_field vps_fields[VPS_F_COUNT];
const struct vps_field *vps_field_find(const char *key);
/* One field of config.json (v NULL when absent) into c, checked. */
int vps_field_load(const struct vps_field *f, struct json_t *v, struct vps_config *c,
                   vps_error *err);
/* The config.json form of one field of c, NULL when config.json leaves it out. */
struct json_t *vps_field_save(const struct vps_field *f, const struct vps_config *c);
/* The form the API's view of a VPS shows. */
struct json_t *vps_field_view(const struct vps_field *f, const struct vps_config *c);
/* The vpsctl option (without "--") of the API key of len bytes at key ("ssh_key": "ssh-key",
 * "ram": "ram"), NULL when it has none. API messages name fields by their keys, quoted
 * ('ram'); vpsctl shows them as its options. */
const char *vps_field_option(const char *key, size_t len);
/* Adds the VPS_FIELD_VIEW fields of c to obj. */
void vps_config_view(const struct vps_config *c, struct json_t *obj);

/* A JSON string of less than size bytes into dst (absent or null: "", or refused when
 * required), and an integer within min and max: the value v of key, for messages. */
int vps_json_get_str(struct json_t *v, const char *key, char *dst, size_t size, bool required,
                     vps_error *err);
int vps_json_get_int(struct json_t *v, const char *key, long long min, long long max,
                     long long *ret, vps_error *err);

/* A change set: the fields a create or a set gives, with their values (read from an API
 * body by vps_change_from_json); vps_config_next makes the new config of it. */
struct vps_change {
        bool create;
        uint32_t given;         /* 1u << VPS_F_* of the fields given */
        struct vps_config v;    /* their values, checked (forwards canonical once the manager
                                 * has checked them against the addresses) */
        const char *userpasswd; /* USER:PASSWORD, or NULL (set only; body-owned) */
        const char *ssh_keys;   /* public key lines, or NULL (set only; body-owned) */
        bool force;             /* forwards may take host ports below 1024 */
        bool reset_counters;    /* set: zero the traffic totals */
};

#define VPS_CHANGE_GIVEN(ch, f) (((ch)->given >> (f)) & 1u)

/* Reads a create (POST /v1/vps) or set (PATCH) body into ret against the config cur (the
 * defaults on create), every value checked on its own. The body must outlive ret. */
int vps_change_from_json(struct json_t *body, const struct vps_config *cur, bool create,
                         struct vps_change *ret, vps_error *err);
/* Whether a create or set body may hold key. */
bool vps_change_key_known(const char *key, bool create);

/* What a change needs done, in this order (vps_manager_update applies them, each with its
 * undo, then saves once). */
#define VPS_STEP_LIMITS     (1u << 0) /* the running VPS's cgroup files */
#define VPS_STEP_DISK       (1u << 1) /* the project quota of its files */
#define VPS_STEP_ADDRESSES  (1u << 2) /* eth0's addresses, routes, proxy entries, filter */
#define VPS_STEP_FORWARDS   (1u << 3) /* the port forwards (they follow the first address) */
#define VPS_STEP_RATE       (1u << 4) /* the veth's rate limit */
#define VPS_STEP_HOSTNAME   (1u << 5) /* its UTS namespace's hostname */
#define VPS_STEP_GUEST      (1u << 6) /* its /etc/hostname, /etc/hosts, /etc/resolv.conf */
#define VPS_STEP_SAVE       (1u << 7) /* config.json */
#define VPS_STEP_USERPASSWD (1u << 8) /* /etc/shadow (no undo: run last) */
#define VPS_STEP_SSH_KEY    (1u << 9) /* /root/.ssh/authorized_keys (no undo: run last) */
#define VPS_STEP_COUNT      10
/* The names of the steps ("limits", ... "save"), as VPS_TEST_FAIL_STEP takes them. */
extern const char *const vps_step_names[VPS_STEP_COUNT];

/* The config a change makes of cur (pure: nothing is read or written), and the steps that
 * apply it (live ones only when running). Refuses what needs the VPS stopped while it runs,
 * and removing its last address while it has forwards. */
int vps_config_next(const struct vps_config *cur, bool running, const struct vps_change *ch,
                    struct vps_config *ret, unsigned int *ret_steps, vps_error *err);
/* Whether field id differs between a and b (as config.json would show it). */
bool vps_config_field_differs(const struct vps_config *a, const struct vps_config *b,
                              enum vps_field_id id);

/* Parses config.json text; every field is validated. */
int vps_config_from_json(const char *text, struct vps_config *ret, vps_error *err);
/* The JSON text of a config (caller frees). */
char *vps_config_to_json(const struct vps_config *cfg);
int vps_config_load(int vps_dir_fd, struct vps_config *ret, vps_error *err);
int vps_config_save(int vps_dir_fd, const struct vps_config *cfg, vps_error *err);
/* Saves cfg with its features replaced by features; cfg changes only once that is on disk.
 * The caller checks that the VPS is stopped. */
int vps_config_set_features(int vps_dir_fd, struct vps_config *cfg, unsigned int features,
                            vps_error *err);
/* Saves cfg with its plan's name replaced by plan ("" for none), likewise. */
int vps_config_set_plan(int vps_dir_fd, struct vps_config *cfg, const char *plan, vps_error *err);

int vps_state_from_json(const char *text, struct vps_state *ret, vps_error *err);
char *vps_state_to_json(const struct vps_state *st);
/* The run state of a running VPS, the file name in dfd (the manager's run directory on /run,
 * see manager.h; "state.json" in the VPS's directory for what an older vpsd wrote).
 * Loads it: returns 0 and fills *ret, or -ENOENT when the VPS has no state. */
int vps_state_load(int dfd, const char *name, struct vps_state *ret, vps_error *err);
int vps_state_save(int dfd, const char *name, const struct vps_state *st, vps_error *err);
int vps_state_remove(int dfd, const char *name, vps_error *err);

/* Plans: named sets of limits and settings a provider sells (vzctl's sample configs), one file
 * per plan, PLANS_DIR/NAME.conf, of KEY="VALUE" lines whose keys are vpsctl's option names
 * (RAM="1G", NUMPROC="512", DISKSPACE="10G:11G", RATE="100mbit", FEATURES="tun", ONBOOT="yes").
 * A plan becomes the API body fields it stands for; the request's own fields override it. */

#include <stdbool.h>

struct json_t;

#define VPS_PLAN_NAME_MAX     63
#define VPS_DEFAULT_PLANS_DIR "/etc/vps/plans"
#define VPS_PLAN_FILE_MAX     (64 * 1024)

/* Letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 bytes; "none"
 * is no plan and refused here. */
int vps_plan_name_check(const char *name, vps_error *err);
/* Parses the text of plan name (where: "FILE" for messages) into the body fields it sets:
 * {"limits": {"ram": "1G", ...}, "rate": "100mbit", "features": "tun", "devnodes": "tun",
 * "onboot": true}. Every value is checked as the option would check it; an unknown key, a
 * key given twice, a line that is not KEY="VALUE" or a bad value is refused, naming the line. */
int vps_plan_parse(const char *where, const char *text, struct json_t **ret, vps_error *err);
/* Reads and parses dir/NAME.conf (resolved beneath dir: a plan never names a file outside). */
int vps_plan_load(const char *dir, const char *name, struct json_t **ret, vps_error *err);
/* The body a request means with plan fields under it: a new object holding plan's fields, the
 * request's on top (its "limits" merged key by key). The "plan" key itself is left out. */
struct json_t *vps_plan_merge(struct json_t *plan, struct json_t *request);
/* The body a create (create true) or a PATCH means: its "plan" field (a name, or "none" for no
 * plan; absent: default_plan on create, no change on PATCH) loaded from dir and merged under
 * the request. *ret_body is a new reference (the request itself when no plan applies);
 * ret_plan gets the plan's name, "" for none; *ret_given says whether the body names a plan
 * (or create's default applied). A bad or unknown plan is refused with nothing changed. */
int vps_plan_body(const char *dir, const char *default_plan, struct json_t *request, bool create,
                  char ret_plan[VPS_PLAN_NAME_MAX + 1], bool *ret_given, struct json_t **ret_body,
                  vps_error *err);

/* vpsd.conf: vpsd's settings file (/etc/vps/vpsd.conf), "key = value" lines. The command
 * line and the environment override it; it overrides the built-in defaults. */

#include <stdbool.h>
#include <stdint.h>

#define VPS_DEFAULT_CONF "/etc/vps/vpsd.conf"

struct vps_daemon_conf {
        char root[400];          /* root = DIR */
        char socket[108];        /* socket = PATH */
        char cgroup_parent[256]; /* cgroup_parent = PATH */
        char bridge[16];         /* bridge = NAME */
        char subnet[64];         /* subnet = CIDR */
        int enforce_warn;        /* enforce_limits = strict|warn; -1 when not set */
        char debian_mirror[256]; /* debian_mirror = URL, for template builds */
        char netmode[16];        /* netmode = bridged|routed, of new VPSes */
        char uplink[16];         /* uplink = IFNAME, where routed mode answers ARP/NDP */
        char mtu[8];             /* mtu = N, of every VPS veth (default: the uplink's) */
        char announce[16];       /* announce = migrated|always|never (default migrated) */
        char lxcfs[256];         /* lxcfs = DIR|off, LXCFS mount (default /var/lib/lxcfs) */
        /* guest_timeout = S: how long a change that enters a running guest may take (its
         * files, its hostname, its eth0); 0: not set (VPS_GUEST_TIMEOUT_DEFAULT) */
        unsigned int guest_timeout;
        /* criu_timeout = S: how long a criu dump (a suspend, an online migration's source) or
         * restore (a resume) may take before criu is killed; 0: not set
         * (VPS_CRIU_TIMEOUT_DEFAULT) */
        unsigned int criu_timeout;
#define VPS_CRIU_TIMEOUT_DEFAULT 300
#define VPS_CRIU_TIMEOUT_MAX     86400
        /* cgroup_max_depth, cgroup_max_descendants = N|max: bounds of each guest's cgroup tree
         * (-1: max; -2: not set, the defaults of cgroup.h) */
        long long cg_max_depth, cg_max_descendants;
        /* cgroup_remove_ms = MS: how long a stop may remove cgroups in vpsd's loop (0: not
         * set, VPS_CG_REMOVE_MS_DEFAULT) */
        unsigned int cg_remove_ms;
        /* The numbers below are 0 when not set (vpsd then uses its defaults). */
        /* restart_burst = N, restart_interval = S, restart_delay_max = S: restarts a guest
         * asks for beyond N within S seconds wait, 1 s doubling up to restart_delay_max. */
        unsigned int restart_burst, restart_interval, restart_delay_max;
        /* log_burst = N, log_interval = S: a log message repeated more than N times in S
         * seconds is counted, not written; log_max_size = SIZE, log_keep = N: ROOT/vpsd.log
         * moves to vpsd.log.1 (and on up to .N) when it reaches SIZE. */
        unsigned int log_burst, log_interval, log_keep;
        uint64_t log_max_size;
        unsigned int devpts_max; /* devpts_max = N, ptys per VPS; 0 when not set */
        char host_allow[512];    /* host_allow = tcp:22,udp:53|none, host ports VPSes reach */
        char plans_dir[256];     /* plans_dir = DIR, of the plan files (default /etc/vps/plans) */
        char default_plan[64];   /* default_plan = NAME|none, of a create without --plan */
        /* default_numproc = N|unlimited: pids.max of a VPS without --numproc; -1 when not set,
         * 0 for unlimited */
        long long default_numproc;
        /* resolv_conf = PATH, resolv_conf_upstream = PATH: where VPSes that inherit the
         * host's name servers take them from (resolv.h); "" for the defaults */
        char resolv_conf[256], resolv_upstream[256];
        /* listen = ADDR:PORT: the remote API (HTTPS), off when ""; listen_client_limit = N:
         * connections at once from one client address (0: not set, 256) */
        char listen[128];
        unsigned int listen_client_limit;
        /* token_rate = N requests a second per token, token_burst = N at once (0: not set,
         * 10 and 50); events_queue = N lines queued per event subscriber before it is dropped
         * (0: not set, 256) */
        unsigned int token_rate, token_burst, events_queue;
        /* start_parallel = N: API starts in flight at once, more wait their turn (0: not set,
         * vpsd's default) */
        unsigned int start_parallel;
        /* token_snapshots = N: snapshots of a VPS its customers' tokens may keep (0: not set,
         * vpsd's default) */
        unsigned int token_snapshots;
        /* cluster = URL[,URL...]: etcd's client endpoints, this vpsd a node of a fleet
         * (docs/fleet.md); node = NAME (default: the short host name); advertise = URL where
         * other nodes reach this one's API; cluster_ttl = S, its lease (default 15);
         * cluster_prefix = /P/ of its keys (default /vps/v1/); cluster_cacert, cluster_cert,
         * cluster_key = PATH: TLS to etcd */
        char cluster[1024], node[64], advertise[256], cluster_prefix[128];
        char cluster_cacert[256], cluster_cert[256], cluster_key[256];
        unsigned int cluster_ttl;
};

/* The safe defaults of a VPS that names no plan and no limit (vpsctl(8) PLANS): at most
 * 4096 processes and threads, and 1024 ptys, unless vpsd.conf says otherwise. */
#define VPS_DEFAULT_NUMPROC    4096u
#define VPS_DEFAULT_DEVPTS_MAX 1024u
/* Those vpsd runs with (runtime/core/defaults.c makes them from vpsd.conf). */
struct vps_defaults {
        uint64_t numproc;  /* pids.max of a VPS without numproc of its own; 0: none */
        unsigned int ptys; /* the max= of every VPS's /dev/pts */
};
#define VPS_DEVPTS_MAX_LIMIT 1048576u

/* Every key vpsd.conf takes (vpsd --help lists them); NULL ends it. */
extern const char *const vps_daemon_conf_keys[];

/* Empty strings and enforce_warn = -1: nothing set. */
void vps_daemon_conf_init(struct vps_daemon_conf *c);
/* Parses text (the file's contents); name is used in messages ("FILE:LINE: ..."). Blank lines
 * and lines starting with # are skipped; an unknown key or a bad value is an error. */
int vps_daemon_conf_parse(struct vps_daemon_conf *c, const char *name, const char *text,
                          vps_error *err);
/* Reads and parses path; a missing file is no error unless must_exist. */
int vps_daemon_conf_load(struct vps_daemon_conf *c, const char *path, bool must_exist,
                         vps_error *err);

/* Which devices a VPS may use: a cgroup v2 eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * on its cgroup denies every device but null, zero, full, random, urandom, tty, console,
 * ptmx and the pty slaves, plus the nodes --devnodes grants (tun for VPN customers, fuse)
 * and those --features tun and fuse grant: a VPS gets the union of the two.
 * It holds for every process in the cgroup, the guest's sub-cgroups and exec'd commands
 * included, whatever node they reach; the guest cannot replace it (bpf(2) needs the host's
 * CAP_BPF, and the seccomp filter denies it). */

#include <stddef.h>
#include <stdint.h>

#define VPS_MAX_DEVNODES 4

struct vps_config;

/* A device --devnodes may grant: its name, path under /dev, char major:minor, and the
 * --features bit (VPS_FEAT_*) that grants it as well. */
struct vps_devnode {
        const char *name;
        const char *path;
        uint32_t major, minor;
        unsigned int feature;
};

/* The grantable devices: "tun" (/dev/net/tun), "fuse" (/dev/fuse). NULL if unknown. */
const struct vps_devnode *vps_devnode_find(const char *name);
/* Checks and canonicalises a --devnodes list ("tun,fuse", "none"): fills names[], returns
 * how many. */
int vps_devnodes_parse(const char *text, char names[VPS_MAX_DEVNODES][8], vps_error *err);
/* The devices cfg grants beyond the default set: its --devnodes and the ones its --features
 * imply, each once. Fills names[], returns how many. */
/* The char devices every VPS has under one (major, minor) (null, zero, full, random,
 * urandom, tty, console, ptmx; not the pty slaves, which devpts makes): at most max into out,
 * how many. What a restored tree may hold besides whiteouts. */
size_t vps_devices_every_vps(unsigned int out[][2], size_t max);
unsigned int vps_devnodes_effective(const struct vps_config *cfg, char names[VPS_MAX_DEVNODES][8]);

/* Makes the nodes cfg grants (vps_devnodes_effective) in DIR/devnodes (vps_dir_fd:
 * ROOT/vps/ID), owned by the VPS's root, on the host's filesystem: nodes on a filesystem
 * mounted in the VPS's user namespace could not be opened (nodev), and the host's own may be
 * root's only. The start child binds them into the guest's /dev. */
int vps_devnodes_prepare(int vps_dir_fd, const struct vps_config *cfg, vps_error *err);

/* Loads the device program allowing the default set plus the named devnodes and attaches
 * it to the cgroup (no override below it). */
int vps_devices_attach(int cgroup_fd, char names[][8], unsigned int n, vps_error *err);
