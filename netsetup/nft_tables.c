/* netsetup: the tables of an nftables family listed, and one deleted, straight over
 * nfnetlink (NFT_MSG_GETTABLE, NFT_MSG_DELTABLE in a batch of its own): no libnftables cache
 * of the whole ruleset for what is one request each. */
#include "netsetup/netsetup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>
#include <time.h>

struct list {
        ns_table_fn fn;
        void *arg;
};

static int table_attr_cb(const struct nlattr *attr, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
                tb[NFTA_TABLE_NAME] = attr;
        return MNL_CB_OK;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
        const struct list *l = data;
        const struct nlattr *tb[NFTA_TABLE_NAME + 1] = {0};
        if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_attr_cb, tb) < 0 ||
            !tb[NFTA_TABLE_NAME])
                return MNL_CB_OK;
        l->fn(mnl_attr_get_str(tb[NFTA_TABLE_NAME]), l->arg);
        return MNL_CB_OK;
}

static void mnl_socket_closep(struct mnl_socket **nl)
{
        if (*nl)
                mnl_socket_close(*nl);
}

static struct mnl_socket *open_nfnl(const char *what, vps_error *err)
{
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl) {
                (void)vps_err_sys(err, errno, "nftables %s: opening nfnetlink", what);
                return NULL;
        }
        int one = 1;
        (void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
        (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                (void)vps_err_sys(err, errno, "nftables %s: binding nfnetlink", what);
                mnl_socket_close(nl);
                return NULL;
        }
        return nl;
}

static struct nlmsghdr *put_msg(char *at, int type, int family, unsigned int flags,
                                unsigned int seq, int res_id)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
        nlh->nlmsg_type = (uint16_t)type;
        nlh->nlmsg_flags = (uint16_t)flags;
        nlh->nlmsg_seq = seq;
        struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = (uint8_t)family;
        g->version = NFNETLINK_V0;
        g->res_id = htons((uint16_t)res_id);
        return nlh;
}

/* Sends len bytes from buf and runs the replies to sequence seq through cb until the end of
 * the dump or the ACK. */
static int talk(struct mnl_socket *nl, const void *buf, size_t len, unsigned int seq, mnl_cb_t cb,
                void *data, const char *what, vps_error *err)
{
        if (mnl_socket_sendto(nl, buf, len) < 0)
                return vps_err_sys(err, errno, "nftables %s: sending", what);
        unsigned int portid = mnl_socket_get_portid(nl);
        char rx[32768]; /* MNL_SOCKET_DUMP_SIZE: room for any one dump reply */
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, rx, sizeof(rx));
                if (n < 0)
                        return vps_err_sys(err, errno, "nftables %s: receiving", what);
                int r = mnl_cb_run(rx, (size_t)n, seq, portid, cb, data);
                if (r == MNL_CB_ERROR)
                        return vps_err_sys(err, errno, "nftables %s", what);
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

int ns_nft_tables(int family, ns_table_fn fn, void *arg, vps_error *err)
{
        __attribute__((cleanup(mnl_socket_closep))) struct mnl_socket *nl =
                open_nfnl("tables", err);
        if (!nl)
                return -err->code;
        char buf[256];
        unsigned int seq = (unsigned int)time(NULL);
        struct nlmsghdr *nlh = put_msg(buf, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, family,
                                       NLM_F_REQUEST | NLM_F_DUMP, seq, 0);
        struct list l = {fn, arg};
        return talk(nl, nlh, nlh->nlmsg_len, seq, table_cb, &l, "tables", err);
}

int ns_nft_table_del(int family, const char *name, vps_error *err)
{
        __attribute__((cleanup(mnl_socket_closep))) struct mnl_socket *nl = open_nfnl(name, err);
        if (!nl)
                return -err->code;
        /* A change to the ruleset goes in a batch: begin, the deletion (ACKed), end. */
        char buf[1024];
        unsigned int seq = (unsigned int)time(NULL) << 2;
        size_t len = 0;
        struct nlmsghdr *nlh = put_msg(buf, NFNL_MSG_BATCH_BEGIN, AF_UNSPEC, NLM_F_REQUEST, seq,
                                       NFNL_SUBSYS_NFTABLES);
        len += nlh->nlmsg_len;
        nlh = put_msg(buf + len, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE, family,
                      NLM_F_REQUEST | NLM_F_ACK, seq + 1, 0);
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
        len += nlh->nlmsg_len;
        nlh = put_msg(buf + len, NFNL_MSG_BATCH_END, AF_UNSPEC, NLM_F_REQUEST, seq + 2,
                      NFNL_SUBSYS_NFTABLES);
        len += nlh->nlmsg_len;
        return talk(nl, buf, len, seq + 1, NULL, NULL, name, err);
}
