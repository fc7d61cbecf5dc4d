/* libvps: the parts of answering sysinfo(2) of VPS processes (sandbox.h): the notification
 * received and answered, the caller's VPS found from its cgroup, and the figures. The memory
 * and swap limits are the cgroup's memory.max and memory.swap.max (the host's when unlimited;
 * the VPS's --ram and --swap where the host has no memory controller), the free figures those
 * limits less memory.current and memory.swap.current (meminfo.c, shared with the /proc/meminfo
 * view), uptime counts from the VPS's start, and procs is its pids.current. Writing the struct
 * into the caller's memory is the caller's business (vpsd does it in a writer process with a
 * deadline: the memory may be a guest's FUSE file). */
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

int vps_sysinfo_caller_cgroup(pid_t pid, const char *mount, char *buf, size_t size)
{
        char p[64], line[600];
        (void)snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        if (!f)
                return -errno;
        bool found = false;
        /* The cgroup2 line; on a hybrid host it comes after the v1 ones. */
        while (!found && fgets(line, sizeof(line), f))
                found = strncmp(line, "0::", 3) == 0;
        if (!found)
                return -ENOENT;
        line[strcspn(line, "\n")] = '\0';
        int n = snprintf(buf, size, "%s%s", mount, line + 3);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void vps_sysinfo_plan_of(const struct vps_inst *vi, struct vps_sysinfo_plan *ret)
{
        memset(ret, 0, sizeof(*ret));
        (void)snprintf(ret->id, sizeof(ret->id), "%s", vi->cfg.id);
        (void)snprintf(ret->cgroup, sizeof(ret->cgroup), "%s", vi->st.cgroup);
        ret->ram = vi->cfg.limits.v[VPS_LIM_RAM];
        ret->swap = vi->cfg.limits.v[VPS_LIM_SWAP];
        ret->started_at = vi->st.started_at;
}

bool vps_sysinfo_plan_holds(const struct vps_sysinfo_plan *p, const char *cg)
{
        size_t n = strlen(p->cgroup);
        return n && strncmp(cg, p->cgroup, n) == 0 && (cg[n] == '\0' || cg[n] == '/');
}

static void plan_limits(const struct vps_sysinfo_plan *p, struct vps_limits *l)
{
        vps_limits_init(l);
        l->v[VPS_LIM_RAM] = p->ram;
        l->v[VPS_LIM_SWAP] = p->swap;
}

int vps_sysinfo_fill(const struct vps_sysinfo_plan *p, struct sysinfo *si, struct vps_mem *ret_mem)
{
        if (sysinfo(si) < 0)
                return -errno;
        /* The same figures as vpsd's /proc/meminfo view (meminfo.c), in bytes (mem_unit 1). */
        struct vps_limits own;
        plan_limits(p, &own);
        struct vps_mem f;
        vps_mem_figures(p->cgroup, &own, si, &f);
        si->totalram = f.total;
        si->freeram = f.free;
        si->bufferram = f.buffers;
        si->sharedram = f.shared;
        si->totalswap = f.swap_total;
        si->freeswap = f.swap_free;
        si->totalhigh = si->freehigh = 0;
        si->mem_unit = 1;
        if (ret_mem)
                *ret_mem = f;
        time_t now = time(NULL);
        if (p->started_at > 0 && now >= p->started_at)
                si->uptime = (long)(now - p->started_at);
        long long procs = vps_cgroup_read_number(p->cgroup, "pids.current");
        if (procs >= 0)
                si->procs = (unsigned short)(procs > 65535 ? 65535 : procs);
        return 0;
}

int vps_sysinfo_view_update(int dir_fd, const struct vps_mem *f)
{
        vps_error e;
        return vps_meminfo_write_figures(dir_fd, "meminfo", f, false, &e);
}

int vps_sysinfo_receive(int listener, struct vps_sysinfo_call *ret)
{
        struct seccomp_notif *req = NULL;
        struct seccomp_notif_resp *resp = NULL;
        if (seccomp_notify_alloc(&req, &resp) < 0)
                return -ENOMEM;
        int r = seccomp_notify_receive(listener, req);
        if (r == 0)
                *ret = (struct vps_sysinfo_call){
                        .id = req->id,
                        .pid = (pid_t)req->pid,
                        .addr = req->data.args[0],
                        .is_sysinfo = req->data.nr == SCMP_SYS(sysinfo),
                };
        seccomp_notify_free(req, resp);
        return r;
}

int vps_sysinfo_pending(int listener, uint64_t id)
{
        return seccomp_notify_id_valid(listener, id);
}

int vps_sysinfo_respond(int listener, uint64_t id, int error)
{
        struct seccomp_notif *req = NULL;
        struct seccomp_notif_resp *resp = NULL;
        if (seccomp_notify_alloc(&req, &resp) < 0)
                return -ENOMEM;
        resp->id = id;
        /* error < 0: the call runs as the kernel would. */
        resp->flags = error < 0 ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
        resp->val = error > 0 ? -1 : 0;
        resp->error = error > 0 ? -error : 0;
        int r = seccomp_notify_respond(listener, resp);
        seccomp_notify_free(req, resp);
        return r;
}
