/* vpsd: requests per token, a token bucket each. Tokens are made by admins, so their number
 * is small: a slot per name, found by probing from its hash. A slot is given to another name
 * only when its bucket would be full by now anyway (idle), or else, past the probes, shared:
 * the newcomer inherits its level. A fresh, full bucket on every takeover let two tokens of
 * colliding names, alternating, make requests without limit. */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

#define PROBES 16

typedef typeof(((struct vpsd_rate *)0)->slot[0]) slot_t;

static uint32_t hash(const char *s)
{
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h;
}

static void refill(slot_t *s, int64_t now_ms, double rate, double burst)
{
        if (now_ms > s->last_ms) {
                s->level += (double)(now_ms - s->last_ms) * rate / 1000.0;
                if (s->level > burst)
                        s->level = burst;
                s->last_ms = now_ms;
        }
}

static slot_t *slot_of(struct vpsd_rate *r, const char *name, int64_t now_ms, double rate,
                       double burst)
{
        slot_t *spare = NULL, *stale = NULL;
        uint32_t h = hash(name);
        for (uint32_t i = 0; i < PROBES; i++) {
                slot_t *s = &r->slot[(h + i) % VPSD_RATE_SLOTS];
                if (!strcmp(s->name, name))
                        return s;
                bool idle = !s->name[0] ||
                            s->level + (double)(now_ms - s->last_ms) * rate / 1000.0 >= burst;
                if (idle && !spare)
                        spare = s;
                if (!stale || s->last_ms < stale->last_ms)
                        stale = s;
        }
        if (spare) {
                spare->level = burst;
                spare->last_ms = now_ms;
        } else {
                refill(stale, now_ms, rate, burst);
                spare = stale;
        }
        (void)snprintf(spare->name, sizeof(spare->name), "%s", name);
        return spare;
}

bool vpsd_rate_take(struct vpsd_rate *r, const char *name, int64_t now_ms, unsigned int *ret_wait_s)
{
        double rate = r->rate ? r->rate : VPSD_TOKEN_RATE;
        double burst = r->burst ? r->burst : VPSD_TOKEN_BURST;
        slot_t *s = slot_of(r, name, now_ms, rate, burst);
        refill(s, now_ms, rate, burst);
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
