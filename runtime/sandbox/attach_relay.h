/* libvps, internal to attach.c: the relay between vpsctl's own stdin, stdout and stderr and
 * a command it runs in a VPS. */
#pragma once

#include <signal.h>

/* What the relay works on. The pipe ends are the relay's: it closes them, the stdin pipe as
 * soon as the caller's stdin ends (the command then reads EOF). */
struct vps_relay {
        int in;     /* write end of the command's stdin pipe */
        int out;    /* read end of its stdout pipe */
        int err;    /* read end of its stderr pipe */
        int master; /* the pty master of exec -t and enter, or -1; the caller closes it */
        int pidfd;  /* the joining child (attach.c): it exits when the command has */
};

/* Blocks the signals the relay forwards to the command (SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * and SIGWINCH for a pty), leaving out any the caller ignores (nohup), before the joining
 * child is created; *ret_set is for vps_relay_run, *ret_old to restore afterwards. */
void vps_relay_block_signals(sigset_t *ret_set, sigset_t *ret_old);

/* Copies stdin to the command and its output to stdout and stderr, forwarding the signals in
 * set, until the joining child has exited and what the command wrote is out; with a master,
 * also until the pty's last slave is closed. Output that a background process writes after
 * the command has exited is not waited for. */
void vps_relay_run(struct vps_relay *r, const sigset_t *set);
