/* console.c: a VPS's console master: to its log and the attached `vpsctl console` clients. */
#pragma once

#include <stddef.h>

struct vpsd;
struct vps_inst;
struct MHD_UpgradeResponseHandle;

int vpsd_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                        struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len);
/* The VPS's console source (watch.c) calls this when the master is readable. */
void vpsd_console_on_master(struct vpsd *d, struct vps_inst *vi);
/* Reads what is left on the console of a VPS whose init has exited (before it is closed). */
void vpsd_console_drain(struct vpsd *d, struct vps_inst *vi);
void vpsd_console_drop_all(struct vpsd *d, struct vps_inst *vi);
