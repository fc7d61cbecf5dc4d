/* IP addresses (IPv4 or IPv6) with a prefix: parsing, text form, subnet checks. Base layer:
 * used by config parsing and by netsetup/, needs no netlink. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "vps/error.h"

/* An address with its prefix, IPv4 or IPv6. */
struct ns_addr {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        } a;
        unsigned int prefix;
};

/* "10.0.0.5", "10.0.0.5/24", "2001:db8::5/64". Without a prefix: 32 or 128. */
int ns_addr_parse(const char *s, struct ns_addr *ret, vps_error *err);
/* Text form without the prefix. */
void ns_addr_format(const struct ns_addr *a, char *buf, size_t size);
/* Is a inside the network net/net->prefix? */
bool ns_addr_in(const struct ns_addr *a, const struct ns_addr *net);
bool ns_addr_equal(const struct ns_addr *a, const struct ns_addr *b);
