/* ratelimit.c: requests per token, a token bucket each (vpsd.conf token_rate per second,
 * token_burst at once); a request over it is answered 429 with Retry-After. Trusted
 * certificates and the local socket are not limited. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VPSD_TOKEN_RATE  10
#define VPSD_TOKEN_BURST 50
#define VPSD_RATE_SLOTS  1024

struct vpsd_rate {
        unsigned int rate, burst; /* 0: the defaults */
        struct {
                char name[65]; /* the token's name, "" for a free slot */
                double level;  /* requests it may still make now */
                int64_t last_ms;
        } slot[VPSD_RATE_SLOTS];
};

/* Takes one request of token name at now_ms (CLOCK_MONOTONIC): true when allowed; else false
 * and *ret_wait_s, the seconds until the next is. */
bool vpsd_rate_take(struct vpsd_rate *r, const char *name, int64_t now_ms,
                    unsigned int *ret_wait_s);
