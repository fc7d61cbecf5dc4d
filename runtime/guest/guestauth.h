/* Logins of a guest set from the host (vzctl's --userpasswd, and --ssh-key): no agent in the
 * guest; every path resolved inside the guest's root, symlinks refused. */
#pragma once

#include <stddef.h>

#include "vps/error.h"

struct vps_manager;
struct vps_inst;

/* A crypt(3) hash of password: yescrypt ($y$), else SHA-512 ($6$). */
int vps_hash_password(const char *password, char *out, size_t size, vps_error *err);
/* shadow with user's hash and last change (days since 1970) replaced: a new string. */
int vps_shadow_set(const char *shadow, const char *user, const char *hash, long days, char **ret,
                   vps_error *err);
/* authorized_keys text old with the OpenSSH public key lines of keys appended (each once). */
int vps_keys_add(const char *old, const char *keys, char **ret, vps_error *err);

/* Checks the form of USER:PASSWORD (not whether the user exists in the guest). */
int vps_userpasswd_check(const char *spec, vps_error *err);
/* spec is USER:PASSWORD; the VPS may run or not. */
int vps_manager_set_userpasswd(struct vps_manager *m, struct vps_inst *vi, const char *spec,
                               vps_error *err);
/* Appends keys (OpenSSH public key lines) to /root/.ssh/authorized_keys (0700/0600, root's). */
int vps_manager_add_ssh_keys(struct vps_manager *m, struct vps_inst *vi, const char *keys,
                             vps_error *err);
