/* throttle.c: how late a failed authentication is answered, by client address: 250 ms
 * doubling with each failure in a row up to 4 s; five quiet minutes forgive it. */
#pragma once

#include <stdint.h>

struct sockaddr;

#define VPSD_THROTTLE_SLOTS 256

struct vpsd_throttle {
        struct {
                uint32_t key;
                unsigned int fails;
                int64_t last_ms;
        } slot[VPSD_THROTTLE_SLOTS];
};

/* Counts a failure of the client at sa (NULL: one slot for all unknown) at now_ms
 * (CLOCK_MONOTONIC); returns the delay of its answer in ms. */
unsigned int vpsd_throttle_fail(struct vpsd_throttle *t, const struct sockaddr *sa, int64_t now_ms);
