/* Restarts a guest asks for (reboot(2) in its pid namespace, an OOM kill under --oompolicy
 * restart), slowed down when they come too fast: a guest whose boot ends in a reboot must not
 * make vpsd restart it hundreds of times a second (a core of CPU and a flood of log lines). */
#pragma once

#include <stdint.h>

struct vps_backoff_policy {
        unsigned int burst;      /* restarts in a row allowed within interval_s, at once */
        unsigned int interval_s; /* and a run at least this long forgets the history */
        unsigned int max_s;      /* the longest wait; the first is 1 s, doubling */
};

#define VPS_BACKOFF_BURST    5
#define VPS_BACKOFF_INTERVAL 10
#define VPS_BACKOFF_MAX      300

/* The history of one VPS (zeroed: none). */
struct vps_backoff {
        int64_t window_start;   /* when the first restart counted in in_window came (s) */
        unsigned int in_window; /* restarts since then */
        unsigned int restarts;  /* restarts in a row, none after a run of interval_s */
        unsigned int delay_s;   /* the last wait, 0 while restarts go through at once */
};

/* Records a restart the guest asked for at now (seconds, a monotonic clock) after a run of
 * ran_s seconds; returns how long to wait before starting it again (0: at once). */
unsigned int vps_backoff_next(struct vps_backoff *b, const struct vps_backoff_policy *p,
                              int64_t now, int64_t ran_s);
