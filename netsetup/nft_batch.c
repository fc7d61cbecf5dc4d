/* netsetup: set elements and counter objects added to (or removed from) a table in one
 * nfnetlink batch, built with libmnl. libnftables 1.0.6 fetches every table, chain, set and
 * object of the host into its cache before any batch that adds an element, which made a
 * VPS's start cost grow with the VPSes running; a batch of elements needs none of that. */
#include "netsetup/netsetup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vps/cleanup.h"

/* Ops per batch: each gets its own ACK (small with NETLINK_CAP_ACK), all read after send. */
#define CHUNK 128

void ns_nft_key_put(struct ns_nft_op *op, const void *data, size_t len, size_t width)
{
        /* Each field of a concatenated key takes a multiple of 4 bytes, zero-padded. */
        size_t room = (width + 3) & ~(size_t)3;
        if (op->key_len + room > sizeof(op->key) || len > width)
                return;
        memset(op->key + op->key_len, 0, room);
        memcpy(op->key + op->key_len, data, len);
        op->key_len += room;
}

static bool put_batch_marker(struct mnl_nlmsg_batch *b, int type, unsigned int seq)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
        nlh->nlmsg_type = (uint16_t)type;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = seq;
        struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = AF_UNSPEC;
        g->version = NFNETLINK_V0;
        g->res_id = htons(NFNL_SUBSYS_NFTABLES);
        return mnl_nlmsg_batch_next(b);
}

static bool put_op(struct mnl_nlmsg_batch *b, int family, const char *table,
                   const struct ns_nft_op *op, unsigned int seq)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
        int type = op->set ? (op->del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM)
                           : (op->del ? NFT_MSG_DELOBJ : NFT_MSG_NEWOBJ);
        nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | type);
        /* No NLM_F_EXCL: adding what is there already (the same) is no error. */
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (op->del ? 0 : NLM_F_CREATE);
        nlh->nlmsg_seq = seq;
        struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = (uint8_t)family;
        g->version = NFNETLINK_V0;
        if (!op->set) {
                mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
                mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, op->name);
                mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
                if (!op->del)
                        mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, NFTA_OBJ_DATA));
        } else {
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, op->set);
                struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
                struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
                struct nlattr *key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
                mnl_attr_put(nlh, NFTA_DATA_VALUE, op->key_len, op->key);
                mnl_attr_nest_end(nlh, key);
                if (op->name && !op->del)
                        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_OBJREF, op->name);
                mnl_attr_nest_end(nlh, el);
                mnl_attr_nest_end(nlh, list);
        }
        return mnl_nlmsg_batch_next(b);
}

static void mnl_socket_closep(struct mnl_socket **nl)
{
        if (*nl)
                mnl_socket_close(*nl);
}

static void mnl_batch_stopp(struct mnl_nlmsg_batch **b)
{
        if (*b)
                mnl_nlmsg_batch_stop(*b);
}

/* The first error of the replies to a batch whose messages have sequence numbers from seq0,
 * with the kernel's text where it gave one. The kernel handles a batch within sendmsg, so
 * every reply is queued by the time it returns. */
static int read_replies(struct mnl_socket *nl, unsigned int seq0, const struct ns_nft_op *ops,
                        size_t n, const char *table, vps_error *err)
{
        char buf[16384];
        int first = 0;
        for (;;) {
                ssize_t len = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
                if (len < 0 && errno == EINTR)
                        continue;
                if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return first;
                if (len < 0)
                        return first ? first
                                     : vps_err_sys(err, errno, "nftables %s: receiving", table);
                const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
                for (int left = (int)len; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        if (nlh->nlmsg_type != NLMSG_ERROR || first)
                                continue;
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                        if (e->error == 0)
                                continue;
                        size_t i = nlh->nlmsg_seq - seq0;
                        const struct ns_nft_op *op = i < n ? &ops[i] : NULL;
                        first = vps_err(err, -e->error, "nftables %s: %s %s %s: %s", table,
                                        op && op->del ? "deleting" : "adding",
                                        op && op->set ? "an element of" : "counter",
                                        op ? (op->set ? op->set : op->name) : "?",
                                        strerror(-e->error));
                }
        }
}

static int run_chunk(struct mnl_socket *nl, int family, const char *table,
                     const struct ns_nft_op *ops, size_t n, vps_error *err)
{
        /* libmnl writes a message before it checks the limit: room for one more past it. An
         * op's message is under 256 bytes. */
        char buf[CHUNK * 256 * 2];
        __attribute__((cleanup(mnl_batch_stopp))) struct mnl_nlmsg_batch *b =
                mnl_nlmsg_batch_start(buf, sizeof(buf) / 2);
        if (!b)
                return vps_err(err, ENOMEM, "nftables %s: batch", table);
        unsigned int seq = (unsigned int)time(NULL) << 10, seq0 = seq + 1;
        bool ok = put_batch_marker(b, NFNL_MSG_BATCH_BEGIN, seq);
        for (size_t i = 0; ok && i < n; i++)
                ok = put_op(b, family, table, &ops[i], seq0 + (unsigned int)i);
        if (!ok || !put_batch_marker(b, NFNL_MSG_BATCH_END, seq0 + (unsigned int)n))
                return vps_err(err, E2BIG, "nftables %s: batch too large", table);
        if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
                return vps_err_sys(err, errno, "nftables %s: sending a batch", table);
        return read_replies(nl, seq0, ops, n, table, err);
}

int ns_nft_apply(int family, const char *table, const struct ns_nft_op *ops, size_t n,
                 vps_error *err)
{
        __attribute__((cleanup(mnl_socket_closep))) struct mnl_socket *nl =
                mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return vps_err_sys(err, errno, "nftables %s: opening nfnetlink", table);
        int one = 1;
        (void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
        (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return vps_err_sys(err, errno, "nftables %s: binding nfnetlink", table);
        for (size_t at = 0; at < n; at += CHUNK) {
                int r = run_chunk(nl, family, table, ops + at, n - at < CHUNK ? n - at : CHUNK,
                                  err);
                if (r < 0)
                        return r;
        }
        return 0;
}

void ns_nft_apply_each(int family, const char *table, const struct ns_nft_op *ops, size_t n)
{
        vps_error e;
        if (ns_nft_apply(family, table, ops, n, &e) == 0)
                return;
        for (size_t i = 0; i < n; i++)
                (void)ns_nft_apply(family, table, &ops[i], 1, &e);
}
