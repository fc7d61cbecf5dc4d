/* throttle.c: how late a failed authentication is answered, by client address: 250 ms
 * doubling with each failure in a row up to 4 s; five quiet minutes forgive it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct sockaddr;
struct MHD_Connection;
struct vpsd_held;

/* The connections held back and the loop's timer that resumes them; *kick is set when one
 * was resumed (the loop then runs libmicrohttpd at once). */
struct vpsd_holds {
        struct vpsd_held *head;
        struct vpsd_source w;
        bool timer;
        struct vpsd_event *ev;
        bool *kick;
};

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

/* CLOCK_MONOTONIC in ms. */
int64_t vpsd_mono_ms(void);
/* Suspends a connection whose answer is queued for when it is resumed, and resumes it in ms
 * (a timer of the loop); -1 when it cannot be held (then answer at once). */
int vpsd_throttle_hold(struct vpsd_holds *h, struct MHD_Connection *c, unsigned int ms);
/* Resumes every connection held back at once (vpsd exiting: libmicrohttpd must not stop
 * with a connection suspended); whether there were any. */
bool vpsd_throttle_release(struct vpsd_holds *h);
