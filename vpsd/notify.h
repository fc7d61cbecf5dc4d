/* notify.c: sysinfo(2) of VPS processes, answered from their cgroups. */
#pragma once

#include <stddef.h>

#include "vps/error.h"

struct vpsd;

/* Serves a listener from now on (takes the fd). */
void vpsd_notify_add(struct vpsd *d, int listener);
/* The abstract socket (named after the state root) vpsctl hands exec listeners to. */
int vpsd_notify_listen(struct vpsd *d, vps_error *err);
/* The listener fds, for a re-exec: "|n=FD" each, appended to buf. */
size_t vpsd_notify_inherit_env(struct vpsd *d, char *buf, size_t size);
/* After a re-exec: serves the listeners named in env. */
void vpsd_notify_inherit(struct vpsd *d, const char *env);
/* Watches the listeners taken before the loop existed. */
void vpsd_notify_watch_all(struct vpsd *d);
