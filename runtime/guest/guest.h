/* The name servers a VPS inherits from the host (--nameserver inherit, the default): the
 * host's /etc/resolv.conf, and when that names a resolver on the host's loopback (the stub
 * of systemd-resolved at 127.0.0.53, a dnsmasq at 127.0.0.1), which a VPS in its own network
 * namespace cannot reach, the servers that stub asks (systemd-resolved's
 * /run/systemd/resolve/resolv.conf). Both paths are vpsd.conf settings. */
#pragma once

#include <stdbool.h>

#include "config/config.h"
#include "vps/error.h"

#define VPS_RESOLV_CONF_DEFAULT     "/etc/resolv.conf"
#define VPS_RESOLV_UPSTREAM_DEFAULT "/run/systemd/resolve/resolv.conf"
#define VPS_RESOLV_MAX_NS           4 /* the slots of vps_config.nameserver */
#define VPS_RESOLV_MAX_ENTRIES      16

/* One resolv.conf as read: its nameserver lines (canonical addresses, in order, without
 * duplicates; those with a %zone are left out) and its last search or domain line. */
struct vps_resolv_file {
        unsigned int n;
        char ns[VPS_RESOLV_MAX_ENTRIES][VPS_IP_MAX];
        char search[256]; /* the valid domains, space separated */
};

/* Parses resolv.conf text (pure: what the unit tests drive). */
void vps_resolv_parse(const char *text, struct vps_resolv_file *ret);

/* True for an address on the host's own loopback (127.0.0.0/8, ::1). */
bool vps_resolv_is_local(const char *addr);

/* The servers and search domains a VPS in mode (bridged VPSes have no IPv6: IPv6 servers
 * are left out for them) inherits from the host: conf's servers, a local one replaced by
 * upstream's (read only then). Fills cfg->nameserver, cfg->n_ns and, when cfg has no search
 * domains of its own, cfg->searchdomain. Returns the number of servers; an unreadable conf
 * is an error (cfg unchanged), an unreadable upstream only leaves its servers out. */
int vps_resolv_inherit(struct vps_config *cfg, const char *conf, const char *upstream,
                       vps_error *err);

/* The config whose files vpsd writes into the guest: cfg itself, or with the host's servers
 * when cfg inherits them. ret_why says (for a warning) why a VPS that inherits got no
 * server, "" when it got some or does not inherit. */
void vps_resolv_effective(const struct vps_config *cfg, const char *conf, const char *upstream,
                          struct vps_config *ret, char *ret_why, size_t why_size);

/* Logins of a guest set from the host (vzctl's --userpasswd, and --ssh-key): no agent in the
 * guest; every path resolved inside the guest's root, symlinks refused. */

#include <stddef.h>

struct vps_manager;
struct vps_inst;

/* A crypt(3) hash of password: yescrypt ($y$), else SHA-512 ($6$). */
int vps_hash_password(const char *password, char *out, size_t size, vps_error *err);
/* shadow with user's hash and last change (days since 1970) replaced: a new string. */
int vps_shadow_set(const char *shadow, const char *user, const char *hash, long days, char **ret,
                   vps_error *err);
/* authorized_keys text old with the OpenSSH public key lines of keys appended (each once). */
int vps_keys_add(const char *old, const char *keys, char **ret, vps_error *err);

/* What a login edit replaced in the guest (the file's old text, mode and owner, or that it
 * was not there, and the directories it made), kept so that a change that fails later can
 * put it back. */
struct vps_login_undo;

/* Checks the form of USER:PASSWORD (not whether the user exists in the guest). */
int vps_userpasswd_check(const char *spec, vps_error *err);
/* spec is USER:PASSWORD; the VPS may run or not. With ret_undo, what it replaces is kept
 * there (set even when it fails: it may have made directories), for vps_login_undo; the
 * caller frees it with vps_login_undo_free. */
int vps_manager_set_userpasswd(struct vps_manager *m, struct vps_inst *vi, const char *spec,
                               struct vps_login_undo **ret_undo, vps_error *err);
/* Appends keys (OpenSSH public key lines) to /root/.ssh/authorized_keys (0700/0600, root's);
 * ret_undo as for vps_manager_set_userpasswd. */
int vps_manager_add_ssh_keys(struct vps_manager *m, struct vps_inst *vi, const char *keys,
                             struct vps_login_undo **ret_undo, vps_error *err);
/* Puts back what u kept, in the VPS as it is now (running or stopped): the file byte for
 * byte with its mode and owner, or no file (a whiteout where one was), and no directory the
 * edit made. u may be NULL (nothing to do). */
int vps_login_undo(struct vps_manager *m, struct vps_inst *vi, const struct vps_login_undo *u,
                   vps_error *err);
/* Wipes the kept text and frees u (NULL: nothing). */
void vps_login_undo_free(struct vps_login_undo *u);

/* Files vpsd keeps inside a guest (/etc/hostname, /etc/hosts, /etc/resolv.conf), written
 * from outside the guest's control: resolved inside its root, never through a magic link or
 * into another mount, and replaced by rename so a planted symlink is replaced, not followed. */

#include <sys/types.h>

/* Writes dir/name under root_fd atomically; owner (uid, gid) unless uid is (uid_t)-1. */
int vps_guest_write_file(int root_fd, const char *dir, const char *name, const char *text,
                         mode_t mode, uid_t uid, gid_t gid, vps_error *err);

/* Brings /etc/hostname, /etc/hosts and /etc/resolv.conf in line with cfg (its nameservers
 * as they are: vps_resolv_effective has put the host's in for one that inherits them). owner: the
 * host uid of the guest's root for writes from the host side, or (uid_t)-1 from inside the VPS. */
int vps_guest_sync_files(int root_fd, const struct vps_config *cfg, uid_t owner, vps_error *err);

/* Runs fn in a child that has joined the user and mount namespaces of the running VPS whose
 * init is pid, as its root, with root_fd its "/"; the child's error comes back in err. The
 * child has a deadline (vps_ns_run): what says what it does, for the timeout's message. */
int vps_guest_run(pid_t pid, const char *id, const char *what,
                  int (*fn)(int root_fd, void *arg, vps_error *err), void *arg, vps_error *err);

/* The same for a running VPS, from inside its namespaces (vps_guest_run). */
int vps_guest_sync_running(pid_t pid, const struct vps_config *cfg, vps_error *err);
