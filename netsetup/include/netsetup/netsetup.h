/* netsetup: network configuration over rtnetlink (libmnl). Library code: returns errors in a
 * vps_error, never prints. */
#pragma once

#include "vps/error.h"

/* Brings the loopback interface of the calling process's network namespace up. */
int ns_loopback_up(vps_error *err);

/* Sets flags on a link by index through RTM_NEWLINK, waiting for the kernel's ACK; the
 * kernel's extended-ack text, when there is one, ends up in the message. */
int ns_link_set_flags(unsigned int ifindex, unsigned int flags, unsigned int change,
                      vps_error *err);
