/* vpsd: failed authentications slowed down, by client address. Addresses that share a slot
 * share their count: a guesser cannot speed itself up, at worst slow a neighbour. */
#include "throttle.h"

#include <netinet/in.h>
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
