/* vpsd: after a dump that failed while the VPS runs on, criu's network lock (an nftables
 * table CRIU-... in the VPS's network namespace) is removed, so the VPS is not left cut off.
 * criu deletes it itself when it fails on its own; one killed at its deadline cannot. The
 * work is libvps's (checkpoint/netlock.c); the log line is said here. */
#include "netlock.h"

#include "log.h"
#include "checkpoint/checkpoint.h"
#include "inst/inst.h"

void vpsd_criu_net_unlock(const struct vps_inst *vi, bool killed)
{
        if (vi->pidfd < 0)
                return;
        struct vps_criu_locks gone;
        vps_error e;
        int r = vps_checkpoint_net_unlock(vi->cfg.id, vi->pidfd, &gone, &e);
        for (size_t i = 0; i < gone.n; i++)
                vpsd_log("VPS %s: removed criu's network lock (table inet %s) left by the %s dump",
                         vi->cfg.id, gone.name[i], killed ? "killed" : "failed");
        if (r < 0)
                vpsd_log("%s", e.msg);
}
