/* vpsctl's ssh transport (vzmigrate's): a destination [user@]host[:port] checked, and the
 * destination's vpsctl run through ssh with an argv (each word quoted for the remote shell). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vps/error.h"

#define SSH_MAX_OPTS 16

struct ssh_dest {
        char name[300];                 /* DEST as given, for messages */
        char target[300];               /* [user@]host as ssh takes it */
        char port[6];                   /* "" for ssh's default */
        const char *opts[SSH_MAX_OPTS]; /* --ssh-option values, each passed as -o VALUE */
        size_t n_opts;
        const char *vpsctl; /* the destination's vpsctl (default "vpsctl") */
        const char *socket; /* the destination's vpsd socket, or NULL for its default */
};

/* Checks DEST ([user@]host[:port], host a name, an IPv4 address or [IPv6]) into d. */
int ssh_dest_parse(const char *s, struct ssh_dest *d, vps_error *err);

/* Spawns ssh running the destination's vpsctl with args (NULL-terminated): stdin from in_fd
 * (-1: /dev/null), stdout and stderr into out_fd and err_fd. */
int ssh_spawn(const struct ssh_dest *d, const char *const *args, int in_fd, int out_fd, int err_fd,
              pid_t *ret_pid, vps_error *err);

/* Waits for it: its exit status (ssh's own failures are 255), or 128 + a signal. */
int ssh_wait(pid_t pid);

/* One remote vpsctl command run to its end: its exit status in *ret_status, its stdout in
 * *ret_out (may be NULL) and the last line of its stderr in ret_why (without "vpsctl: "). */
int ssh_run(const struct ssh_dest *d, const char *const *args, int *ret_status, char **ret_out,
            char *ret_why, size_t why_size, vps_error *err);

/* The last non-empty line of what fd (a memfd, read from its start) holds, "vpsctl: " cut. */
void ssh_last_line(int fd, char *buf, size_t size);

/* One connection for a series of commands (OpenSSH's ControlMaster): after ssh_mux_begin the
 * first ssh to d becomes the master and stays in the background (ControlPersist, 30 s idle),
 * and the later ones go through it without a handshake of their own (an online migration's
 * steps after the freeze). Its socket is in a private directory (0700) of this vpsctl's;
 * ssh_mux_end asks the master to exit and removes it. */
struct ssh_mux {
        char dir[64];
        char path_opt[96]; /* "ControlPath=DIR/cm" */
        bool on;
};
int ssh_mux_begin(struct ssh_dest *d, struct ssh_mux *x, vps_error *err);
void ssh_mux_end(struct ssh_dest *d, struct ssh_mux *x);
