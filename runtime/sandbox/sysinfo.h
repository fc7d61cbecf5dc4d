/* sysinfo(2) inside a VPS, answered by vpsd: the VPS's processes get their seccomp filter's
 * sysinfo calls sent to vpsd (security.h), which fills the struct from the VPS's cgroup, so
 * free, uptime and top show the plan (RAM, swap, uptime since the VPS started), not the host.
 * LXCFS does the same for the /proc files (mounts.c). */
#pragma once

struct vps_manager;

/* Answers one pending notification on listener: a sysinfo call by a process of a running
 * VPS gets the VPS's figures; any other call, or one by a process in no VPS, runs as the
 * kernel would. Returns 0, or a negative errno (the notification went away: its caller
 * died, or the filter has no users left). */
int vps_sysinfo_answer(struct vps_manager *m, int listener);

/* Is fd a seccomp user-notification listener? (For listeners handed over by vpsctl.) */
int vps_sysinfo_is_listener(int fd);
