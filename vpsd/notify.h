/* notify.c: sysinfo(2) of VPS processes: the loop's side (listeners handed to the sysinfo
 * thread, the VPSes' plans published to it, the re-exec). */
#pragma once

#include <stddef.h>

#include "vps/error.h"

struct vpsd;

/* The hand-over to the thread, made before anything gives it a listener. */
int vpsd_notify_init(struct vpsd *d, vps_error *err);
/* Serves a listener from now on (takes the fd). */
void vpsd_notify_add(struct vpsd *d, int listener);
/* The socket vpsctl hands exec listeners to (RUN_DIR/sysinfo.sock), and the sysinfo thread,
 * which serves it and every listener. Without the socket (logged) the thread still serves the
 * inits; an error is returned only when the thread cannot start. */
int vpsd_notify_start(struct vpsd *d, vps_error *err);
/* Stops the thread (calls under way answered); the listeners stay open. */
void vpsd_notify_stop(struct vpsd *d);
/* For a re-exec: stops the thread and appends "|n=FD" for each listener to buf. */
size_t vpsd_notify_inherit_env(struct vpsd *d, char *buf, size_t size);
/* After a re-exec: serves the listeners named in env. */
void vpsd_notify_inherit(struct vpsd *d, const char *env);
/* The loop's hook after each round: the running VPSes' plans for the thread. */
void vpsd_notify_publish(void *userdata);
