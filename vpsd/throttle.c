/* vpsd: failed authentications slowed down, by client address. Addresses that share a slot
 * share their count: a guesser cannot speed itself up, at worst slow a neighbour. */
#include "throttle.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>

#define BASE_MS   250u
#define MAX_MS    4000u
#define FORGET_MS (5 * 60 * 1000)

static uint32_t key_of(const struct sockaddr *sa)
{
        const unsigned char *p = NULL;
        size_t n = 0;
        if (sa && sa->sa_family == AF_INET) {
                p = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)
                            ->sin_addr;
                n = 4;
        } else if (sa && sa->sa_family == AF_INET6) {
                /* An IPv6 client is its /64: it has the rest to hop across. */
                p = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)
                            ->sin6_addr;
                n = 8;
        }
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

unsigned int vpsd_throttle_fail(struct vpsd_throttle *t, const struct sockaddr *sa, int64_t now_ms)
{
        uint32_t k = key_of(sa);
        typeof(t->slot[0]) *s = &t->slot[k % VPSD_THROTTLE_SLOTS];
        if (s->key != k || now_ms - s->last_ms > FORGET_MS) {
                s->key = k;
                s->fails = 0;
        }
        s->last_ms = now_ms;
        unsigned int shift = s->fails < 4 ? s->fails : 4;
        s->fails++;
        unsigned int ms = BASE_MS << shift;
        return ms < MAX_MS ? ms : MAX_MS;
}

/* A connection held back, until due (CLOCK_MONOTONIC ms). */
struct vpsd_held {
        struct MHD_Connection *conn;
        int64_t due_ms;
        struct vpsd_held *next;
};

int64_t vpsd_mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resumes the connections due; the timer armed for the next. */
static void on_delay(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd_holds *h = userdata;
        int64_t now = vpsd_mono_ms(), next = 0;
        for (struct vpsd_held **pp = &h->head; *pp;) {
                struct vpsd_held *q = *pp;
                if (q->due_ms <= now) {
                        *pp = q->next;
                        MHD_resume_connection(q->conn);
                        *h->kick = true;
                        free(q);
                        continue;
                }
                next = !next || q->due_ms < next ? q->due_ms : next;
                pp = &q->next;
        }
        vps_error err;
        if (next)
                (void)vpsd_timer_set(&h->w, next, true, &err);
}

int vpsd_throttle_hold(struct vpsd_holds *h, struct MHD_Connection *c, unsigned int ms)
{
        vps_error err;
        if (!h->timer && vpsd_timer_new(h->ev, &h->w, on_delay, h, &err) < 0)
                return -1;
        h->timer = true;
        struct vpsd_held *q = malloc(sizeof(*q));
        if (!q)
                return -1;
        *q = (struct vpsd_held){c, vpsd_mono_ms() + ms, h->head};
        h->head = q;
        MHD_suspend_connection(c);
        on_delay(&h->w, 0, h);
        return 0;
}

bool vpsd_throttle_release(struct vpsd_holds *h)
{
        bool any = h->head != NULL;
        for (struct vpsd_held *q = h->head, *next; q; q = next) {
                next = q->next;
                MHD_resume_connection(q->conn);
                free(q);
        }
        h->head = NULL;
        if (any)
                *h->kick = true;
        return any;
}
