/* vpsctl: the remotes (`vpsctl remote add|list|remove`, `--remote NAME`, VPSCTL_REMOTE), kept
 * in the user's config dir, $XDG_CONFIG_HOME/vpsctl/remotes.json (else ~/.config/...), 0600
 * in a 0700 directory: each one's URL, credentials (a token, or the paths of a client
 * certificate and key) and the server certificate's fingerprint and public key pinned at
 * first contact. */
#pragma once

#include <jansson.h>

#include "client.h"
#include "vps/error.h"

/* The name that means vpsd's local socket (`--remote local` over VPSCTL_REMOTE). */
#define REMOTE_LOCAL    "local"
#define REMOTE_NAME_MAX 63

/* [A-Za-z0-9][A-Za-z0-9._-]{0,62}, not "local". */
int remote_name_check(const char *name, vps_error *err);
/* "https://HOST:PORT" (HOST a name, an IPv4 address or [IPv6]; a trailing '/' allowed;
 * nothing else: no path, user, query) as *ret, malloc'd, in the form libcurl reads back. */
int remote_url_normalize(const char *url, char **ret, vps_error *err);
/* A fingerprint as `vpsd --fingerprint` prints it, or with colons, any case: 64 lowercase
 * hex digits into ret. */
int remote_fingerprint_normalize(const char *fp, char ret[CLIENT_FP_LEN], vps_error *err);

/* The path of remotes.json into buf. */
int remotes_path(char *buf, size_t size, vps_error *err);
/* Reads remotes.json: {"remotes": {NAME: {...}}} ({} when there is none yet). A file that
 * is not the user's, or that others may read or write, is refused, as is a malformed one. */
int remotes_load(json_t **ret, vps_error *err);
/* Writes it back atomically, 0600 (the directory made 0700 when missing). */
int remotes_save(json_t *all, vps_error *err);

/* The target of remote name in all (pointing into all, which must outlive it). ENOENT
 * "no remote NAME" when it is not there. */
int remote_target(json_t *all, const char *name, struct client_target *ret, vps_error *err);
