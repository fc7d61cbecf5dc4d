/* libvps: pausing a running VPS (vpsctl pause, unpause): its top cgroup frozen through
 * cgroup.freeze, so every process of the guest and every command vpsctl exec put there stops
 * where it is, memory and all, until it is thawed. The run state says "paused", and that is
 * the truth a vpsd that starts again goes by: it freezes or thaws the cgroup to match. */
#include "core/core.h"

#include <errno.h>

int vps_manager_pause(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        if (vi->status == VPS_STOPPED)
                return vps_err(err, EALREADY, "VPS %s is not running", vi->cfg.id);
        if (vi->status == VPS_STOPPING)
                return vps_err(err, EBUSY, "VPS %s is stopping", vi->cfg.id);
        if (vi->st.paused)
                return vps_err(err, EALREADY, "VPS %s is already paused", vi->cfg.id);
        /* Frozen first, then said: a crash between the two leaves a state that is not
         * paused, and the next vpsd thaws the cgroup to match. */
        int r = vps_cgroup_freeze_begin(vi->st.cgroup, err);
        if (r < 0)
                return vps_err_wrap(err, "pausing VPS %s", vi->cfg.id);
        struct vps_state st = vi->st;
        st.paused = true;
        if ((r = vps_inst_state_save(m, vi, &st, err)) < 0) {
                vps_error e;
                (void)vps_cgroup_thaw(vi->st.cgroup, &e);
                return vps_err_wrap(err, "pausing VPS %s", vi->cfg.id);
        }
        vi->st.paused = true;
        return 0;
}

int vps_manager_unpause(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        if (vi->status == VPS_STOPPED)
                return vps_err(err, EALREADY, "VPS %s is not running", vi->cfg.id);
        if (!vi->st.paused)
                return vps_err(err, EALREADY, "VPS %s is not paused", vi->cfg.id);
        /* Said first, then thawed: the reverse of a pause, for the same reason. */
        struct vps_state st = vi->st;
        st.paused = false;
        int r = vps_inst_state_save(m, vi, &st, err);
        if (r == 0 && (r = vps_cgroup_thaw(vi->st.cgroup, err)) < 0) {
                vps_error e;
                (void)vps_inst_state_save(m, vi, &vi->st, &e);
        }
        if (r < 0)
                return vps_err_wrap(err, "unpausing VPS %s", vi->cfg.id);
        vi->st.paused = false;
        return 0;
}

int vps_manager_check_unpaused(const struct vps_inst *vi, const char *what, vps_error *err)
{
        if (vi->status == VPS_STOPPED || !vi->st.paused)
                return 0;
        return vps_err(err, EBUSY, "VPS %s is paused: unpause it (vpsctl unpause %s) to %s",
                       vi->cfg.id, vi->cfg.id, what);
}

void vps_pause_readopt(struct vps_manager *m, struct vps_inst *vi)
{
        (void)m;
        if (vi->status == VPS_STOPPED || !vi->st.paused)
                return; /* a freeze left by a crashed copy is thawed by vps_snapshot_recover */
        vps_error e;
        if (vps_cgroup_freeze_asked(vi->st.cgroup) != 1)
                (void)vps_cgroup_freeze_begin(vi->st.cgroup, &e);
}
