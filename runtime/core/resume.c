/* libvps: the manager's part of a suspend and a resume (checkpoint.h does the criu part): the
 * checks, and a resume's host side and end, made by the start's own functions (start.h) so
 * that a resumed VPS has the cgroups, limits, devices, console and views a started one has,
 * taken from vpsd's state and config, never from the images. */
#include "checkpoint/checkpoint.h"
#include "start.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "net/net.h"

#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

int vps_manager_suspend_check(struct vps_manager *m, struct vps_inst *vi, bool resume,
                              vps_error *err)
{
        (void)m;
        const char *id = vi->cfg.id;
        if (resume && !vi->suspended)
                return vps_err(err, EALREADY, "VPS %s is not suspended", id);
        if (!resume && vi->suspended)
                return vps_err(err, EALREADY, "VPS %s is suspended already", id);
        if (!resume && (vi->status != VPS_RUNNING || vi->starting))
                return vps_err(err, EALREADY, "VPS %s is not running: only a running one suspends",
                               id);
        if (!resume && vi->st.paused)
                return vps_err(err, EBUSY, "VPS %s is paused: unpause it first", id);
        if (!resume && vi->console_hold < 0)
                return vps_err(err, EOPNOTSUPP,
                               "VPS %s has no console vpsd holds (started by an older vpsd?): "
                               "restart it before suspending it",
                               id);
        return 0;
}

int vps_manager_not_suspended(const struct vps_inst *vi, vps_error *err)
{
        if (!vi->suspended)
                return 0;
        return vps_err(err, EALREADY,
                       "VPS %s is suspended: resume it (vpsctl resume %s), or destroy it",
                       vi->cfg.id, vi->cfg.id);
}

int vps_manager_resume_begin(struct vps_manager *m, struct vps_inst *vi, const char *criu,
                             struct vps_start **ret, struct vps_checkpoint_params *ret_p,
                             char *run_dir, size_t run_dir_size, vps_error *err)
{
        int r = vps_manager_suspend_check(m, vi, true, err);
        if (r < 0)
                return r;
        struct vps_start *s = NULL;
        int guest = -1;
        int lxcfs = vps_start_prepare(m, vi, &s, &guest, err);
        if (lxcfs < 0)
                return vps_err_wrap(err, "resuming VPS %s", vi->cfg.id);
        /* criu puts the tasks in the cgroups it dumped them from ("soft"): the same path
         * vps_cgroup_create just made with the VPS's limits. */
        vps_closep(&guest);
        s->resume = true;
        char veth[IFNAMSIZ] = "";
        if (s->networked && (r = vps_net_restore_name(m, vi, veth, err)) < 0) {
                vps_manager_start_free(s);
                return vps_err_wrap(err, "resuming VPS %s", vi->cfg.id);
        }
        (void)snprintf(run_dir, run_dir_size, "%s/%s", VPS_RUN_DIR, m->run_name);
        *ret_p = (struct vps_checkpoint_params){.criu = criu,
                                                .vps_dir = s->dir,
                                                .run_dir = run_dir,
                                                .lxcfs = lxcfs ? m->lxcfs : NULL,
                                                .cfg = &vi->cfg,
                                                .console = s->slave,
                                                .lower = s->t.rootfs};
        (void)snprintf(ret_p->veth, sizeof(ret_p->veth), "%s", veth);
        /* The guest cgroup vpsd just made, as criu names it (from the cgroup2 mount). */
        size_t ml = strlen(m->cg.mount);
        if (!strncmp(s->st.cgroup, m->cg.mount, ml) && s->st.cgroup[ml] == '/')
                (void)snprintf(ret_p->cgroup_root, sizeof(ret_p->cgroup_root), "%s/" VPS_CG_GUEST,
                               s->st.cgroup + ml);
        (void)snprintf(ret_p->cgroup_dir, sizeof(ret_p->cgroup_dir), "%s", s->st.cgroup);
        *ret = s;
        return 0;
}

int vps_manager_resume_end(struct vps_start *s, int pidfd, pid_t pid, vps_error *err)
{
        struct vps_inst *vi = s->vi;
        siginfo_t si = {0};
        /* vpsd's child (criu's sibling) and still running: no other process's PID. */
        int r = 0;
        if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0)
                r = vps_err(err, ESRCH, "the restored init %d is not vpsd's running child",
                            (int)pid);
        /* and in this VPS's cgroup: the pidfile is criu's, in a directory lent to the VPS's
         * root meanwhile; never another VPS's init. */
        else if (!vps_cgroup_has_pid(&s->m->cg, s->st.cgroup, pid))
                r = vps_err(err, EPERM, "the restored init %d is not in the VPS's cgroup %s",
                            (int)pid, s->st.cgroup);
        struct vps_spawn_result res = {.pid = pid, .pidfd = pidfd, .notify_fd = -1};
        if (r == 0 && (r = vps_proc_starttime(pid, &res.starttime, err)) == 0)
                (void)vps_pidfd_ino(pidfd, &res.pidfd_ino);
        /* criu made the veth; its host end joins the VPS's bridge (or routes) as at a start. */
        if (r == 0 && s->networked)
                r = vps_net_adopt(s->m, vi, err);
        if (r < 0) { /* its processes go with the host side (vps_manager_start_free) */
                (void)vps_sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                if (s->m->reap_hook)
                        s->m->reap_hook(pidfd, s->m->reap_hook_data);
                else
                        close(pidfd);
                return vps_err_wrap(err, "resuming VPS %s", vi->cfg.id);
        }
        s->over = true;
        r = vps_start_done(s, &res, err);
        if (r == 0)
                vi->suspended = false;
        return r;
}

void vps_manager_resume_abort(struct vps_start *s)
{
        char path[700];
        (void)snprintf(path, sizeof(path), "%s/" VPS_CG_GUEST "/cgroup.procs", s->st.cgroup);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        int pid;
        /* Only the init can be vpsd's child (CLONE_PARENT); it is in the guest cgroup's top,
         * where criu's --cgroup-root puts it. Bounded: criu makes no more than pids.max. */
        while (f && fscanf(f, "%d", &pid) == 1) {
                int pidfd = vps_sys_pidfd_open(pid, 0);
                siginfo_t si = {0};
                if (pidfd < 0)
                        continue;
                (void)vps_sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                    s->m->reap_hook)
                        s->m->reap_hook(pidfd, s->m->reap_hook_data); /* takes pidfd */
                else
                        close(pidfd);
        }
        vps_error e;
        (void)vps_cgroup_kill(s->st.cgroup, &e);
}
