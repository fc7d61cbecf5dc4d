/* limit_events.c: a running VPS's limit hits as events: its cgroup's memory.events and pids.events
 * watched with one inotify for all VPSes (the kernel signals a change of these files), each
 * counter that grew an event ("oom-kill" for oom_kill, else "limit"). No polling. */
#pragma once

struct vpsd;
struct vps_inst;

/* Watches vi's files (a missing one, with its controller off, is skipped); their counters
 * now are the base. */
void vpsd_limits_watch(struct vpsd *d, struct vps_inst *vi);
void vpsd_limits_unwatch(struct vpsd *d, struct vps_inst *vi);
