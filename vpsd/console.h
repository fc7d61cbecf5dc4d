/* console.c: a VPS's console master: to its log and the attached clients (`vpsctl console`, a
 * browser's WebSocket). */
#pragma once

#include <stddef.h>

struct vpsd;
struct vps_inst;
struct MHD_UpgradeResponseHandle;

int vpsd_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                        struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len);
/* A client with a protocol of its own (ws_console.c's WebSocket): what it sent (input: its
 * bytes for the console written to console_fd), the console's output to it; negative from
 * either drops it. peer is the client's from now on, freed by free when it goes. */
struct vpsd_console_peer {
        int (*input)(void *peer, int fd, int console_fd, const void *buf, size_t n);
        int (*output)(void *peer, int fd, const void *buf, size_t n);
        void (*free)(void *peer);
};
int vpsd_console_attach_peer(struct vpsd *d, struct vps_inst *vi, int fd,
                             struct MHD_UpgradeResponseHandle *urh,
                             const struct vpsd_console_peer *ops, void *peer);
/* The VPS's console source (watch.c) calls this when the master is readable. */
void vpsd_console_on_master(struct vpsd *d, struct vps_inst *vi);
/* Reads what is left on the console of a VPS whose init has exited (before it is closed). */
void vpsd_console_drain(struct vpsd *d, struct vps_inst *vi);
void vpsd_console_drop_all(struct vpsd *d, struct vps_inst *vi);
