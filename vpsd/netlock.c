/* vpsd: after a dump that failed while the VPS runs on, criu's network lock (an nftables
 * table CRIU-... in the VPS's network namespace) is removed, so the VPS is not left cut off.
 * criu deletes it itself when it fails on its own; one killed at its deadline cannot. The
 * work is libvps's (checkpoint/netlock.c); the log line is said here. */
#include "netlock.h"

#include "log.h"
#include "checkpoint/checkpoint.h"
#include "inst/inst.h"
#include "vps/util.h"

#include <string.h>

void vpsd_criu_net_unlock(const struct vps_inst *vi, bool killed)
{
        if (vi->pidfd < 0)
                return;
        struct vps_criu_locks gone;
        vps_error e;
        int r = vps_checkpoint_net_unlock(vi->cfg.id, vi->pidfd, &gone, &e);
        for (size_t i = 0; i < gone.n; i++) {
                /* The guest may have named a table CRIU-... itself: its name as text it chose. */
                char name[4 * sizeof(gone.name[0])];
                vps_printable(gone.name[i], strnlen(gone.name[i], sizeof(gone.name[0])), name,
                              sizeof(name));
                vpsd_log("VPS %s: removed criu's network lock (table inet %s) left by the %s dump",
                         vi->cfg.id, name, killed ? "killed" : "failed");
        }
        if (r < 0) {
                char msg[4 * sizeof(e.msg)]; /* it may hold a table's name */
                vps_printable(e.msg, strnlen(e.msg, sizeof(e.msg)), msg, sizeof(msg));
                vpsd_log("%s", msg);
        }
        /* Its established connections, which a killed criu leaves in repair mode. */
        unsigned int fixed = 0;
        if (vi->st.cgroup[0] && vps_checkpoint_tcp_unrepair(vi->st.cgroup, &fixed, &e) < 0)
                vpsd_log("VPS %s: %s", vi->cfg.id, e.msg);
        if (fixed)
                vpsd_log("VPS %s: took %u TCP connection%s out of the repair mode the %s dump "
                         "left",
                         vi->cfg.id, fixed, fixed == 1 ? "" : "s", killed ? "killed" : "failed");
}
