/* libvps: changing the settings of a VPS (vpsctl set): each change is checked first,
 * applied live to a running VPS, then saved to config.json; a refused change leaves the old
 * config. */
#include "vps/cleanup.h"
#include "storage/storage.h"
#include "guest/guest.h"
#include "sandbox/sandbox.h"
#include "core/core.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Sets the hostname in a running VPS's UTS namespace, from a helper that joined it (setns
 * would change vpsd's own namespaces otherwise). */
static int set_uts(void *arg, vps_error *err)
{
        const char *hostname = arg;
        char uts[VPS_UTSNAME_MAX + 1];
        vps_hostname_kernel(hostname, uts);
        if (sethostname(uts, strlen(uts)) < 0)
                return vps_err_sys(err, errno, "sethostname");
        return 0;
}

/* A running VPS's /etc files brought in line with c, with the host's resolvers read again
 * when c inherits them. */
static int sync_guest(struct vps_manager *m, pid_t pid, const struct vps_config *c,
                      vps_error *err)
{
        struct vps_config eff;
        char why[8];
        vps_resolv_effective(c, m->resolv_conf, m->resolv_upstream, &eff, why, sizeof(why));
        return vps_guest_sync_running(pid, &eff, err);
}

static int apply_hostname(struct vps_inst *vi, const char *hostname, vps_error *err)
{
        int r = vps_ns_run(vi->cfg.id, vi->pidfd, CLONE_NEWUSER | CLONE_NEWUTS,
                           "setting its hostname", set_uts, (void *)hostname, err);
        return r < 0 ? vps_err_wrap(err, "setting the hostname inside VPS %s", vi->cfg.id) : 0;
}

int vps_manager_set_hostname(struct vps_manager *m, struct vps_inst *vi, const char *hostname,
                             vps_error *err)
{
        int r = vps_hostname_check(hostname, err);
        if (r < 0)
                return r;
        if (vi->status == VPS_RUNNING && (r = apply_hostname(vi, hostname, err)) < 0)
                return r;
        if (vi->status == VPS_RUNNING) {
                struct vps_config n = vi->cfg;
                (void)snprintf(n.hostname, sizeof(n.hostname), "%s", hostname);
                if ((r = sync_guest(m, vi->st.pid, &n, err)) < 0) {
                        vps_error e; /* all or nothing: the old name back in its UTS */
                        (void)apply_hostname(vi, vi->cfg.hostname, &e);
                        return r;
                }
        }
        struct vps_config c = vi->cfg;
        (void)snprintf(c.hostname, sizeof(c.hostname), "%s", hostname);
        if ((r = vps_config_save(vi->dir_fd, &c, err)) < 0)
                return r;
        vi->cfg = c;
        return 0;
}

int vps_manager_set_ips(struct vps_manager *m, struct vps_inst *vi, char ips[][46],
                        unsigned int n_ip, vps_error *err)
{
        if (n_ip > VPS_MAX_IPS)
                return vps_err(err, EINVAL, "at most %d addresses per VPS", VPS_MAX_IPS);
        int r = vps_net_check_ips(m, vi, vi->cfg.netmode, ips, n_ip, err);
        if (r < 0)
                return r;
        if (n_ip == 0 && vi->cfg.n_fwd > 0)
                return vps_err(err, EBUSY,
                               "VPS %s has port forwards: remove them first "
                               "(--forward none)",
                               vi->cfg.id);
        struct vps_config c = vi->cfg, old = vi->cfg;
        for (unsigned int i = 0; i < n_ip; i++)
                memcpy(c.ip[i], ips[i], sizeof(c.ip[i]));
        c.n_ip = n_ip;
        if (vi->status == VPS_RUNNING) {
                vi->cfg = c;
                r = vps_net_update_live(m, vi, old.ip, old.n_ip, false, err);
                if (r == 0)
                        r = sync_guest(m, vi->st.pid, &c, err);
                /* Forwards go to the first address: follow it when it changes. */
                if (r == 0)
                        r = vps_net_update_forwards(m, &old, &c, err);
                vi->cfg = old;
                if (r < 0) {
                        /* All or nothing: the old addresses back, inside and on the host
                         * (routes, proxy entries, filter), whichever step failed: each
                         * step is idempotent, so what never changed is left as it is. */
                        vps_error e;
                        (void)vps_net_update_live(m, vi, c.ip, c.n_ip, true, &e);
                        (void)sync_guest(m, vi->st.pid, &old, &e);
                        (void)vps_net_update_forwards(m, &c, &old, &e);
                }
                if (r < 0)
                        return r;
        }
        if ((r = vps_config_save(vi->dir_fd, &c, err)) < 0)
                return r;
        vi->cfg = c;
        return 0;
}

/* A running VPS's cgroup back to the limits saved in its config (tried was being applied). */
static void restore_cgroup_limits(struct vps_manager *m, const struct vps_inst *vi,
                                  const struct vps_config *tried)
{
        vps_error e;
        char w[8];
        struct vps_limits now, was;
        vps_manager_effective_limits(m, &vi->cfg.limits, &now);
        vps_manager_effective_limits(m, &tried->limits, &was);
        if (vi->status == VPS_RUNNING)
                (void)vps_cgroup_apply_limits(&m->cg, vi->st.cgroup, &now, &was, false, w,
                                              sizeof(w), &e);
}

int vps_manager_set_limits(struct vps_manager *m, struct vps_inst *vi, struct json_t *changes,
                           vps_error *err)
{
        struct vps_config c = vi->cfg;
        int r = vps_limits_update(&c.limits, changes, err);
        if (r < 0)
                return r;
        m->warning[0] = '\0';
        /* Below what the VPS uses (read before the kernel starts reclaiming): applied, as
         * cgroup v2 does it, and said so. */
        long long used = vi->status == VPS_RUNNING
                                 ? vps_cgroup_read_number(vi->st.cgroup, "memory.current")
                                 : -2;
        struct vps_limits to, from;
        vps_manager_effective_limits(m, &c.limits, &to);
        vps_manager_effective_limits(m, &vi->cfg.limits, &from);
        if (vi->status == VPS_RUNNING)
                r = vps_cgroup_apply_limits(&m->cg, vi->st.cgroup, &to, &from, !m->enforce_warn,
                                            m->warning, sizeof(m->warning), err);
        else
                r = vps_cgroup_check_limits(&m->cg, &c.limits, !m->enforce_warn, m->warning,
                                            sizeof(m->warning), err);
        uint64_t ram = c.limits.v[VPS_LIM_RAM];
        if (r == 0 && used >= 0 && ram != VPS_LIMIT_NONE && ram != vi->cfg.limits.v[VPS_LIM_RAM] &&
            (uint64_t)used > ram) {
                size_t n = strlen(m->warning);
                (void)snprintf(m->warning + n, sizeof(m->warning) - n,
                               "%sVPS %s uses %lld MiB, more than the new --ram of %llu MiB: the "
                               "kernel reclaims what it can and OOM-kills if that is not enough",
                               n ? "; " : "", vi->cfg.id, used >> 20,
                               (unsigned long long)(ram >> 20));
        }
        if (r < 0) {
                /* A write that failed halfway (the kernel refused one file) leaves the ones
                 * before it changed: put them back to the saved limits. */
                restore_cgroup_limits(m, vi, &c);
                return r;
        }
        if ((r = vps_disk_check(m, &c.limits, err)) < 0 ||
            (r = vps_disk_apply(m, vi->dir_fd, &c, &vi->cfg.limits, err)) < 0 ||
            (r = vps_config_save(vi->dir_fd, &c, err)) < 0) {
                restore_cgroup_limits(m, vi, &c);
                vps_disk_restore(m, c.projid, &vi->cfg.limits);
                return r;
        }
        vi->cfg = c;
        return 0;
}

/* The name servers into c (canonical), the search domains checked. */
static int dns_into(struct vps_config *c, char ns[][46], unsigned int n_ns, const char *search,
                    vps_error *err)
{
        if (n_ns > 4)
                return vps_err(err, EINVAL, "at most 4 name servers");
        for (unsigned int i = 0; i < n_ns; i++)
                if (n_ns > 1 && (strcmp(ns[i], VPS_NS_NONE) == 0 ||
                                 strcmp(ns[i], VPS_NS_INHERIT) == 0))
                        return vps_err(err, EINVAL,
                                       "--nameserver %s stands alone, without addresses", ns[i]);
        /* inherit is stored as no list at all, none as itself (config.h). */
        if (n_ns == 1 && strcmp(ns[0], VPS_NS_INHERIT) == 0)
                n_ns = 0;
        bool none = n_ns == 1 && strcmp(ns[0], VPS_NS_NONE) == 0;
        if (none)
                n_ns = 0;
        for (unsigned int i = 0; i < n_ns; i++) {
                struct ns_addr a;
                int r = ns_addr_parse(ns[i], &a, err);
                if (r < 0)
                        return vps_err_wrap(err, "--nameserver");
                ns_addr_format(&a, c->nameserver[i], sizeof(c->nameserver[i]));
        }
        c->n_ns = n_ns;
        if (none) {
                strcpy(c->nameserver[0], VPS_NS_NONE);
                c->n_ns = 1;
        }
        if (search) {
                if (strlen(search) >= sizeof(c->searchdomain))
                        return vps_err(err, EINVAL, "--searchdomain is too long");
                _cleanup_free_ char *copy = strdup(search);
                if (!copy)
                        return vps_err(err, ENOMEM, "out of memory");
                for (char *save = NULL, *w = strtok_r(copy, " ", &save); w;
                     w = strtok_r(NULL, " ", &save))
                        if (vps_hostname_check(w, err) < 0)
                                return vps_err(err, EINVAL, "invalid search domain '%.80s'", w);
                strcpy(c->searchdomain, search);
        }
        return 0;
}

int vps_dns_check(const struct vps_config *cfg, char ns[][46], unsigned int n_ns,
                  const char *search, vps_error *err)
{
        struct vps_config c = *cfg;
        return dns_into(&c, ns, n_ns, search, err);
}

int vps_manager_set_dns(struct vps_manager *m, struct vps_inst *vi, char ns[][46],
                        unsigned int n_ns, const char *search, vps_error *err)
{
        (void)m;
        struct vps_config c = vi->cfg;
        int r = dns_into(&c, ns, n_ns, search, err);
        if (r < 0)
                return r;
        if (vi->status == VPS_RUNNING && (r = sync_guest(m, vi->st.pid, &c, err)) < 0)
                return r;
        if ((r = vps_config_save(vi->dir_fd, &c, err)) < 0)
                return r;
        vi->cfg = c;
        return 0;
}

int vps_manager_set_boot(struct vps_manager *m, struct vps_inst *vi, int onboot,
                         const int *bootorder, vps_error *err)
{
        (void)m;
        struct vps_config c = vi->cfg;
        if (onboot >= 0)
                c.onboot = onboot != 0;
        if (bootorder) {
                if (*bootorder < -1000000 || *bootorder > 1000000)
                        return vps_err(err, ERANGE, "--bootorder must be within +-1000000");
                c.bootorder = *bootorder;
        }
        int r = vps_config_save(vi->dir_fd, &c, err);
        if (r == 0)
                vi->cfg = c;
        return r;
}

int vps_manager_set_forwards(struct vps_manager *m, struct vps_inst *vi, char fwd[][24],
                             unsigned int n, vps_error *err)
{
        if (n > 16)
                return vps_err(err, EINVAL, "at most 16 port forwards per VPS");
        int r = vps_net_check_forwards(m, vi, &vi->cfg, fwd, n, err);
        if (r < 0)
                return r;
        struct vps_config c = vi->cfg;
        for (unsigned int i = 0; i < n; i++)
                memcpy(c.forward[i], fwd[i], sizeof(c.forward[i]));
        c.n_fwd = n;
        if (vi->status == VPS_RUNNING && (r = vps_net_update_forwards(m, &vi->cfg, &c, err)) < 0)
                return r;
        if ((r = vps_config_save(vi->dir_fd, &c, err)) < 0)
                return r;
        vi->cfg = c;
        return 0;
}

int vps_manager_set_netmode(struct vps_manager *m, struct vps_inst *vi, enum vps_netmode mode,
                            char ips[][46], unsigned int n_ip, vps_error *err)
{
        if (vi->status != VPS_STOPPED && mode != vi->cfg.netmode)
                return vps_err(err, EBUSY, "VPS %s is running: stop it to change its netmode",
                               vi->cfg.id);
        struct vps_config c = vi->cfg;
        if (ips) {
                if (n_ip > VPS_MAX_IPS)
                        return vps_err(err, EINVAL, "at most %d addresses per VPS", VPS_MAX_IPS);
                for (unsigned int i = 0; i < n_ip; i++)
                        memcpy(c.ip[i], ips[i], sizeof(c.ip[i]));
                c.n_ip = n_ip;
        }
        c.netmode = mode;
        int r = vps_net_check_ips(m, vi, mode, c.ip, c.n_ip, err);
        if (r == 0)
                r = vps_net_check_forwards(m, vi, &c, c.forward, c.n_fwd, err);
        if (r < 0 || (r = vps_config_save(vi->dir_fd, &c, err)) < 0)
                return r;
        vi->cfg = c;
        return 0;
}

int vps_manager_set_rate(struct vps_manager *m, struct vps_inst *vi, uint64_t bits_per_sec,
                         vps_error *err)
{
        int r = 0;
        if (vi->status == VPS_RUNNING && vi->cfg.n_ip > 0 &&
            (r = vps_net_set_rate(&m->net, vi, bits_per_sec, err)) < 0)
                return r;
        struct vps_config c = vi->cfg;
        c.rate = bits_per_sec;
        if ((r = vps_config_save(vi->dir_fd, &c, err)) < 0) {
                vps_error e;
                if (vi->status == VPS_RUNNING && vi->cfg.n_ip > 0)
                        (void)vps_net_set_rate(&m->net, vi, vi->cfg.rate, &e);
                return r;
        }
        vi->cfg = c;
        return 0;
}

int vps_manager_set_devnodes(struct vps_manager *m, struct vps_inst *vi, char names[][8],
                             unsigned int n, vps_error *err)
{
        (void)m;
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY, "VPS %s is running: stop it to change --devnodes",
                               vi->cfg.id);
        struct vps_config c = vi->cfg;
        c.n_dev = n < 4 ? n : 4;
        for (unsigned int i = 0; i < c.n_dev; i++)
                memcpy(c.devnodes[i], names[i], sizeof(c.devnodes[i]));
        int r = vps_config_save(vi->dir_fd, &c, err);
        if (r == 0)
                vi->cfg = c;
        return r;
}
