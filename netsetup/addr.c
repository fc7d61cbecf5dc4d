/* netsetup: addresses (RTM_NEWADDR, RTM_DELADDR) and their text form. */
#include "netsetup/netsetup.h"
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
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

static int addr_msg(int type, unsigned int flags, unsigned int ifindex, const struct ns_addr *a,
                    const char *what, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa = ns_nl_msg(buf, type, flags, sizeof(*ifa), &nlh);
        ifa->ifa_family = (uint8_t)a->family;
        ifa->ifa_prefixlen = (uint8_t)a->prefix;
        ifa->ifa_index = ifindex;
        /* No duplicate address detection: the host already guarantees uniqueness. */
        ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
        size_t len = a->family == AF_INET ? 4 : 16;
        mnl_attr_put(nlh, IFA_LOCAL, len, &a->a);
        mnl_attr_put(nlh, IFA_ADDRESS, len, &a->a);
        int r = ns_nl_talk(nlh, what, err);
        if (r < 0) {
                char text[64];
                ns_addr_format(a, text, sizeof(text));
                return vps_err_wrap(err, "%s", text);
        }
        return 0;
}

int ns_addr_add(unsigned int ifindex, const struct ns_addr *a, vps_error *err)
{
        return addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, a, "adding an address",
                        err);
}

int ns_addr_del(unsigned int ifindex, const struct ns_addr *a, vps_error *err)
{
        return addr_msg(RTM_DELADDR, 0, ifindex, a, "removing an address", err);
}
