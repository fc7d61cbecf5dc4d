/* console.c: a VPS's console master: to its log and the attached clients (`vpsctl console`, a
 * browser's WebSocket). */
#pragma once

#include <stddef.h>

struct vpsd;
struct vps_inst;
struct MHD_UpgradeResponseHandle;
struct vpsd_ws_conn;

int vpsd_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                        struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len);
/* A WebSocket client (ws_console.c): ws is the client's from now on, freed when it goes. */
int vpsd_console_attach_ws(struct vpsd *d, struct vps_inst *vi, int fd,
                           struct MHD_UpgradeResponseHandle *urh, struct vpsd_ws_conn *ws);
void vpsd_console_drop_fd(struct vpsd *d, struct vps_inst *vi, int fd);
/* The VPS's console source (watch.c) calls this when the master is readable. */
void vpsd_console_on_master(struct vpsd *d, struct vps_inst *vi);
/* Reads what is left on the console of a VPS whose init has exited (before it is closed). */
void vpsd_console_drain(struct vpsd *d, struct vps_inst *vi);
void vpsd_console_drop_all(struct vpsd *d, struct vps_inst *vi);
