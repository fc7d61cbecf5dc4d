/* libvps: answering sysinfo(2) of VPS processes (sandbox.h). The memory and swap limits are
 * the cgroup's memory.max and memory.swap.max (the host's when unlimited; the VPS's --ram and
 * --swap where the host has no memory controller), the free figures those limits less
 * memory.current and memory.swap.current (meminfo.c, shared with the /proc/meminfo view), uptime
 * counts from the VPS's start, and procs is its pids.current. The struct is written into the
 * caller's memory through /proc/PID/mem, once the notification is known to still be pending (so the
 * PID is still the caller's). */
#include "cgroup/cgroup.h"
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "inst/inst.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

int vps_sysinfo_is_listener(int fd)
{
        char link[64], target[64];
        (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return 0;
        target[n] = '\0';
        return strcmp(target, "anon_inode:seccomp notify") == 0;
}

/* The running VPS whose cgroup holds pid, from /proc/PID/cgroup. */
static struct vps_inst *vps_of_pid(struct vps_manager *m, pid_t pid)
{
        char p[64], line[600];
        (void)snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        bool found = false;
        /* The cgroup2 line; on a hybrid host it comes after the v1 ones. */
        while (f && !found && fgets(line, sizeof(line), f))
                found = strncmp(line, "0::", 3) == 0;
        if (!found)
                return NULL;
        line[strcspn(line, "\n")] = '\0';
        char abs[1200];
        (void)snprintf(abs, sizeof(abs), "%s%s", m->cg.mount, line + 3);
        for (size_t i = 0; i < m->n; i++) {
                struct vps_inst *vi = m->v[i];
                size_t n = strlen(vi->st.cgroup);
                if (vi->status != VPS_STOPPED && n && strncmp(abs, vi->st.cgroup, n) == 0 &&
                    (abs[n] == '\0' || abs[n] == '/'))
                        return vi;
        }
        return NULL;
}

static void vps_figures(const struct vps_inst *vi, struct sysinfo *si)
{
        /* The same figures as vpsd's /proc/meminfo view (meminfo.c), in bytes (mem_unit 1). */
        struct vps_mem f;
        vps_mem_figures(vi->st.cgroup, &vi->cfg.limits, si, &f);
        si->totalram = f.total;
        si->freeram = f.free;
        si->bufferram = f.buffers;
        si->sharedram = f.shared;
        si->totalswap = f.swap_total;
        si->freeswap = f.swap_free;
        si->totalhigh = si->freehigh = 0;
        si->mem_unit = 1;
        const char *cg = vi->st.cgroup;
        time_t now = time(NULL);
        if (vi->st.started_at > 0 && now >= vi->st.started_at)
                si->uptime = (long)(now - vi->st.started_at);
        long long procs = vps_cgroup_read_number(cg, "pids.current");
        if (procs >= 0)
                si->procs = (unsigned short)(procs > 65535 ? 65535 : procs);
}

int vps_sysinfo_answer(struct vps_manager *m, int listener)
{
        struct seccomp_notif *req = NULL;
        struct seccomp_notif_resp *resp = NULL;
        if (seccomp_notify_alloc(&req, &resp) < 0)
                return -ENOMEM;
        int r = seccomp_notify_receive(listener, req);
        if (r < 0) {
                seccomp_notify_free(req, resp);
                return r;
        }
        resp->id = req->id;
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        struct vps_inst *vi =
                req->data.nr == SCMP_SYS(sysinfo) ? vps_of_pid(m, (pid_t)req->pid) : NULL;
        struct sysinfo si;
        if (vi && sysinfo(&si) == 0) {
                vps_figures(vi, &si);
                char p[64];
                (void)snprintf(p, sizeof(p), "/proc/%u/mem", req->pid);
                _cleanup_close_ int mem = open(p, O_WRONLY | O_CLOEXEC);
                /* Only now is the PID known to be the caller's: it cannot have died and been
                 * reused while its notification is still pending. */
                if (mem >= 0 && seccomp_notify_id_valid(listener, req->id) == 0) {
                        bool ok = pwrite(mem, &si, sizeof(si), (off_t)req->data.args[0]) ==
                                  (ssize_t)sizeof(si);
                        resp->flags = 0;
                        resp->val = ok ? 0 : -1;
                        resp->error = ok ? 0 : -EFAULT;
                }
        }
        /* busybox free reads Cached from /proc/meminfo right after: the view (when the VPS
         * has one) follows the figures, before the caller goes on. */
        vps_error e;
        if (vi)
                (void)vps_meminfo_update(vi, false, &e);
        r = seccomp_notify_respond(listener, resp);
        seccomp_notify_free(req, resp);
        return r < 0 ? r : 0;
}
