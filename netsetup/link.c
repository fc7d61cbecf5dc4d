/* netsetup: link state changes (RTM_NEWLINK). */
#include "netsetup/netsetup.h"
#include "nl.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <string.h>

int ns_link_set_flags(unsigned int ifindex, unsigned int flags, unsigned int change, vps_error *err)
{
        char buf[16384];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        memset(ifm, 0, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = (int)ifindex;
        ifm->ifi_flags = flags;
        ifm->ifi_change = change;
        return ns_nl_talk(nlh, "setting link flags", err);
}

int ns_loopback_up(vps_error *err)
{
        /* lo is always ifindex 1 in a new network namespace. */
        int r = ns_link_set_flags(1, IFF_UP, IFF_UP, err);
        return r < 0 ? vps_err_wrap(err, "bringing up loopback") : 0;
}
