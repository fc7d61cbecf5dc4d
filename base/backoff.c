/* libvps: how long a restart the guest asked for waits (see vps/backoff.h). A pure function,
 * so the policy is tested without a guest (tests/unit/test_backoff.c). */
#include "vps/backoff.h"

unsigned int vps_backoff_next(struct vps_backoff *b, const struct vps_backoff_policy *p,
                              int64_t now, int64_t ran_s)
{
        /* A VPS that ran a while rebooted as a server does: nothing to hold against it. */
        if (ran_s >= (int64_t)p->interval_s)
                *b = (struct vps_backoff){0};
        if (b->in_window == 0 || now - b->window_start >= (int64_t)p->interval_s) {
                b->window_start = now;
                b->in_window = 0;
        }
        b->in_window++;
        b->restarts++;
        /* Once waiting, every quick reboot waits twice as long, however far apart they come:
         * only a run of interval_s (or an operator's start or stop) ends the back-off. */
        if (b->delay_s == 0 && b->in_window <= p->burst)
                return 0;
        unsigned int next = b->delay_s ? b->delay_s * 2 : 1;
        if (next < b->delay_s || next > p->max_s)
                next = p->max_s;
        b->delay_s = next ? next : 1;
        return b->delay_s;
}
