/* libvps: the VPSes under one state root: loading and re-adopting them, create, destroy,
 * start, halt, kill and reap. ROOT/vps/ID/ holds config.json (the truth), state.json (while
 * running), upper/ and work/ (the VPS's own data), lower/ and rootfs/ (mount points used only
 * inside the VPS's mount namespace), console.log. */
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "vps/localsock.h"
#include "core/core.h"
#include "checkpoint/checkpoint.h"
#include "vps/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void inst_free(struct vps_inst *vi)
{
        if (!vi)
                return;
        if (vi->dir_fd >= 0)
                close(vi->dir_fd);
        if (vi->pidfd >= 0)
                close(vi->pidfd);
        if (vi->notify_fd >= 0)
                close(vi->notify_fd);
        if (vi->console_fd >= 0)
                close(vi->console_fd);
        if (vi->console_hold >= 0)
                close(vi->console_hold);
        free(vi->traffic_file);
        free(vi->view_text[0]);
        free(vi->view_text[1]);
        free(vi);
}

static int add_inst(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 64;
                struct vps_inst **v = realloc(m->v, cap * sizeof(*v));
                if (!v)
                        return vps_err(err, ENOMEM, "out of memory");
                m->v = v;
                m->cap = cap;
        }
        m->v[m->n++] = vi;
        m->members_gen++;
        vps_inst_touch(m, NULL);
        return 0;
}

static void remove_inst(struct vps_manager *m, struct vps_inst *vi)
{
        for (size_t i = 0; i < m->n; i++)
                if (m->v[i] == vi) {
                        m->v[i] = m->v[--m->n];
                        break;
                }
        m->members_gen++;
        vps_inst_touch(m, NULL);
        inst_free(vi);
}

struct vps_inst *vps_manager_find(struct vps_manager *m, const char *id, vps_error *err)
{
        if (vps_id_check(id, err) < 0)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i]->cfg.id, id) == 0)
                        return m->v[i];
        vps_err(err, ENOENT, "VPS %s does not exist", id);
        return NULL;
}

/* A stale state: the init is gone (or the PID was reused). Remove what it left. */
static void clear_stale(struct vps_manager *m, struct vps_inst *vi)
{
        vps_error e;
        if (vi->cfg.n_ip > 0)
                vps_net_detach(m, &vi->cfg);
        if (vi->st.cgroup[0]) {
                (void)vps_cgroup_kill(vi->st.cgroup, &e);
                (void)vps_cgroup_remove(&m->cg, vi->st.cgroup, &e);
        }
        (void)vps_inst_state_remove(m, vi, &e);
        memset(&vi->st, 0, sizeof(vi->st));
        vi->status = VPS_STOPPED;
        vps_inst_touch(m, vi);
}

static void state_name(const struct vps_inst *vi, char *buf, size_t size)
{
        (void)snprintf(buf, size, "%s.json", vi->cfg.id);
}

int vps_inst_state_save(struct vps_manager *m, const struct vps_inst *vi,
                        const struct vps_state *st, vps_error *err)
{
        char name[VPS_ID_MAX + 8];
        state_name(vi, name, sizeof(name));
        return vps_state_save(m->run_fd, name, st, err);
}

int vps_inst_state_remove(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        char name[VPS_ID_MAX + 8];
        state_name(vi, name, sizeof(name));
        return vps_state_remove(m->run_fd, name, err);
}

/* The run state, or what a vpsd before the run directory left in the VPS's own directory
 * (an upgrade while VPSes run): moved to the run directory. */
static int load_state(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        char name[VPS_ID_MAX + 8];
        state_name(vi, name, sizeof(name));
        int r = vps_state_load(m->run_fd, name, &vi->st, err);
        if (r != -ENOENT || vps_state_load(vi->dir_fd, "state.json", &vi->st, err) < 0)
                return r;
        vps_error e;
        if (vps_state_save(m->run_fd, name, &vi->st, &e) == 0)
                (void)vps_state_remove(vi->dir_fd, "state.json", &e);
        return 0;
}

/* What a start-up waits for the start time of an init recorded by a vpsd without pidfd_ino,
 * or on a kernel without pidfs. */
#define ADOPT_STAT_MS 500

static void adopt(struct vps_manager *m, struct vps_inst *vi)
{
        vps_error e;
        if (load_state(m, vi, &e) < 0) {
                /* No state: stopped, or a start that a crash cut short before its state was
                 * written. Whatever such a start left (a cgroup, maybe with its init in it,
                 * network rules) goes, so the VPS is stopped and nothing else. */
                memset(&vi->st, 0, sizeof(vi->st));
                int n = snprintf(vi->st.cgroup, sizeof(vi->st.cgroup), "%s/%s", m->cg.parent,
                                 vi->cfg.id);
                if (n > 0 && (size_t)n < sizeof(vi->st.cgroup) && access(vi->st.cgroup, F_OK) == 0)
                        clear_stale(m, vi);
                memset(&vi->st, 0, sizeof(vi->st));
                return;
        }
        /* The same process (not a reused PID), known without waiting on it: a guest can hold
         * its init in an execve, and a read of its /proc/PID/stat with it (base/proc.c). */
        int pidfd = vps_sys_pidfd_open(vi->st.pid, 0);
        if (pidfd >= 0 &&
            vps_init_identify(vi->st.pid, pidfd, vi->st.starttime, vi->st.pidfd_ino,
                              ADOPT_STAT_MS) == 1 &&
            vps_cgroup_has_pid(&m->cg, vi->st.cgroup, vi->st.pid)) {
                vi->pidfd = vps_fd_high(pidfd);
                vi->status = VPS_RUNNING;
                vps_inst_touch(m, vi);
                /* A state without it (an older vpsd's): the next start-up knows it exactly. */
                if (vi->st.pidfd_ino == 0 && vps_pidfd_ino(vi->pidfd, &vi->st.pidfd_ino) == 0)
                        (void)vps_inst_state_save(m, vi, &vi->st, &e);
                (void)vps_manager_halt_signal(m, vi);
                vps_pause_readopt(m, vi);
                return;
        }
        if (pidfd >= 0)
                close(pidfd);
        clear_stale(m, vi);
}

/* A crash during vps_write_file_atomic leaves its ".NAME.tmpPID": the real file is whole
 * (old or new), the temporary one is debris. */
static void sweep_tmp(int dir_fd)
{
        _cleanup_closedir_ DIR *d = vps_opendir_fd(dir_fd);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && de->d_type == DT_REG && strstr(de->d_name, ".tmp"))
                        (void)unlinkat(dir_fd, de->d_name, 0);
}

static int load_one(struct vps_manager *m, const char *name, vps_error *err)
{
        struct vps_inst *vi = calloc(1, sizeof(*vi));
        if (!vi)
                return vps_err(err, ENOMEM, "out of memory");
        vi->pidfd = vi->console_fd = vi->console_hold = vi->notify_fd = -1;
        vi->dir_fd = vps_fd_high(
                openat(m->vps_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        int r = vi->dir_fd < 0 ? vps_err_sys(err, errno, "opening %s", name)
                               : vps_config_load(vi->dir_fd, &vi->cfg, err);
        if (vi->dir_fd >= 0)
                sweep_tmp(vi->dir_fd);
        /* An older vpsd made it 0711, which a guest's setuid file in upper/ needed no more. */
        if (r == 0 && fchmod(vi->dir_fd, 0700) < 0)
                r = vps_err_sys(err, errno, "chmod %s", name);
        if (r == 0 && strcmp(vi->cfg.id, name) != 0)
                r = vps_err(err, EBADMSG, "config.json names VPS %s", vi->cfg.id);
        if (r == 0) {
                adopt(m, vi);
                /* Whole images: suspended (a restore cut short lent them to the VPS's root). */
                vi->suspended = vi->status == VPS_STOPPED && vps_checkpoint_exists(vi->dir_fd);
                if (vi->suspended)
                        vps_checkpoint_reclaim(vi->dir_fd);
                vps_snapshot_recover(m, vi);
                r = add_inst(m, vi, err);
        }
        if (r < 0)
                inst_free(vi);
        return r < 0 ? vps_err_wrap(err, "loading VPS %s", name) : 0;
}

/* Debris of a create or destroy that a crash interrupted starts with '.'. */
static int load_all(struct vps_manager *m, vps_error *err)
{
        _cleanup_closedir_ DIR *d = vps_opendir_fd(m->vps_fd);
        if (!d)
                return vps_err_sys(err, errno, "reading %s/vps", m->root);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                vps_error e;
                /* A destroyed VPS's files: what the guest left, of any size; the caller
                 * removes them off its loop. */
                if (strncmp(de->d_name, VPS_TRASH_PREFIX, strlen(VPS_TRASH_PREFIX)) == 0)
                        continue;
                if (de->d_name[0] == '.') {
                        (void)vps_rm_rf_at(m->vps_fd, de->d_name, &e);
                        continue;
                }
                if (!vps_id_valid(de->d_name))
                        continue;
                /* One VPS that cannot be loaded (a damaged config.json) must not keep vpsd,
                 * and so every other VPS, from being managed: it is skipped, its files left
                 * as they are, and said in m->skipped for the daemon's log. */
                int r = load_one(m, de->d_name, &e);
                if (r == -ENOMEM) {
                        *err = e;
                        return r;
                }
                if (r < 0 && m->n_skipped < VPS_SKIPPED_MAX)
                        (void)snprintf(m->skipped[m->n_skipped], sizeof(m->skipped[0]), "%.255s",
                                       e.msg);
                if (r < 0)
                        m->n_skipped++;
        }
        return 0;
}

/* Created with mode, and given it if it exists: a root laid out by an older vpsd (0711,
 * 0755) is tightened at the next start-up. */
static int open_dir(int dfd, const char *name, mode_t mode, vps_error *err)
{
        if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s", name);
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", name);
        if (fchmod(fd, mode) < 0) {
                int e = errno;
                close(fd);
                return vps_err_sys(err, e, "chmod %s", name);
        }
        return fd;
}

/* VPS_RUN_DIR/state-DEV-INO, named after the root so that vpsds with other roots, and the
 * next vpsd on this root, find their own (localsock.c: it also holds the root's sockets). */
static int open_run_dir(struct vps_manager *m, vps_error *err)
{
        char path[128];
        int r = m->run_fd = vps_run_dir_open(m->root, path, sizeof(path), err);
        if (r < 0)
                return r;
        (void)snprintf(m->run_name, sizeof(m->run_name), "%.63s", path + sizeof(VPS_RUN_DIR));
        sweep_tmp(m->run_fd);
        return 0;
}

int vps_manager_open(struct vps_manager *m, const char *root, const char *cgroup_parent,
                     const struct vps_netconf *net, vps_error *err)
{
        memset(m, 0, sizeof(*m));
        m->net = *net;
        m->root_fd = m->vps_fd = m->tpl_fd = m->lock_fd = m->run_fd = -1;
        if (root[0] != '/' || strlen(root) >= sizeof(m->root))
                return vps_err(err, EINVAL, "the state root must be an absolute path: %s", root);
        strcpy(m->root, root);
        int r = vps_mkdir_p(root, 0700, err);
        if (r < 0)
                return r;
        m->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->root_fd < 0)
                return vps_err_sys(err, errno, "opening %s", root);
        /* Host root's alone (as LXC keeps /var/lib/lxc): templates hold setuid-root files
         * and device nodes, a VPS's upper/ holds whatever its root planted. A start child
         * opens what it needs while it is still the host's uid 0 (vps_child_open_host). */
        if (fchmod(m->root_fd, 0700) < 0)
                return vps_err_sys(err, errno, "chmod %s", root);
        m->lock_fd = openat(m->root_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (m->lock_fd < 0)
                return vps_err_sys(err, errno, "opening %s/.lock", root);
        if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? vps_err(err, EBUSY, "another vpsd is using %s", root)
                                            : vps_err_sys(err, errno, "locking %s", root);
        if ((r = m->vps_fd = open_dir(m->root_fd, "vps", 0700, err)) < 0 ||
            (r = m->tpl_fd = open_dir(m->root_fd, "templates", 0700, err)) < 0 ||
            (r = vps_templates_tighten(m, err)) < 0)
                return r;
        if ((r = open_run_dir(m, err)) < 0 ||
            (r = vps_cgroups_init(&m->cg, cgroup_parent, root, err)) < 0)
                return r;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        m->cg.host.ncpu = ncpu > 0 ? (unsigned int)ncpu : 1;
        vps_cgroups_find_iodev(&m->cg, m->vps_fd);
        vps_disk_probe(m);
        return load_all(m, err);
}

void vps_manager_close(struct vps_manager *m)
{
        for (size_t i = 0; i < m->n; i++)
                inst_free(m->v[i]);
        free(m->v);
        m->v = NULL;
        m->n = m->cap = 0;
        m->members_gen++;
        vps_inst_touch(m, NULL);
        /* Left in place while it holds the state of VPSes that go on running. */
        if (m->run_fd >= 0) {
                char path[sizeof(VPS_RUN_DIR) + sizeof(m->run_name) + 1];
                (void)snprintf(path, sizeof(path), "%s/%s", VPS_RUN_DIR, m->run_name);
                /* No VPS left running: nor a /proc/meminfo view (lxcfs.h). */
                if (rmdir(path) == 0)
                        vps_meminfo_views_drop(m);
        }
        int *fds[] = {&m->root_fd, &m->vps_fd, &m->tpl_fd, &m->lock_fd, &m->run_fd};
        for (size_t i = 0; i < 5; i++)
                vps_closep(fds[i]);
}

static bool ranges_overlap(uint32_t a, uint32_t a_n, uint32_t b, uint32_t b_n)
{
        return (uint64_t)a < (uint64_t)b + b_n && (uint64_t)b < (uint64_t)a + a_n;
}

struct id_range {
        uint64_t first, end; /* end: one past the last */
};

static int by_first(const void *a, const void *b)
{
        const struct id_range *x = a, *y = b;
        return x->first < y->first ? -1 : x->first > y->first;
}

/* The lowest 65536-id range (from VPS_UID_START, in steps of 65536) that overlaps no other
 * VPS's: one sweep over the ranges sorted by their first id (trying each step against every
 * VPS made a create O(N^2), 93% of vpsd's CPU while creating the 4000th VPS). */
static uint32_t alloc_uid_base(const struct vps_manager *m)
{
        _cleanup_free_ struct id_range *r = calloc(m->n ? m->n : 1, sizeof(*r));
        uint64_t base = VPS_UID_START;
        if (!r) { /* out of memory: the slow way */
                for (;; base += VPS_UID_COUNT) {
                        bool used = false;
                        for (size_t i = 0; i < m->n && !used; i++)
                                used = ranges_overlap((uint32_t)base, VPS_UID_COUNT,
                                                      m->v[i]->cfg.uid_base,
                                                      m->v[i]->cfg.uid_count);
                        if (!used)
                                return (uint32_t)base;
                }
        }
        for (size_t i = 0; i < m->n; i++)
                r[i] = (struct id_range){m->v[i]->cfg.uid_base,
                                         (uint64_t)m->v[i]->cfg.uid_base + m->v[i]->cfg.uid_count};
        qsort(r, m->n, sizeof(*r), by_first);
        for (size_t i = 0; i < m->n; i++) {
                if (r[i].end <= base || r[i].first == r[i].end)
                        continue;
                if (r[i].first >= base + VPS_UID_COUNT)
                        break;
                /* Overlaps: the first step past its end. */
                base = VPS_UID_START + (r[i].end - VPS_UID_START + VPS_UID_COUNT - 1) /
                                               VPS_UID_COUNT * VPS_UID_COUNT;
        }
        return (uint32_t)base;
}

int vps_manager_check_ids(const struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        const struct vps_config *c = &vi->cfg;
        uint64_t last = (uint64_t)c->uid_base + c->uid_count - 1;
        if (c->uid_base < VPS_UID_START)
                return vps_err(err, EPERM,
                               "its id range %u-%llu is below %u, where host users live",
                               c->uid_base, (unsigned long long)last, VPS_UID_START);
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_config *o = &m->v[i]->cfg;
                if (m->v[i] != vi &&
                    ranges_overlap(c->uid_base, c->uid_count, o->uid_base, o->uid_count))
                        return vps_err(err, EPERM,
                                       "its id range %u-%llu overlaps VPS %s's (%u-%llu)",
                                       c->uid_base, (unsigned long long)last, o->id, o->uid_base,
                                       (unsigned long long)o->uid_base + o->uid_count - 1);
        }
        return 0;
}

static int make_vps_dir(struct vps_manager *m, const char *tmp, struct vps_config *cfg,
                        vps_error *err)
{
        if (mkdirat(m->vps_fd, tmp, 0700) < 0)
                return vps_err_sys(err, errno, "creating %s", tmp);
        _cleanup_close_ int dfd = openat(m->vps_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return vps_err_sys(err, errno, "opening %s", tmp);
        static const struct {
                const char *name;
                mode_t mode;
                bool owned; /* by the VPS's root */
        } dirs[] = {{"upper", 0755, true},
                    {"work", 0700, true},
                    {"lower", 0755, false},
                    {"rootfs", 0755, false}};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                if (mkdirat(dfd, dirs[i].name, dirs[i].mode) < 0)
                        return vps_err_sys(err, errno, "creating %s", dirs[i].name);
                if (dirs[i].owned &&
                    fchownat(dfd, dirs[i].name, cfg->uid_base, cfg->uid_base, 0) < 0)
                        return vps_err_sys(err, errno, "chown %s", dirs[i].name);
        }
        int r = vps_disk_setup(m, dfd, cfg, err);
        return r < 0 ? r : vps_config_save(dfd, cfg, err);
}

int vps_manager_create(struct vps_manager *m, const struct vps_change *ch, struct vps_inst **ret,
                       vps_error *err)
{
        const char *id = ch->v.id, *ostemplate = ch->v.ostemplate;
        int r = vps_id_check(id, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i]->cfg.id, id) == 0)
                        return vps_err(err, EEXIST, "VPS %s already exists", id);
        _cleanup_json_ json_t *meta = NULL;
        if ((r = vps_template_get(m, ostemplate, &meta, err)) < 0)
                return r;
        /* Without a hostname the VPS is vps<ID> (an all-digit name is one resolvers and
         * tools may take for an address), or its ID where that makes too long a label (a
         * named ID of 61 to 63 characters). An ID may hold what no hostname can ('_'):
         * refused here, config.json would not load back. */
        char dflt[VPS_ID_MAX + 4];
        (void)snprintf(dflt, sizeof(dflt), "vps%s", id);
        if (strlen(dflt) > VPS_LABEL_MAX)
                (void)snprintf(dflt, sizeof(dflt), "%s", id);
        if (!VPS_CHANGE_GIVEN(ch, VPS_F_HOSTNAME) && (r = vps_hostname_check(dflt, err)) < 0)
                return vps_err_wrap(err, "VPS %s needs a hostname", id);
        struct vps_config base, cfg;
        vps_manager_new_config(m, &base);
        base.uid_base = alloc_uid_base(m);
        base.uid_count = VPS_UID_COUNT;
        base.created_at = time(NULL);
        (void)snprintf(base.id, sizeof(base.id), "%s", id);
        (void)snprintf(base.ostemplate, sizeof(base.ostemplate), "%s", ostemplate);
        (void)snprintf(base.hostname, sizeof(base.hostname), "%s", dflt);
        if ((r = vps_manager_create_config(m, &base, ch, &cfg, err)) < 0)
                return r;
        char tmp[96];
        (void)snprintf(tmp, sizeof(tmp), ".new-%s", id);
        vps_error ignored;
        (void)vps_rm_rf_at(m->vps_fd, tmp, &ignored);
        r = make_vps_dir(m, tmp, &cfg, err);
        bool published = false;
        if (r == 0 && renameat2(m->vps_fd, tmp, m->vps_fd, id, RENAME_NOREPLACE) < 0)
                r = errno == EEXIST ? vps_err(err, EEXIST, "VPS %s already exists", id)
                                    : vps_err_sys(err, errno, "publishing VPS %s", id);
        else if (r == 0)
                published = true;
        if (r == 0 && fsync(m->vps_fd) < 0)
                r = vps_err_sys(err, errno, "syncing %s/vps", m->root);
        if (r < 0) {
                (void)vps_rm_rf_at(m->vps_fd, tmp, &ignored);
                /* Ours only once the rename made it: an ID already on disk (a directory vpsd
                 * could not load) is someone's data. */
                if (published)
                        (void)vps_rm_rf_at(m->vps_fd, id, &ignored);
                vps_disk_release(m, cfg.projid);
                return vps_err_wrap(err, "creating VPS %s", id);
        }
        r = load_one(m, id, err);
        if (r < 0)
                return r;
        *ret = m->v[m->n - 1];
        return 0;
}

int vps_manager_unlink(struct vps_manager *m, struct vps_inst *vi, char *ret_trash, size_t size,
                       uint32_t *ret_projid, vps_error *err)
{
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY, "VPS %s is running; stop it first or use --force",
                               vi->cfg.id);
        /* .del-ID, or .del-ID.N while an earlier one of the same ID is still being removed. */
        int r = vps_trash_rename(m->vps_fd, vi->cfg.id, vi->cfg.id, ret_trash, size, err);
        if (r == -ENOENT)
                r = vps_err(err, ENOENT, "the directory of VPS %s is gone", vi->cfg.id);
        if (r < 0)
                return vps_err_wrap(err, "destroying VPS %s", vi->cfg.id);
        *ret_projid = vi->cfg.projid;
        /* Its boot id file in the run directory (sandbox/bootid.c keeps it after a start). */
        char boot_id[VPS_ID_MAX + 16];
        (void)snprintf(boot_id, sizeof(boot_id), "boot-id-%s", vi->cfg.id);
        if (m->run_fd >= 0)
                (void)unlinkat(m->run_fd, boot_id, 0);
        remove_inst(m, vi);
        return 0;
}

int vps_manager_destroy(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        char trash[VPS_ID_MAX + 16];
        uint32_t projid = 0; /* set when r is 0 (GCC -O3 cannot tell) */
        int r = vps_manager_unlink(m, vi, trash, sizeof(trash), &projid, err);
        if (r < 0)
                return r;
        r = vps_rm_rf_at(m->vps_fd, trash, err);
        if (r == 0)
                vps_disk_release(m, projid);
        return r;
}

int vps_manager_load(struct vps_manager *m, const char *id, struct vps_inst **ret, vps_error *err)
{
        int r = load_one(m, id, err);
        if (r == 0 && ret)
                *ret = m->v[m->n - 1];
        return r;
}

void vps_manager_forget(struct vps_manager *m, struct vps_inst *vi)
{
        remove_inst(m, vi);
}
