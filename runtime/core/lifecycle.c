/* libvps: start, halt, kill and reap of one VPS, and its JSON view. */
#include "templates/templates.h"
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "config/config.h"
#include "storage/storage.h"
#include "core/core.h"
#include "guest/guest.h"
#include "vps/syscalls.h"
#include "start.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int template_info(struct vps_manager *m, const char *name, struct tpl_info *ret,
                         vps_error *err)
{
        _cleanup_json_ json_t *meta = NULL;
        int r = vps_template_get(m, name, &meta, err);
        if (r < 0)
                return r;
        const char *init = json_string_value(json_object_get(meta, "init"));
        const char *sig = json_string_value(json_object_get(meta, "halt_signal"));
        if (!init || init[0] != '/' || strlen(init) >= sizeof(ret->init))
                return vps_err(err, EBADMSG, "template '%s': bad init path", name);
        if ((r = vps_signal_parse(sig ? sig : "SIGTERM", &ret->halt_signal, err)) < 0)
                return vps_err_wrap(err, "template '%s'", name);
        strcpy(ret->init, init);
        (void)snprintf(ret->rootfs, sizeof(ret->rootfs), "%s/templates/%s/rootfs", m->root, name);
        return 0;
}

static int net_hook(pid_t pid, void *userdata, vps_error *err)
{
        const struct net_hook *h = userdata;
        return vps_net_attach(h->m, h->vi, pid, err);
}

/* The limits a start applies: the VPS's own, and for one without --numproc the default
 * (a fork bomb inside must not take the host's PIDs), where the host can enforce it. */
void vps_manager_effective_limits(const struct vps_manager *m, const struct vps_limits *own,
                                  struct vps_limits *ret)
{
        if (!vps_defaults_apply(&m->defaults, own, ret))
                return;
        struct vps_limits one;
        vps_limits_init(&one);
        one.v[VPS_LIM_NUMPROC] = ret->v[VPS_LIM_NUMPROC];
        vps_error e;
        if (vps_cgroup_check_limits(&m->cg, &one, true, NULL, 0, &e) < 0)
                ret->v[VPS_LIM_NUMPROC] = own->v[VPS_LIM_NUMPROC];
}

/* Undoes what the start's host side made (the VPS is stopped again). */
void vps_start_undo(struct vps_start *s)
{
        vps_error e;
        if (s->networked)
                vps_net_detach(s->m, &s->vi->cfg);
        (void)vps_cgroup_kill(s->st.cgroup, &e);
        (void)vps_cgroup_remove(&s->m->cg, s->st.cgroup, &e);
}

void vps_manager_start_free(struct vps_start *s)
{
        if (!s)
                return;
        if (!s->over && s->sp) { /* unfinished: its processes go, and what the host side made */
                vps_spawn_kill(s->sp);
                vps_start_undo(s);
        } else if (!s->over && s->resume)
                vps_start_undo(s);
        vps_spawn_free(s->sp);
        vps_closep(&s->master);
        vps_closep(&s->slave);
        s->vi->starting = false;
        vps_inst_touch(s->m, s->vi); /* its list entry: no longer "starting" */
        free(s);
}

/* The host's part before the clone: cgroup, devices, limits, console, views, filter. */
static int start_host(struct vps_start *s, int cg_fd, vps_error *err)
{
        struct vps_manager *m = s->m;
        struct vps_inst *vi = s->vi;
        /* Devices first: the init is born with the device program in force. */
        char dev[VPS_MAX_DEVNODES][8];
        int r = vps_devices_attach(cg_fd, dev, vps_devnodes_effective(&vi->cfg, dev), err);
        if (r == 0)
                r = vps_devnodes_prepare(vi->dir_fd, &vi->cfg, err);
        if (r == 0)
                r = vps_security_record(cg_fd, vi->cfg.features, err);
        struct vps_limits lim;
        vps_manager_effective_limits(m, &vi->cfg.limits, &lim);
        if (r == 0)
                r = vps_cgroup_apply_limits(&m->cg, s->st.cgroup, &lim, NULL, !m->enforce_warn,
                                            s->warning, sizeof(s->warning), err);
        if (r == 0)
                r = vps_console_open(vi->cfg.uid_base, &s->master, &s->slave, err);
        /* LXCFS serving: its views go over /proc. Not serving (or off): vpsd's own
         * /proc/meminfo view (lxcfs.h), and for LXCFS down a warning: the other views show
         * the host's figures. */
        struct vps_lxcfs_status lx;
        vps_lxcfs_probe(m->lxcfs, &lx);
        bool lxcfs = lx.state == VPS_LXCFS_SERVING;
        if (lxcfs)
                vps_meminfo_remove(vi);
        else if (r == 0)
                r = vps_meminfo_create(m, vi, s->st.cgroup, err);
        if (r == 0 && lx.state == VPS_LXCFS_DOWN) {
                size_t used = strlen(s->warning);
                (void)snprintf(s->warning + used, sizeof(s->warning) - used,
                               "%sLXCFS is not running (%s): free inside shows vpsd's figures "
                               "of the VPS, top and uptime the host's",
                               used ? "; " : "", lx.why);
        }
        if (r == 0 && s->networked)
                r = vps_net_prepare_child(m, vi, &s->net, err);
        if (r == 0 && s->networked)
                r = vps_net_filter(m, vi, err);
        /* The host's resolvers for one that inherits them, read now: the start child
         * writes the guest's files after pivot_root, where no host file is left. */
        char why[400];
        vps_resolv_effective(&vi->cfg, m->resolv_conf, m->resolv_upstream, &s->eff, why,
                             sizeof(why));
        if (r == 0 && why[0]) {
                size_t used = strlen(s->warning);
                (void)snprintf(s->warning + used, sizeof(s->warning) - used,
                               "%sno name server in its resolv.conf: %s", used ? "; " : "", why);
        }
        return r < 0 ? r : (lxcfs ? 1 : 0);
}

int vps_manager_start_refused(const struct vps_inst *vi, vps_error *err)
{
        if (vi->status == VPS_STOPPED && !vi->starting)
                return 0;
        return vps_err(err, EALREADY, "VPS %s is already %s", vi->cfg.id,
                       vi->starting ? "starting" : "running");
}

/* A start's or a resume's host side (core.h): the cgroups, devices, limits, console, views
 * and network filter; *ret_guest_fd the cgroup the init is born in. 0 or 1 (LXCFS serves the
 * views), or a negative errno with nothing left made. */
int vps_start_prepare(struct vps_manager *m, struct vps_inst *vi, struct vps_start **ret,
                      int *ret_guest_fd, vps_error *err)
{
        if (vps_manager_start_refused(vi, err) < 0)
                return -EALREADY;
        int r = vps_manager_check_ids(m, vi, err);
        if (r < 0)
                return r;
        struct vps_start *s = calloc(1, sizeof(*s));
        if (!s)
                return vps_err(err, ENOMEM, "out of memory");
        *s = (struct vps_start){.m = m,
                                .vi = vi,
                                .master = -1,
                                .slave = -1,
                                .networked = vi->cfg.n_ip > 0,
                                .hook = {m, vi}};
        vi->starting = true;
        vps_inst_touch(m, vi);
        m->warning[0] = '\0';
        r = template_info(m, vi->cfg.ostemplate, &s->t, err);
        _cleanup_close_ int cg_fd = -1, guest_fd = -1;
        if (r == 0)
                r = vps_cgroup_create(&m->cg, vi->cfg.id, vi->cfg.uid_base, s->st.cgroup,
                                      sizeof(s->st.cgroup), &cg_fd, &guest_fd, err);
        if (r < 0) {
                vps_manager_start_free(s);
                return r;
        }
        (void)snprintf(s->dir, sizeof(s->dir), "%s/vps/%s", m->root, vi->cfg.id);
        int lxcfs = start_host(s, cg_fd, err);
        if (lxcfs < 0) {
                vps_start_undo(s);
                vps_manager_start_free(s);
                return lxcfs;
        }
        *ret_guest_fd = TAKE_FD(guest_fd);
        *ret = s;
        return lxcfs;
}

int vps_manager_start_begin(struct vps_manager *m, struct vps_inst *vi, struct vps_start **ret,
                            vps_error *err)
{
        if (vps_manager_not_suspended(vi, err) < 0)
                return -EALREADY;
        /* A refusal names the VPS already: not wrapped as a failed start. */
        if (vps_manager_start_refused(vi, err) < 0)
                return -EALREADY;
        struct vps_start *s = NULL;
        int guest = -1;
        int lxcfs = vps_start_prepare(m, vi, &s, &guest, err);
        if (lxcfs < 0)
                return vps_err_wrap(err, "starting VPS %s", vi->cfg.id);
        _cleanup_close_ int guest_fd = guest;
        struct vps_spawn_params p = {
                .hostname = vi->cfg.hostname,
                .vps_dir = s->dir,
                .lower_path = s->t.rootfs,
                .init_path = s->t.init,
                .uid_base = vi->cfg.uid_base,
                .uid_count = vi->cfg.uid_count,
                .cgroup_fd = guest_fd, /* below the top's limits and devices */
                .console_fd = s->slave,
                .net = s->networked ? &s->net : NULL,
                .cfg = &s->eff,
                .lxcfs = lxcfs ? m->lxcfs : NULL,
                .devpts_max = m->defaults.ptys,
                .parent_hook = s->networked ? net_hook : NULL,
                .userdata = &s->hook,
                .reap = m->reap_hook,
                .reap_data = m->reap_hook_data,
                .starter = m->starter,
        };
        int r = vps_spawn_begin(&p, &s->sp, err);
        if (r < 0) {
                vps_start_undo(s);
                vps_manager_start_free(s);
                return vps_err_wrap(err, "starting VPS %s", vi->cfg.id);
        }
        *ret = s;
        return 0;
}

int vps_manager_start_fd(const struct vps_start *s)
{
        return vps_spawn_fd(s->sp);
}

struct vps_inst *vps_manager_start_inst(const struct vps_start *s)
{
        return s->vi;
}

/* A VPS whose addresses moved here (a migration's restore left the marker), or every one
 * with vpsd.conf announce = always: its addresses announced to the neighbours (net.h). Its
 * eth0 is up: the child configured it before the init's exec (criu restored it). A failure
 * is a warning: the VPS runs, and the neighbours learn it anyway, only later. */
static void start_announce(struct vps_manager *m, struct vps_inst *vi, struct vps_start *s)
{
        bool marked = faccessat(vi->dir_fd, VPS_NET_ANNOUNCE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if ((marked || m->net.announce == VPS_ANNOUNCE_ALWAYS) &&
            m->net.announce != VPS_ANNOUNCE_NEVER)
                vps_net_announce_or_warn(m, vi, s->warning, sizeof(s->warning));
        if (marked)
                (void)unlinkat(vi->dir_fd, VPS_NET_ANNOUNCE_FILE, 0);
}

/* The init runs: its state saved, and the VPS is running. */
int vps_start_done(struct vps_start *s, struct vps_spawn_result *res, vps_error *err)
{
        struct vps_manager *m = s->m;
        struct vps_inst *vi = s->vi;
        if (m->console_hook)
                m->console_hook(m->console_hook_data, vi->cfg.id, s->master, s->slave, res->pidfd,
                                res->notify_fd);
        s->st.pid = res->pid;
        s->st.starttime = res->starttime;
        s->st.pidfd_ino = res->pidfd_ino;
        s->st.started_at = time(NULL);
        int r = vps_inst_state_save(m, vi, &s->st, err);
        if (r < 0) {
                (void)vps_sys_pidfd_send_signal(res->pidfd, SIGKILL, NULL, 0);
                if (m->reap_hook)
                        m->reap_hook(res->pidfd, m->reap_hook_data);
                else {
                        (void)waitpid(res->pid, NULL, 0);
                        close(res->pidfd);
                }
                if (res->notify_fd >= 0)
                        close(res->notify_fd);
                vps_start_undo(s);
                return vps_err_wrap(err, "starting VPS %s", vi->cfg.id);
        }
        vi->st = s->st;
        vi->halt_signal = s->t.halt_signal;
        vi->pidfd = vps_fd_high(res->pidfd);
        vps_closep(&vi->notify_fd);
        vi->notify_fd = res->notify_fd;
        vi->console_fd = vps_fd_high(TAKE_FD(s->master));
        /* A slave kept open: when the guest closes its last /dev/console (systemd does, early
         * in boot) the master would read EIO for good. */
        vi->console_hold = vps_fd_high(TAKE_FD(s->slave));
        vi->is_child = true;
        vi->status = VPS_RUNNING;
        vps_inst_touch(m, vi);
        start_announce(m, vi, s);
        memcpy(m->warning, s->warning, sizeof(m->warning));
        return 0;
}

int vps_manager_start_step(struct vps_start *s, vps_error *err)
{
        struct vps_spawn_result res = {.pidfd = -1, .notify_fd = -1};
        int r = vps_spawn_step(s->sp, &res, err);
        if (r == 1)
                return 1;
        /* Its fd stays open until vps_manager_start_free: the caller stops watching it first. */
        s->over = true;
        if (r < 0) {
                vps_spawn_kill(s->sp);
                vps_start_undo(s);
                return vps_err_wrap(err, "starting VPS %s", s->vi->cfg.id);
        }
        return vps_start_done(s, &res, err);
}

int vps_manager_start(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        struct vps_start *s = NULL;
        int r = vps_manager_start_begin(m, vi, &s, err);
        while (r == 0 && (r = vps_manager_start_step(s, err)) == 1) {
                struct pollfd pfd = {.fd = vps_manager_start_fd(s), .events = POLLIN};
                while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
                        ;
                r = 0;
        }
        vps_manager_start_free(s);
        return r;
}

int vps_manager_halt_signal(struct vps_manager *m, struct vps_inst *vi)
{
        struct tpl_info t;
        vps_error e;
        if (!vi->halt_signal)
                vi->halt_signal =
                        template_info(m, vi->cfg.ostemplate, &t, &e) == 0 ? t.halt_signal : SIGTERM;
        return vi->halt_signal;
}

int vps_manager_halt(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        if (vi->status == VPS_STOPPED)
                return vps_err(err, EALREADY, "VPS %s is not running", vi->cfg.id);
        /* A paused VPS is thawed first: a frozen init takes no signal. */
        int r = vi->st.paused ? vps_manager_unpause(m, vi, err) : 0;
        if (r < 0)
                return r;
        int sig = vps_manager_halt_signal(m, vi);
        vi->status = VPS_STOPPING;
        vps_inst_touch(m, vi);
        if (vps_sys_pidfd_send_signal(vi->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
                return vps_err_sys(err, errno, "signalling VPS %s", vi->cfg.id);
        return 0;
}

int vps_manager_kill(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        if (vi->status == VPS_STOPPED)
                return 0;
        /* SIGKILL reaches frozen tasks too, but a VPS that stops is no longer paused. */
        vps_error e;
        if (vi->st.paused)
                (void)vps_manager_unpause(m, vi, &e);
        vi->status = VPS_STOPPING;
        vps_inst_touch(m, vi);
        int r = vps_cgroup_kill(vi->st.cgroup, err);
        /* Killing the init of a pid namespace kills everything in it, cgroup or not. */
        if (vps_sys_pidfd_send_signal(vi->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH && r == 0)
                r = vps_err_sys(err, errno, "killing VPS %s", vi->cfg.id);
        return r;
}

bool vps_manager_exit_ready(const struct vps_inst *vi)
{
        siginfo_t si = {0};
        return !vi->is_child ||
               waitid(P_PIDFD, (id_t)vi->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
               si.si_pid != 0;
}

int vps_manager_reap(struct vps_manager *m, struct vps_inst *vi, bool *ret_reboot, bool *ret_oom,
                     vps_error *err)
{
        *ret_reboot = *ret_oom = false;
        if (vi->is_child) {
                siginfo_t si = {0};
                if (waitid(P_PIDFD, (id_t)vi->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0)
                        return vps_err(err, EAGAIN, "VPS %s is still running", vi->cfg.id);
                /* reboot(2) in a pid namespace ends its init with SIGHUP (restart) or SIGINT
                 * (halt, poweroff). A reboot during a requested stop stays a stop. */
                *ret_reboot = si.si_code == CLD_KILLED && si.si_status == SIGHUP &&
                              vi->status == VPS_RUNNING;
        }
        /* --oompolicy restart: the kernel killed the whole VPS at once; it starts again. */
        if (vi->status == VPS_RUNNING && vi->cfg.limits.v[VPS_LIM_OOMPOLICY] == 1 &&
            vps_cgroup_read_key(vi->st.cgroup, "memory.events", "oom_group_kill") > 0)
                *ret_reboot = *ret_oom = true;
        vps_error e;
        if (vi->cfg.n_ip > 0)
                vps_net_detach(m, &vi->cfg);
        (void)vps_cgroup_kill(vi->st.cgroup, &e);
        int r = vps_cgroup_remove(&m->cg, vi->st.cgroup, err);
        int r2 = vps_inst_state_remove(m, vi, r < 0 ? &e : err);
        vps_closep(&vi->pidfd);
        vps_closep(&vi->console_fd);
        vps_closep(&vi->console_hold);
        vps_closep(&vi->notify_fd);
        memset(&vi->st, 0, sizeof(vi->st));
        vi->status = VPS_STOPPED;
        vi->is_child = false;
        vps_inst_touch(m, vi); /* also its traffic totals: the run's were folded in */
        return r < 0 ? r : r2;
}

const char *vps_inst_status_name(const struct vps_inst *vi)
{
        /* backoff: stopped, but started again by vpsd at restart_at. */
        return vi->status == VPS_RUNNING    ? (vi->st.paused ? "paused" : "running")
               : vi->status == VPS_STOPPING ? "stopping"
               : vi->starting               ? "starting"
               : vi->restart_at             ? "backoff"
               : vi->suspended              ? "suspended"
                                            : "stopped";
}

static json_t *inst_json(const struct vps_manager *m, struct vps_inst *vi, bool look)
{
        bool up = vi->status != VPS_STOPPED;
        char root[600];
        (void)snprintf(root, sizeof(root), "%s/vps/%s", m->root, vi->cfg.id);
        json_t *ips = json_array();
        for (unsigned int i = 0; ips && i < vi->cfg.n_ip; i++)
                json_array_append_new(ips, json_string(vi->cfg.ip[i]));
        json_t *o =
                json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:s, s:I}", "id", vi->cfg.id,
                          "status", vps_inst_status_name(vi), "hostname", vi->cfg.hostname, "ip",
                          ips, "ostemplate", vi->cfg.ostemplate, "uid_base",
                          (json_int_t)vi->cfg.uid_base, "uid_count", (json_int_t)vi->cfg.uid_count,
                          "root", root, "created_at", (json_int_t)vi->cfg.created_at);
        if (!o)
                return NULL;
        json_object_set_new(o, "pid", up ? json_integer(vi->st.pid) : json_null());
        json_object_set_new(o, "pid_starttime",
                            up ? json_integer((json_int_t)vi->st.starttime) : json_null());
        json_object_set_new(o, "pid_ino",
                            up && vi->st.pidfd_ino ? json_integer((json_int_t)vi->st.pidfd_ino)
                                                   : json_null());
        json_object_set_new(o, "cgroup", up ? json_string(vi->st.cgroup) : json_null());
        json_object_set_new(o, "started_at",
                            up ? json_integer((json_int_t)vi->st.started_at) : json_null());
        /* Booting: its init cannot take the halt signal yet (a stop sends it again). */
        json_object_set_new(o, "booting",
                            up && vi->pidfd >= 0 ? json_boolean(vps_inst_booting(vi, look))
                                                 : json_null());
        json_object_set_new(o, "console", json_boolean(vi->console_fd >= 0));
        json_object_set_new(o, "restart_at",
                            vi->restart_at ? json_integer((json_int_t)vi->restart_at)
                                           : json_null());
        json_object_set_new(o, "restarts", json_integer(vi->backoff.restarts));
        json_object_set_new(o, "limits", vps_limits_to_json(&vi->cfg.limits));
        vps_disk_usage_json(m, &vi->cfg, o);
        vps_config_view(&vi->cfg, o);
        return o;
}

json_t *vps_inst_to_json(const struct vps_manager *m, struct vps_inst *vi)
{
        return inst_json(m, vi, true);
}

json_t *vps_inst_to_json_started(const struct vps_manager *m, struct vps_inst *vi)
{
        return inst_json(m, vi, false);
}

static int by_id(const void *a, const void *b)
{
        return strverscmp((*(struct vps_inst *const *)a)->cfg.id,
                          (*(struct vps_inst *const *)b)->cfg.id);
}

json_t *vps_manager_list_json(const struct vps_manager *m, bool up_only)
{
        _cleanup_free_ struct vps_inst **v = calloc(m->n ? m->n : 1, sizeof(*v));
        json_t *arr = v ? json_array() : NULL;
        size_t n = 0;
        for (size_t i = 0; arr && i < m->n; i++)
                if (!up_only || m->v[i]->status != VPS_STOPPED || m->v[i]->restart_at)
                        v[n++] = m->v[i];
        qsort(v, n, sizeof(*v), by_id);
        vps_manager_halt_probe(v, n);
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, vps_inst_to_json(m, v[i]));
        return arr;
}
