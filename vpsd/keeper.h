/* keeper.c: the console keeper, a process holding a copy of every VPS's console so a new vpsd
 * (after a crash) takes them back. */
#pragma once

struct vpsd;

/* `vpsd --console-keeper`: the keeper process itself (fd 3: its listening socket). */
int vpsd_keeper_main(void);
/* Connects to the keeper of this root, starting it when there is none. */
void vpsd_keeper_open(struct vpsd *d, const char *root);
/* Takes back the consoles of re-adopted VPSes (same init) from the keeper, and from then on
 * hands it the console of every start. */
void vpsd_keeper_restore(struct vpsd *d);
/* Hands a copy of a starting VPS's console (and its init's pidfd) to the keeper (the
 * manager's console_hook) / tells it the VPS has stopped. */
void vpsd_keeper_put(void *data, const char *id, int master, int hold, int pidfd, int notify);
void vpsd_keeper_drop(struct vpsd *d, const char *id);
