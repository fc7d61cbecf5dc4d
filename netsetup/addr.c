/* netsetup: addresses (RTM_NEWADDR, RTM_DELADDR); parsing and text form: base/netaddr.c. */
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
