/* Running a process inside a running VPS (vpsctl exec / enter). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vps/error.h"

struct vps_attach_target {
        pid_t pid;                    /* host PID of the VPS init */
        unsigned long long starttime; /* its /proc/PID/stat start time, to refuse a reused PID */
        const char *cgroup;           /* absolute host path of the VPS cgroup, or NULL */
};

struct vps_attach_opts {
        char *const *argv; /* command and arguments; argv[0] is looked up in PATH */
        bool pty;          /* give the command a new pty inside the VPS and relay
                            * the caller's terminal to it (enter, exec -t); without it, its
                            * stdin, stdout and stderr are pipes relayed to the caller's */
        const char *cwd;   /* working directory inside; NULL means "/" or $HOME */
        int sysinfo_sock;  /* connected to vpsd's sysinfo socket: the command's sysinfo(2)
                            * is answered by vpsd (its listener is handed over); -1: the
                            * command sees the host's sysinfo */
};

/* Connects to vpsd's sysinfo socket (its path, as GET /v1/vps/ID gives it), checking that
 * host root listens there: the command's seccomp listener goes to no one else. */
int vps_attach_sysinfo_connect(const char *path, vps_error *err);

/* Runs argv inside the VPS and waits for it. On success returns 0 and stores in
 * *ret_status the command's exit code as a shell reports it (128 + N when killed by
 * signal N). No fd of the caller's enters the VPS: the command runs in a session of its own
 * with pipes (or a pty of the guest's) as its stdio, which this call relays to and from the
 * caller's stdin, stdout and stderr; SIGINT, SIGTERM, SIGHUP and SIGQUIT that the caller
 * receives meanwhile go to the command's process group. */
int vps_attach_run(const struct vps_attach_target *target, const struct vps_attach_opts *opts,
                   int *ret_status, vps_error *err);
