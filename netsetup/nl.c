/* netsetup: one rtnetlink request/ACK exchange with sequence and port checks and the kernel's
 * extended ACK text, as libmnl's examples do it. */
#include "nl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
        (void)nlh;
        (void)data;
        return MNL_CB_OK;
}

/* mnl_cb_run turns an NLMSG_ERROR into errno; read the extack text ourselves first. */
static void extack_text(const void *buf, size_t len, char *ret, size_t size)
{
        const struct nlmsghdr *nlh = buf;
        ret[0] = '\0';
        if (!mnl_nlmsg_ok(nlh, (int)len) || nlh->nlmsg_type != NLMSG_ERROR ||
            !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return;
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        size_t off = sizeof(*e);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        const struct nlattr *attr;
        mnl_attr_for_each(attr, nlh, off)
        {
                if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
                        (void)snprintf(ret, size, "%s", mnl_attr_get_str(attr));
                        return;
                }
        }
}

void *ns_nl_msg(char *buf, int type, unsigned int flags, size_t size, struct nlmsghdr **ret_nlh)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (uint16_t)type;
        nlh->nlmsg_flags = (uint16_t)flags;
        *ret_nlh = nlh;
        return mnl_nlmsg_put_extra_header(nlh, size); /* zeroed by libmnl */
}

int ns_nl_talk(struct nlmsghdr *req, const char *what, vps_error *err)
{
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return vps_err_sys(err, errno, "%s: opening rtnetlink", what);
        int one = 1, r = 0;
        (void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
        (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = vps_err_sys(err, errno, "%s: binding rtnetlink", what);
                mnl_socket_close(nl);
                return r;
        }
        unsigned int portid = mnl_socket_get_portid(nl);
        req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        req->nlmsg_seq = (unsigned int)time(NULL);
        if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
                r = vps_err_sys(err, errno, "%s: sending netlink request", what);
                mnl_socket_close(nl);
                return r;
        }
        char buf[16384];
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0) {
                        r = vps_err_sys(err, errno, "%s: receiving netlink reply", what);
                        break;
                }
                char ext[256];
                extack_text(buf, (size_t)n, ext, sizeof(ext));
                int cr = mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, portid, ack_cb, NULL);
                if (cr == MNL_CB_ERROR) {
                        r = ext[0] ? vps_err(err, errno, "%s: %s (%s)", what, ext, strerror(errno))
                                   : vps_err_sys(err, errno, "%s", what);
                        break;
                }
                if (cr == MNL_CB_STOP)
                        break;
        }
        mnl_socket_close(nl);
        return r;
}
