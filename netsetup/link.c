/* netsetup: links (RTM_NEWLINK/RTM_DELLINK): flags, bridges, veth pairs, enslaving. */
#include "netsetup/netsetup.h"
#include "nl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>

static struct nlmsghdr *link_msg(char *buf, int type, unsigned int flags, unsigned int ifindex)
{
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifm = ns_nl_msg(buf, type, flags, sizeof(*ifm), &nlh);
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = (int)ifindex;
        return nlh;
}

int ns_link_set_flags(unsigned int ifindex, unsigned int flags, unsigned int change, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
        struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
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

int ns_link_set_master(unsigned int ifindex, unsigned int master, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
        mnl_attr_put_u32(nlh, IFLA_MASTER, master);
        return ns_nl_talk(nlh, "attaching to the bridge", err);
}

int ns_link_del(unsigned int ifindex, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, ifindex);
        return ns_nl_talk(nlh, "deleting a link", err);
}

/* Creates a link of a kind that needs no settings (EEXIST is fine) and brings it up. */
static int link_ensure(const char *name, const char *kind, vps_error *err)
{
        unsigned int idx = if_nametoindex(name);
        if (idx == 0) {
                char buf[NS_NL_BUF];
                struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
                struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
                mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
                mnl_attr_nest_end(nlh, li);
                int r = ns_nl_talk(nlh, "creating a link", err);
                if (r < 0 && r != -EEXIST)
                        return vps_err_wrap(err, "%s %s", kind, name);
                idx = if_nametoindex(name);
                if (idx == 0)
                        return vps_err_sys(err, errno ? errno : ENODEV, "%s %s", kind, name);
        }
        int r = ns_link_set_flags(idx, IFF_UP, IFF_UP, err);
        return r < 0 ? r : (int)idx;
}

int ns_bridge_ensure(const char *name, vps_error *err)
{
        return link_ensure(name, "bridge", err);
}

int ns_veth_create(const char *name, const char *peer, pid_t peer_pid, const uint8_t mac[6],
                   unsigned int mtu, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        if (mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        struct nlattr *pe = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
        memset(pifm, 0, sizeof(*pifm));
        mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)peer_pid);
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        if (mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        mnl_attr_nest_end(nlh, pe);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, li);
        int r = ns_nl_talk(nlh, "creating the veth pair", err);
        return r < 0 ? vps_err_wrap(err, "%s", name) : 0;
}

int ns_ifb_ensure(const char *name, vps_error *err)
{
        return link_ensure(name, "ifb", err);
}
