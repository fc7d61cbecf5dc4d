/* netsetup internal: the request/ACK exchange shared by every rtnetlink call. */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>

#define NS_NL_BUF 8192

#include "vps/error.h"

/* Starts a request of type with flags in buf (NS_NL_BUF bytes), *ret_nlh, and returns its
 * family header of size bytes that follows, zeroed. */
void *ns_nl_msg(char *buf, int type, unsigned int flags, size_t size, struct nlmsghdr **ret_nlh);

/* Sends req (flags get NLM_F_REQUEST|NLM_F_ACK, a sequence number is set) and waits for the
 * ACK. `what` names the operation in the error message. */
int ns_nl_talk(struct nlmsghdr *req, const char *what, vps_error *err);
