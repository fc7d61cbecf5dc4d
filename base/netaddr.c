/* libvpsbase: IP addresses with a prefix, their text form and subnet checks (no netlink, so
 * config parsing and the fuzzers need none). */
#include "vps/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ns_addr_parse(const char *s, struct ns_addr *ret, vps_error *err)
{
        char host[64];
        const char *slash = s ? strchr(s, '/') : NULL;
        size_t n = s ? (slash ? (size_t)(slash - s) : strlen(s)) : 0;
        if (n == 0 || n >= sizeof(host))
                return vps_err(err, EINVAL, "invalid IP address '%.60s'", s ? s : "");
        memcpy(host, s, n);
        host[n] = '\0';
        struct ns_addr a = {0};
        if (inet_pton(AF_INET, host, &a.a.v4) == 1)
                a.family = AF_INET;
        else if (inet_pton(AF_INET6, host, &a.a.v6) == 1)
                a.family = AF_INET6;
        else
                return vps_err(err, EINVAL, "invalid IP address '%.60s'", s);
        unsigned int max = a.family == AF_INET ? 32 : 128;
        a.prefix = max;
        if (slash) {
                char *end = NULL;
                unsigned long p = strtoul(slash + 1, &end, 10);
                if (!slash[1] || *end || p > max)
                        return vps_err(err, EINVAL, "invalid prefix length in '%.60s'", s);
                a.prefix = (unsigned int)p;
        }
        *ret = a;
        return 0;
}

void ns_addr_format(const struct ns_addr *a, char *buf, size_t size)
{
        if (!inet_ntop(a->family, &a->a, buf, (socklen_t)size) && size)
                buf[0] = '\0';
}

bool ns_addr_equal(const struct ns_addr *x, const struct ns_addr *y)
{
        size_t len = x->family == AF_INET ? 4 : 16;
        return x->family == y->family && memcmp(&x->a, &y->a, len) == 0;
}

bool ns_addr_in(const struct ns_addr *a, const struct ns_addr *net)
{
        if (a->family != net->family)
                return false;
        const uint8_t *x = (const uint8_t *)&a->a, *y = (const uint8_t *)&net->a;
        unsigned int bits = net->prefix;
        for (unsigned int i = 0; bits > 0; i++, bits = bits > 8 ? bits - 8 : 0) {
                uint8_t mask = (uint8_t)(bits >= 8 ? 0xff : (0xff << (8 - bits)));
                if ((x[i] & mask) != (y[i] & mask))
                        return false;
        }
        return true;
}
