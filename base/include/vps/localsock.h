/* vpsd's local sockets (the API, the console keeper, sysinfo): each is a path in a directory
 * only root can enter, and each end checks the other's credentials (SO_PEERCRED), so neither
 * another host user nor a listener planted before vpsd's is ever talked to. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vps/error.h"

/* Where the run state of VPSes lives (tmpfs on every systemd host). */
#define VPS_RUN_DIR "/run/vps"

/* The run directory of a state root, VPS_RUN_DIR/state-DEV-INO (DEV and INO of root),
 * created if missing, owned by root and mode 0700; refused if someone else owns it or
 * VPS_RUN_DIR. Its path goes into ret_path (at least 64 bytes) when not NULL. */
int vps_run_dir_open(const char *root, char *ret_path, size_t size, vps_error *err);

/* The uid of the process at the other end of a connected Unix socket (for a client: of
 * the process that called listen()), or -1. */
uid_t vps_sock_peer_uid(int fd);

/* Whether the other end is host root (uid 0 in the initial user namespace: a user
 * namespace's root is seen as the host uid it maps to). */
bool vps_sock_peer_is_root(int fd);

/* Binds and listens on path (type: SOCK_STREAM, SOCK_SEQPACKET with SOCK_CLOEXEC...),
 * replacing a stale socket file: for a directory only this process may write to (the run
 * directory, under the root's lock). The socket file is 0600. */
int vps_sock_listen_path(const char *path, int type, int backlog, vps_error *err);

/* Connects to path and makes sure host root listens there; what names the socket in
 * errors ("vpsd's sysinfo socket"). */
int vps_sock_connect_root(const char *path, int type, const char *what, vps_error *err);
