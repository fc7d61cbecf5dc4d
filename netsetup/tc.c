/* netsetup: traffic shaping of one link over rtnetlink (no tc process). Traffic leaving the
 * link (towards a VPS, on its host end) goes through a token bucket (tbf) that queues to the
 * rate; traffic arriving on it (from the VPS) is redirected to an ifb device with a token
 * bucket of its own, since a qdisc only shapes what a link sends. Only tbf, clsact, u32,
 * mirred and ifb are needed: kernels without matchall or police (this host's) do. */
#include "netsetup/netsetup.h"
#include "nl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <string.h>

#define CELL_LOG      3
#define NSEC_PER_TICK 64 /* the kernel's PSCHED_SHIFT */

static uint32_t ticks(uint64_t bytes, uint64_t bytes_per_sec)
{
        uint64_t ns = bytes * 1000000000ull / bytes_per_sec;
        uint64_t t = ns / NSEC_PER_TICK;
        return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static void ratespec(struct tc_ratespec *r, uint64_t bytes_per_sec)
{
        memset(r, 0, sizeof(*r));
        r->cell_log = CELL_LOG;
        r->linklayer = TC_LINKLAYER_ETHERNET;
        r->rate = bytes_per_sec >= UINT32_MAX ? UINT32_MAX : (uint32_t)bytes_per_sec;
}

static struct nlmsghdr *tc_msg(char *buf, int type, unsigned int flags, unsigned int ifindex,
                               uint32_t handle, uint32_t parent)
{
        struct nlmsghdr *nlh;
        struct tcmsg *tcm = ns_nl_msg(buf, type, flags, sizeof(*tcm), &nlh);
        tcm->tcm_family = AF_UNSPEC;
        tcm->tcm_ifindex = (int)ifindex;
        tcm->tcm_handle = handle;
        tcm->tcm_parent = parent;
        return nlh;
}

static int egress_tbf(unsigned int ifindex, uint64_t bps, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = tc_msg(buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex,
                                      TC_H_MAKE(1u << 16, 0), TC_H_ROOT);
        uint64_t burst = bps / 20 > 65536 ? bps / 20 : 65536; /* 50 ms at the rate */
        struct tc_tbf_qopt q;
        memset(&q, 0, sizeof(q));
        ratespec(&q.rate, bps);
        q.limit = (uint32_t)(bps / 20 + burst); /* 50 ms of queue */
        q.buffer = ticks(burst, bps);
        mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
        struct nlattr *opt = mnl_attr_nest_start(nlh, TCA_OPTIONS);
        mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(q), &q);
        if (bps >= UINT32_MAX)
                mnl_attr_put_u64(nlh, TCA_TBF_RATE64, bps);
        mnl_attr_put_u32(nlh, TCA_TBF_BURST, (uint32_t)burst);
        mnl_attr_nest_end(nlh, opt);
        return ns_nl_talk(nlh, "setting the outgoing rate (tbf)", err);
}

static int qdisc_del(unsigned int ifindex, uint32_t handle, uint32_t parent, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = tc_msg(buf, RTM_DELQDISC, 0, ifindex, handle, parent);
        int r = ns_nl_talk(nlh, "removing a qdisc", err);
        /* Nothing there to remove: the kernel says ENOENT, or EINVAL for the default qdisc. */
        return r == -ENOENT || r == -EINVAL ? 0 : r;
}

/* What the VPS sends arrives on the host end's ingress, where no qdisc queues: a u32 filter
 * that matches everything redirects it (mirred) to an ifb device, whose own tbf shapes it. */
static int ingress_redirect(unsigned int ifindex, unsigned int ifb, vps_error *err)
{
        char buf[NS_NL_BUF];
        struct nlmsghdr *nlh = tc_msg(buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
                                      TC_H_MAKE(TC_H_CLSACT, 0), TC_H_CLSACT);
        mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
        int r = ns_nl_talk(nlh, "adding the ingress hook (clsact)", err);
        if (r < 0)
                return r;
        nlh = tc_msg(buf, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex, 0,
                     TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
        struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
        tcm->tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL));
        struct {
                struct tc_u32_sel sel;
                struct tc_u32_key key; /* mask 0: matches every packet */
        } match;
        memset(&match, 0, sizeof(match));
        match.sel.flags = TC_U32_TERMINAL;
        match.sel.nkeys = 1;
        struct tc_mirred m;
        memset(&m, 0, sizeof(m));
        m.action = TC_ACT_STOLEN;
        m.eaction = TCA_EGRESS_REDIR;
        m.ifindex = ifb;
        mnl_attr_put_strz(nlh, TCA_KIND, "u32");
        struct nlattr *opt = mnl_attr_nest_start(nlh, TCA_OPTIONS);
        mnl_attr_put(nlh, TCA_U32_SEL, sizeof(match), &match);
        struct nlattr *acts = mnl_attr_nest_start(nlh, TCA_U32_ACT);
        struct nlattr *act = mnl_attr_nest_start(nlh, 1);
        mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
        struct nlattr *aopt = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
        mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(m), &m);
        mnl_attr_nest_end(nlh, aopt);
        mnl_attr_nest_end(nlh, act);
        mnl_attr_nest_end(nlh, acts);
        mnl_attr_nest_end(nlh, opt);
        return ns_nl_talk(nlh, "redirecting incoming traffic to the ifb", err);
}

int ns_tc_rate(unsigned int ifindex, const char *ifb_name, uint64_t bits_per_sec, vps_error *err)
{
        uint64_t bps = bits_per_sec / 8;
        /* The ingress filter is replaced as a whole. */
        int r = qdisc_del(ifindex, TC_H_MAKE(TC_H_CLSACT, 0), TC_H_CLSACT, err);
        if (r < 0)
                return r;
        if (bps == 0) {
                if ((r = qdisc_del(ifindex, TC_H_MAKE(1u << 16, 0), TC_H_ROOT, err)) < 0)
                        return r;
                unsigned int old = if_nametoindex(ifb_name);
                return old ? ns_link_del(old, err) : 0;
        }
        int ifb = ns_ifb_ensure(ifb_name, err);
        if (ifb < 0)
                return ifb;
        if ((r = egress_tbf(ifindex, bps, err)) < 0 ||
            (r = egress_tbf((unsigned int)ifb, bps, err)) < 0)
                return r;
        return ingress_redirect(ifindex, (unsigned int)ifb, err);
}
