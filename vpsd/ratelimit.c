/* vpsd: requests per token, a token bucket each. Tokens are made by admins, so their number
 * is small: a slot per name, and a name whose slot another holds takes it over (a fresh,
 * full bucket at worst for the two of them, never a lockout). */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

static uint32_t hash(const char *s)
{
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h;
}

bool vpsd_rate_take(struct vpsd_rate *r, const char *name, int64_t now_ms, unsigned int *ret_wait_s)
{
        double rate = r->rate ? r->rate : VPSD_TOKEN_RATE;
        double burst = r->burst ? r->burst : VPSD_TOKEN_BURST;
        typeof(r->slot[0]) *s = &r->slot[hash(name) % VPSD_RATE_SLOTS];
        if (strcmp(s->name, name) != 0) {
                (void)snprintf(s->name, sizeof(s->name), "%s", name);
                s->level = burst;
                s->last_ms = now_ms;
        }
        if (now_ms > s->last_ms) {
                s->level += (double)(now_ms - s->last_ms) * rate / 1000.0;
                if (s->level > burst)
                        s->level = burst;
                s->last_ms = now_ms;
        }
        if (s->level >= 1.0) {
                s->level -= 1.0;
                return true;
        }
        double wait = (1.0 - s->level) / rate;
        *ret_wait_s = (unsigned int)wait + ((double)(unsigned int)wait < wait ? 1 : 0);
        if (*ret_wait_s == 0)
                *ret_wait_s = 1;
        return false;
}
