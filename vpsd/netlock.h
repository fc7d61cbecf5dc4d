/* netlock.c: criu's network lock taken away from a VPS that runs on after a failed dump. */
#pragma once

#include <stdbool.h>

struct vps_inst;

/* Deletes the nftables tables criu's --network-lock leaves in vi's network namespace when
 * it is killed (killed: at its deadline, for the log line), takes the VPS's TCP connections
 * out of the repair mode criu leaves them in, and logs what it did. */
void vpsd_criu_net_unlock(const struct vps_inst *vi, bool killed);
