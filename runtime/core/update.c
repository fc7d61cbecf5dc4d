/* libvps: one change to a VPS (vpsctl set, PATCH) as one transaction: everything checked
 * first, the new config computed by vps_config_next, the live steps applied in order each
 * with its undo, config.json saved once. A step that fails undoes itself and every step
 * before it, so the VPS is left as it was. */
#include "vps/cleanup.h"
#include "vps/nsrun.h"
#include "core/core.h"
#include "guest/guest.h"
#include "net/net.h"
#include "storage/storage.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct update {
        struct vps_manager *m;
        struct vps_inst *vi;
        const struct vps_change *ch;
        struct vps_config old, next;
        long long ram_used;                        /* memory.current before, -2 when stopped */
        struct vps_login_undo *pw_undo, *key_undo; /* what the logins replaced */
};

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

static int apply_hostname(struct vps_inst *vi, const char *hostname, vps_error *err)
{
        int r = vps_ns_run(vi->cfg.id, vi->pidfd, CLONE_NEWUSER | CLONE_NEWUTS,
                           "setting its hostname", set_uts, (void *)hostname, err);
        return r < 0 ? vps_err_wrap(err, "setting the hostname inside VPS %s", vi->cfg.id) : 0;
}

/* A running VPS's /etc files brought in line with c, with the host's resolvers read again
 * when c inherits them. */
static int sync_guest(struct vps_manager *m, pid_t pid, const struct vps_config *c, vps_error *err)
{
        struct vps_config eff;
        char why[8];
        vps_resolv_effective(c, m->resolv_conf, m->resolv_upstream, &eff, why, sizeof(why));
        return vps_guest_sync_running(pid, &eff, err);
}

/* The limits of to written into the running VPS's cgroup over those of from. */
static int cgroup_limits(struct update *u, const struct vps_config *to,
                         const struct vps_config *from, char *warn, size_t size, vps_error *err)
{
        struct vps_limits t, f;
        vps_manager_effective_limits(u->m, &to->limits, &t);
        vps_manager_effective_limits(u->m, &from->limits, &f);
        return vps_cgroup_apply_limits(&u->m->cg, u->vi->st.cgroup, &t, &f, !u->m->enforce_warn,
                                       warn, size, err);
}

/* The cgroup's warnings replace those of the check; the quota's (in warn mode) follow. */
static int do_limits(struct update *u, vps_error *err)
{
        int r = cgroup_limits(u, &u->next, &u->old, u->m->warning, sizeof(u->m->warning), err);
        return r < 0 ? r : vps_disk_check(u->m, &u->next.limits, err);
}

/* A write that failed halfway (the kernel refused one file) left the ones before it
 * changed: all back to the saved limits. */
static void undo_limits(struct update *u)
{
        vps_error e;
        char w[8];
        (void)cgroup_limits(u, &u->old, &u->next, w, sizeof(w), &e);
}

static int do_disk(struct update *u, vps_error *err)
{
        return vps_disk_apply(u->m, u->vi->dir_fd, &u->next, &u->old.limits, err);
}

static void undo_disk(struct update *u)
{
        vps_disk_restore(u->m, u->next.projid, &u->old.limits);
}

/* The network code reads the VPS's addresses from vi->cfg: the new ones while they go in. */
static int do_addresses(struct update *u, vps_error *err)
{
        u->vi->cfg = u->next;
        int r = vps_net_update_live(u->m, u->vi, u->old.ip, u->old.n_ip, false, err);
        u->vi->cfg = u->old;
        vps_inst_touch(u->m, u->vi);
        return r;
}

/* Each step is idempotent: what never changed is left as it is. */
static void undo_addresses(struct update *u)
{
        vps_error e;
        (void)vps_net_update_live(u->m, u->vi, u->next.ip, u->next.n_ip, true, &e);
}

static int do_forwards(struct update *u, vps_error *err)
{
        return vps_net_update_forwards(u->m, &u->old, &u->next, err);
}

static void undo_forwards(struct update *u)
{
        vps_error e;
        (void)vps_net_update_forwards(u->m, &u->next, &u->old, &e);
}

static int do_rate(struct update *u, vps_error *err)
{
        return vps_net_set_rate(&u->m->net, u->vi, u->next.rate, err);
}

static void undo_rate(struct update *u)
{
        vps_error e;
        (void)vps_net_set_rate(&u->m->net, u->vi, u->old.rate, &e);
}

static int do_hostname(struct update *u, vps_error *err)
{
        return apply_hostname(u->vi, u->next.hostname, err);
}

static void undo_hostname(struct update *u)
{
        vps_error e;
        (void)apply_hostname(u->vi, u->old.hostname, &e);
}

static int do_guest(struct update *u, vps_error *err)
{
        return sync_guest(u->m, u->vi->st.pid, &u->next, err);
}

static void undo_guest(struct update *u)
{
        vps_error e;
        (void)sync_guest(u->m, u->vi->st.pid, &u->old, &e);
}

static int do_userpasswd(struct update *u, vps_error *err)
{
        return vps_manager_set_userpasswd(u->m, u->vi, u->ch->userpasswd, &u->pw_undo, err);
}

static void undo_userpasswd(struct update *u)
{
        vps_error e;
        (void)vps_login_undo(u->m, u->vi, u->pw_undo, &e);
}

static int do_ssh_key(struct update *u, vps_error *err)
{
        return vps_manager_add_ssh_keys(u->m, u->vi, u->ch->ssh_keys, &u->key_undo, err);
}

static void undo_ssh_key(struct update *u)
{
        vps_error e;
        (void)vps_login_undo(u->m, u->vi, u->key_undo, &e);
}

static int do_save(struct update *u, vps_error *err)
{
        return vps_config_save(u->vi->dir_fd, &u->next, err);
}

/* Only when a login after it fails. */
static void undo_save(struct update *u)
{
        vps_error e;
        (void)vps_config_save(u->vi->dir_fd, &u->old, &e);
}

/* In the order of the VPS_STEP_* bits. The logins come last, after the save, so that the
 * likeliest refusal (no such user in the guest) comes after every other step; each keeps
 * what it replaced (/etc/shadow's or authorized_keys' old text, mode and owner, or that there
 * was none, and the directories it made) until the change is over, and its undo puts that
 * back byte for byte: a key that fails after a password of the same change leaves the old
 * password. */
static const struct {
        int (*apply)(struct update *u, vps_error *err);
        void (*undo)(struct update *u);
} steps[VPS_STEP_COUNT] = {
        {do_limits, undo_limits},     {do_disk, undo_disk}, {do_addresses, undo_addresses},
        {do_forwards, undo_forwards}, {do_rate, undo_rate}, {do_hostname, undo_hostname},
        {do_guest, undo_guest},       {do_save, undo_save}, {do_userpasswd, undo_userpasswd},
        {do_ssh_key, undo_ssh_key},
};

#define VPS_STEP_SAVE_BIT 7 /* the index of VPS_STEP_SAVE */

/* Tests make a step fail (VPS_TEST_FAIL_STEP=NAME in vpsd's environment; nothing a client
 * sends reaches it), to see everything undone: after the step, so that its own undo runs too,
 * but for the save, which fails before it (a save that fails has written nothing). */
static int injected(unsigned int step, bool after, vps_error *err)
{
        const char *name = getenv("VPS_TEST_FAIL_STEP");
        if (!name || strcmp(name, vps_step_names[step]) != 0 ||
            after != (steps[step].undo && step != VPS_STEP_SAVE_BIT))
                return 0;
        return vps_err(err, EIO, "failure injected %s step %s", after ? "after" : "before", name);
}

static int apply_steps(struct update *u, unsigned int todo, vps_error *err)
{
        for (unsigned int i = 0; i < VPS_STEP_COUNT; i++) {
                if (!(todo & (1u << i)))
                        continue;
                int r = injected(i, false, err);
                if (r == 0)
                        r = steps[i].apply(u, err);
                if (r == 0)
                        r = injected(i, true, err);
                if (r == 0)
                        continue;
                for (unsigned int j = i + 1; j-- > 0;)
                        if ((todo & (1u << j)) && steps[j].undo)
                                steps[j].undo(u);
                return r;
        }
        return 0;
}

/* What vps_config_next cannot see: the host and the other VPSes. */
static int check_host(struct update *u, vps_error *err)
{
        struct vps_manager *m = u->m;
        const struct vps_change *ch = u->ch;
        struct vps_inst *self = u->vi;
        bool ip = VPS_CHANGE_GIVEN(ch, VPS_F_IP), mode = VPS_CHANGE_GIVEN(ch, VPS_F_NETMODE),
             fwd = VPS_CHANGE_GIVEN(ch, VPS_F_FORWARD);
        int r = 0;
        /* the form of the logins (whether the user exists is the guest's to say) */
        if (ch->userpasswd && (r = vps_userpasswd_check(ch->userpasswd, err)) < 0)
                return r;
        _cleanup_free_ char *keys = NULL;
        if (ch->ssh_keys && (r = vps_keys_add("", ch->ssh_keys, &keys, err)) < 0)
                return vps_err_wrap(err, "'ssh_key'");
        if ((ip || mode || ch->create) &&
            (r = vps_net_check_ips(m, self, u->next.netmode, u->next.ip, u->next.n_ip, err)) < 0)
                return r;
        if ((ip || mode || fwd) && (r = vps_net_check_forwards(m, self, &u->next, u->next.forward,
                                                               u->next.n_fwd, err)) < 0)
                return r;
        if (fwd && (r = vps_net_check_forward_hosts(m, self, u->next.forward, u->next.n_fwd,
                                                    ch->force, err)) < 0)
                return r;
        if (VPS_CHANGE_GIVEN(ch, VPS_F_LIMITS) || ch->create) {
                /* whether this host can enforce them (said in the warning otherwise) */
                if ((r = vps_cgroup_check_limits(&m->cg, &u->next.limits, !m->enforce_warn,
                                                 m->warning, sizeof(m->warning), err)) < 0 ||
                    (r = vps_disk_check(m, &u->next.limits, err)) < 0)
                        return r;
        }
        return 0;
}

/* Below what the VPS uses (read before the kernel starts reclaiming): applied, as cgroup v2
 * does it, and said so. */
static void warn_ram(struct update *u)
{
        uint64_t ram = u->next.limits.v[VPS_LIM_RAM];
        struct vps_manager *m = u->m;
        if (u->ram_used < 0 || ram == VPS_LIMIT_NONE || ram == u->old.limits.v[VPS_LIM_RAM] ||
            (uint64_t)u->ram_used <= ram)
                return;
        size_t n = strlen(m->warning);
        (void)snprintf(m->warning + n, sizeof(m->warning) - n,
                       "%sVPS %s uses %lld MiB, more than the new 'ram' of %llu MiB: the "
                       "kernel reclaims what it can and OOM-kills if that is not enough",
                       n ? "; " : "", u->old.id, u->ram_used >> 20,
                       (unsigned long long)(ram >> 20));
}

int vps_manager_update_check(struct vps_manager *m, struct vps_inst *vi,
                             const struct vps_change *ch, vps_error *err)
{
        struct update u = {.m = m, .vi = vi, .ch = ch, .old = vi->cfg};
        unsigned int todo;
        char saved[sizeof(m->warning)];
        memcpy(saved, m->warning, sizeof(saved));
        int r = vps_config_next(&vi->cfg, vi->status != VPS_STOPPED, ch, &u.next, &todo, err);
        if (r == 0)
                r = check_host(&u, err);
        memcpy(m->warning, saved, sizeof(saved));
        return r;
}

int vps_manager_update(struct vps_manager *m, struct vps_inst *vi, const struct vps_change *ch,
                       vps_error *err)
{
        struct update u = {.m = m, .vi = vi, .ch = ch, .old = vi->cfg};
        unsigned int todo;
        m->warning[0] = '\0';
        int r = vps_config_next(&vi->cfg, vi->status != VPS_STOPPED, ch, &u.next, &todo, err);
        if (r == 0)
                r = check_host(&u, err);
        if (r < 0)
                return r;
        bool running = vi->status == VPS_RUNNING;
        u.ram_used = running && (todo & VPS_STEP_LIMITS)
                             ? vps_cgroup_read_number(vi->st.cgroup, "memory.current")
                             : -2;
        if (!running)
                todo &= ~(VPS_STEP_LIMITS | VPS_STEP_ADDRESSES | VPS_STEP_FORWARDS | VPS_STEP_RATE |
                          VPS_STEP_HOSTNAME | VPS_STEP_GUEST);
        r = apply_steps(&u, todo, err);
        vps_login_undo_free(u.pw_undo);
        vps_login_undo_free(u.key_undo);
        if (r < 0)
                return r;
        warn_ram(&u);
        vi->cfg = u.next;
        vps_inst_touch(m, vi); /* also before a reset of its traffic totals */
        /* announce = always: addresses added live are announced as a start announces them
         * (an address that lived on another host until now). */
        if ((todo & VPS_STEP_ADDRESSES) && m->net.announce == VPS_ANNOUNCE_ALWAYS)
                vps_net_announce_or_warn(m, vi, m->warning, sizeof(m->warning));
        if (ch->reset_counters)
                return vps_traffic_reset(m, vi, err);
        return 0;
}

void vps_manager_new_config(const struct vps_manager *m, struct vps_config *ret)
{
        *ret = (struct vps_config){.netmode = m->net.default_mode};
        vps_limits_init(&ret->limits);
}

int vps_manager_create_config(struct vps_manager *m, const struct vps_config *base,
                              const struct vps_change *ch, struct vps_config *ret, vps_error *err)
{
        struct update u = {.m = m, .ch = ch, .old = *base};
        unsigned int todo;
        m->warning[0] = '\0';
        int r = vps_config_next(base, false, ch, &u.next, &todo, err);
        if (r == 0)
                r = check_host(&u, err);
        if (r == 0)
                *ret = u.next;
        return r;
}
