/* A VPS's configuration (config.json, the truth) and its run state (state.json). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"
#include "config/limits.h"
#include "vps/util.h"

struct json_t;

#define VPS_UID_COUNT 65536u
#define VPS_MAX_IPS   16
#define VPS_IP_MAX    46 /* INET6_ADDRSTRLEN */

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
        char nameserver[4][VPS_IP_MAX];
        char searchdomain[256];         /* space separated */
        bool onboot;                    /* start when the host boots */
        int bootorder;                  /* higher starts earlier */
        unsigned int n_fwd;             /* port forwards from the host, "tcp:8080:80" */
        char forward[16][24];
        enum vps_netmode netmode;
        uint64_t rate;      /* bits per second both ways on its veth, 0: no limit */
        unsigned int n_dev; /* --devnodes granted beyond the default set ("tun", "fuse") */
        char devnodes[4][8];
        unsigned int features; /* VPS_FEAT_* bits */
        char plan[64];         /* the plan it was created with or last set to, "" for none */
};

#define VPS_NS_NONE    "none"    /* --nameserver none: no name server in the guest */
#define VPS_NS_INHERIT "inherit" /* --nameserver inherit: the host's (stored as []) */
/* True when cfg's nameserver list is ["none"]. */
bool vps_ns_none(const struct vps_config *cfg);

struct vps_state {
        pid_t pid;
        unsigned long long starttime;
        int64_t started_at;
        char cgroup[512]; /* absolute host path of the VPS cgroup */
};

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
