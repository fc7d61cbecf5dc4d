/* netsetup: routes (RTM_NEWROUTE, RTM_DELROUTE) and proxy neighbour entries (RTM_NEWNEIGH with
 * NTF_PROXY: the host answers ARP or NDP for an address that lives behind it). */
#include "netsetup/netsetup.h"
#include "nl.h"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <string.h>

static struct nlmsghdr *route_msg(char *buf, int type, unsigned int flags, int family)
{
        struct nlmsghdr *nlh;
        struct rtmsg *rtm = ns_nl_msg(buf, type, flags, sizeof(*rtm), &nlh);
        rtm->rtm_family = (uint8_t)family;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        return nlh;
}

int ns_route_default(unsigned int ifindex, const struct ns_addr *gw, bool onlink, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh =
                route_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, gw->family);
        if (onlink) {
                /* The gateway is in no subnet of the link (169.254.0.1 of routed mode). */
                struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
                rtm->rtm_flags |= RTNH_F_ONLINK;
        }
        mnl_attr_put(nlh, RTA_GATEWAY, gw->family == AF_INET ? 4 : 16, &gw->a);
        mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
        return ns_nl_talk(nlh, "adding the default route", err);
}

int ns_route_host(bool add, unsigned int ifindex, const struct ns_addr *a, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = route_msg(buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
                                         add ? NLM_F_CREATE | NLM_F_REPLACE : 0, a->family);
        struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
        rtm->rtm_dst_len = a->family == AF_INET ? 32 : 128;
        rtm->rtm_scope = RT_SCOPE_LINK;
        mnl_attr_put(nlh, RTA_DST, a->family == AF_INET ? 4 : 16, &a->a);
        mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
        int r = ns_nl_talk(nlh, add ? "adding a host route" : "removing a host route", err);
        if (r < 0) {
                char text[64];
                ns_addr_format(a, text, sizeof(text));
                return vps_err_wrap(err, "%s", text);
        }
        return 0;
}

int ns_neigh_proxy(bool add, unsigned int ifindex, const struct ns_addr *a, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh;
        struct ndmsg *ndm = ns_nl_msg(buf, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
                                      add ? NLM_F_CREATE | NLM_F_REPLACE : 0, sizeof(*ndm), &nlh);
        ndm->ndm_family = (uint8_t)a->family;
        ndm->ndm_ifindex = (int)ifindex;
        ndm->ndm_flags = NTF_PROXY;
        ndm->ndm_state = NUD_PERMANENT;
        mnl_attr_put(nlh, NDA_DST, a->family == AF_INET ? 4 : 16, &a->a);
        int r = ns_nl_talk(nlh, add ? "adding a proxy neighbour" : "removing a proxy neighbour",
                           err);
        if (r < 0) {
                char text[64];
                ns_addr_format(a, text, sizeof(text));
                return vps_err_wrap(err, "%s", text);
        }
        return 0;
}
