/* netsetup: the named counter objects of an nftables table, read straight over nfnetlink
 * (NFT_MSG_GETOBJ). libnftables would first load the whole ruleset into its cache and print
 * JSON; a dump of one table's counters is one request and a few replies, however many VPSes
 * there are. */
#include "netsetup/netsetup.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>
#include <time.h>

struct dump {
        ns_counter_fn fn;
        void *arg;
};

static int data_cb(const struct nlattr *attr, void *data)
{
        const struct nlattr **tb = data;
        unsigned int type = mnl_attr_get_type(attr);
        if (type <= NFTA_COUNTER_PACKETS && mnl_attr_validate(attr, MNL_TYPE_U64) == 0)
                tb[type] = attr;
        return MNL_CB_OK;
}

static int obj_attr_cb(const struct nlattr *attr, void *data)
{
        const struct nlattr **tb = data;
        unsigned int type = mnl_attr_get_type(attr);
        if (type > NFTA_OBJ_DATA)
                return MNL_CB_OK;
        if ((type == NFTA_OBJ_NAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) ||
            (type == NFTA_OBJ_TYPE && mnl_attr_validate(attr, MNL_TYPE_U32) < 0) ||
            (type == NFTA_OBJ_DATA && mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0))
                return MNL_CB_OK;
        tb[type] = attr;
        return MNL_CB_OK;
}

static int obj_cb(const struct nlmsghdr *nlh, void *data)
{
        const struct dump *d = data;
        const struct nlattr *tb[NFTA_OBJ_DATA + 1] = {0};
        const struct nlattr *ctr[NFTA_COUNTER_PACKETS + 1] = {0};

        if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), obj_attr_cb, tb) < 0)
                return MNL_CB_OK;
        if (!tb[NFTA_OBJ_NAME] || !tb[NFTA_OBJ_TYPE] || !tb[NFTA_OBJ_DATA] ||
            ntohl(mnl_attr_get_u32(tb[NFTA_OBJ_TYPE])) != NFT_OBJECT_COUNTER)
                return MNL_CB_OK;
        if (mnl_attr_parse_nested(tb[NFTA_OBJ_DATA], data_cb, ctr) < 0 ||
            !ctr[NFTA_COUNTER_BYTES] || !ctr[NFTA_COUNTER_PACKETS])
                return MNL_CB_OK;
        d->fn(mnl_attr_get_str(tb[NFTA_OBJ_NAME]),
              be64toh(mnl_attr_get_u64(ctr[NFTA_COUNTER_BYTES])),
              be64toh(mnl_attr_get_u64(ctr[NFTA_COUNTER_PACKETS])), d->arg);
        return MNL_CB_OK;
}

static void mnl_socket_closep(struct mnl_socket **nl)
{
        if (*nl)
                mnl_socket_close(*nl);
}

static int query(int msg, int family, const char *table, const char *name, ns_counter_fn fn,
                 void *arg, vps_error *err)
{
        char buf[32768]; /* MNL_SOCKET_DUMP_SIZE: room for any one dump reply */
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg);
        nlh->nlmsg_flags = NLM_F_REQUEST | (name ? NLM_F_ACK : NLM_F_DUMP);
        nlh->nlmsg_seq = (unsigned int)time(NULL);
        struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = (unsigned char)family;
        g->version = NFNETLINK_V0;
        g->res_id = 0;
        mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
        mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
        if (name)
                mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);

        __attribute__((cleanup(mnl_socket_closep))) struct mnl_socket *nl =
                mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return vps_err_sys(err, errno, "nftables counters: opening nfnetlink");
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return vps_err_sys(err, errno, "nftables counters: binding nfnetlink");
        unsigned int seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return vps_err_sys(err, errno, "nftables counters: sending the request");
        struct dump d = {fn, arg};
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0)
                        return vps_err_sys(err, errno, "nftables counters: receiving");
                int r = mnl_cb_run(buf, (size_t)n, seq, portid, obj_cb, &d);
                if (r == MNL_CB_ERROR)
                        return vps_err_sys(err, errno, "nftables counters of table %s", table);
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

int ns_nft_counters(int family, const char *table, const char *name, ns_counter_fn fn, void *arg,
                    vps_error *err)
{
        return query(NFT_MSG_GETOBJ, family, table, name, fn, arg, err);
}

int ns_nft_counter_reset(int family, const char *table, const char *name, ns_counter_fn fn,
                         void *arg, vps_error *err)
{
        /* The kernel answers with the values it zeroes, in one step: nothing counted between
         * a read and a reset is lost. */
        return query(NFT_MSG_GETOBJ_RESET, family, table, name, fn, arg, err);
}
