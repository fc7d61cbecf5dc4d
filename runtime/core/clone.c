/* libvps: clone of a VPS, the manager's (a create, then storage's capture): a new VPS
 * (created as `create` does: its own id range, disk project, hostname, addresses only when
 * given) whose upper layer is a copy of the source's,
 * owners, ACL ids and file capabilities moved into the new id range; a running source is
 * frozen for the copy (vps_capture_upper). Its settings (limits, netmode, name servers,
 * features, devnodes, rate, plan) are the source's; port forwards and onboot are not (a host
 * port is one VPS's). The new identity: no machine-id and no ssh host keys in the copy, so
 * the template's first-boot units make new ones; the MAC follows the new ID.
 * While the copy is made the new VPS's directory is vps/.clone-NEWID, which a vpsd that
 * starts removes: after a crash the clone is there whole or not at all. The copy is a step of
 * its own (vps_clone_copy) that vpsd runs in a child, off its loop. */
#include "core/core.h"
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLONE_PREFIX ".clone-"

/* What makes a guest itself: machine-id and ssh host keys, removed from the copy (only plain
 * files, each opened without following anything: the tree is the guest's). */
static void drop_identity(int upper)
{
        _cleanup_close_ int etc =
                openat(upper, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (etc < 0)
                return;
        struct stat st;
        if (fstatat(etc, "machine-id", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                (void)unlinkat(etc, "machine-id", 0);
        _cleanup_close_ int ssh =
                openat(etc, "ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = ssh >= 0 ? vps_opendir_fd(ssh) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strncmp(de->d_name, "ssh_host_", 9) == 0 &&
                    fstatat(ssh, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        (void)unlinkat(ssh, de->d_name, 0);
}

/* The source's settings under the new VPS's identity. */
static int take_settings(struct vps_inst *src, struct vps_inst *dst, vps_error *err)
{
        struct vps_config c = src->cfg;
        const struct vps_config *n = &dst->cfg;
        memcpy(c.id, n->id, sizeof(c.id));
        memcpy(c.hostname, n->hostname, sizeof(c.hostname));
        memcpy(c.ip, n->ip, sizeof(c.ip));
        c.n_ip = n->n_ip;
        c.uid_base = n->uid_base;
        c.uid_count = n->uid_count;
        c.projid = n->projid;
        c.created_at = n->created_at;
        c.n_fwd = 0;
        c.onboot = false;
        c.migrated_to[0] = '\0';
        int r = vps_config_save(dst->dir_fd, &c, err);
        if (r == 0)
                dst->cfg = c;
        return r;
}

int vps_clone_copy(struct vps_manager *m, struct vps_inst *src, struct vps_inst *dst,
                   const struct vps_copy_progress *pr, struct vps_capture *cap, vps_error *err)
{
        *cap = (struct vps_capture){0};
        _cleanup_close_ int up =
                openat(dst->dir_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0)
                return vps_err_sys(err, errno, "opening the clone's upper layer");
        struct vps_copy_opts o = {.shift_from = src->cfg.uid_base,
                                  .shift_to = dst->cfg.uid_base,
                                  .shift_count = src->cfg.uid_count,
                                  .progress = pr};
        int r = vps_capture_upper(m, src, up, &o, cap, err);
        if (r == 0) {
                drop_identity(up);
                r = take_settings(src, dst, err);
        }
        if (r < 0) {
                /* The partial copy goes here, off the caller's loop; vps_clone_end removes
                 * what little is left. */
                vps_error e;
                (void)vps_rm_rf_at(dst->dir_fd, "upper", &e);
                return vps_err_wrap(err, "cloning VPS %s to %s", src->cfg.id, dst->cfg.id);
        }
        return 0;
}

int vps_clone_begin(struct vps_manager *m, struct vps_inst *src, const char *new_id,
                    const char *hostname, char ips[][VPS_IP_MAX], unsigned int n_ip,
                    struct vps_inst **ret, vps_error *err)
{
        if (src->status == VPS_STOPPING)
                return vps_err(err, EBUSY, "VPS %s is stopping; try again when it has stopped",
                               src->cfg.id);
        char src_id[VPS_ID_MAX + 1];
        (void)snprintf(src_id, sizeof(src_id), "%s", src->cfg.id);
        /* A create of the source's template, netmode and limits (a change set over the
         * defaults), with the clone's own name and addresses. */
        struct vps_change ch = {.create = true,
                                .given = 1u << VPS_F_NETMODE | 1u << VPS_F_IP | 1u << VPS_F_LIMITS};
        (void)snprintf(ch.v.id, sizeof(ch.v.id), "%s", new_id);
        (void)snprintf(ch.v.ostemplate, sizeof(ch.v.ostemplate), "%s", src->cfg.ostemplate);
        ch.v.netmode = src->cfg.netmode;
        ch.v.limits = src->cfg.limits;
        if (n_ip > VPS_MAX_IPS)
                return vps_err(err, EINVAL, "at most %d addresses per VPS", VPS_MAX_IPS);
        for (unsigned int i = 0; i < n_ip; i++)
                memcpy(ch.v.ip[i], ips[i], sizeof(ch.v.ip[i]));
        ch.v.n_ip = n_ip;
        int r = 0;
        if (hostname && *hostname) {
                if ((r = vps_hostname_check(hostname, err)) < 0)
                        return r;
                ch.given |= 1u << VPS_F_HOSTNAME;
                (void)snprintf(ch.v.hostname, sizeof(ch.v.hostname), "%s", hostname);
        }
        struct vps_inst *dst = NULL;
        r = vps_manager_create(m, &ch, &dst, err);
        if (r < 0)
                return vps_err_wrap(err, "cloning VPS %s", src_id);
        char tmp[VPS_ID_MAX + 16];
        (void)snprintf(tmp, sizeof(tmp), CLONE_PREFIX "%s", new_id);
        vps_error e;
        (void)vps_rm_rf_at(m->vps_fd, tmp, &e);
        /* Hidden while it fills: a crash leaves a name the next vpsd removes. */
        if (renameat(m->vps_fd, new_id, m->vps_fd, tmp) < 0) {
                r = vps_err_sys(err, errno, "cloning VPS %s", src_id);
                (void)vps_manager_destroy(m, dst, &e);
                return r;
        }
        (void)fsync(m->vps_fd);
        *ret = dst;
        return 0;
}

int vps_clone_end(struct vps_manager *m, struct vps_inst *dst, int r, vps_error *err)
{
        char tmp[VPS_ID_MAX + 16], id[VPS_ID_MAX + 1];
        (void)snprintf(id, sizeof(id), "%s", dst->cfg.id);
        (void)snprintf(tmp, sizeof(tmp), CLONE_PREFIX "%s", id);
        /* The copy's settings (the source's, saved by vps_clone_copy) taken in. */
        struct vps_config c;
        if (r == 0 && (r = vps_config_load(dst->dir_fd, &c, err)) == 0)
                dst->cfg = c;
        if (r == 0 && renameat2(m->vps_fd, tmp, m->vps_fd, id, RENAME_NOREPLACE) < 0)
                r = vps_err_sys(err, errno, "publishing VPS %s", id);
        if (r == 0) {
                (void)fsync(m->vps_fd);
                return 0;
        }
        /* Not published: forgotten, and what is left of it removed (vps_clone_copy removed
         * its copy; a copy cut short by a signal stays for vpsd's next start). */
        uint32_t projid = dst->cfg.projid;
        vps_manager_forget(m, dst);
        vps_error e;
        if (vps_rm_rf_at(m->vps_fd, tmp, &e) == 0)
                vps_disk_release(m, projid);
        (void)fsync(m->vps_fd);
        return r;
}
