/* libvps: reinstall of a stopped VPS: a fresh, empty upper layer over its template (the same
 * or another), its ID, limits, addresses and hostname kept; the old upper layer kept as a
 * snapshot (moved, not copied) unless keep is false.
 *
 * Crash safety by a journal: everything is prepared under names a start-up removes
 * (ID/.reinstall-new, snapshots/.tmp-NAME), then ID/reinstall.json is written (the commit
 * point), then each step is done so that doing it again is harmless. A vpsd that starts
 * and finds the journal finishes the reinstall (vps_reinstall_recover); without it, the
 * prepared names are debris and go. */
#include "storage/storage.h"
#include "quota/quota.h"
#include "template/template.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL "reinstall.json"
#define NEW_UP  ".reinstall-new"
#define OLD_UP  ".reinstall-old"

static bool exists_at(int dfd, const char *name)
{
        return faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The old upper layer (the guest's files, of any size) out of the way as ID/.del-upper (.N),
 * for the caller to remove off its loop. */
static int drop_old(struct vps_inst *vi, vps_error *err)
{
        char trash[NAME_MAX + 1];
        int r = vps_trash_rename(vi->dir_fd, OLD_UP, "upper", trash, sizeof(trash), err);
        return r == -ENOENT ? 0 : r;
}

/* The steps after the commit point; each one again is harmless. */
static int roll_forward(struct vps_inst *vi, const char *tpl, const char *snap, vps_error *err)
{
        _cleanup_close_ int snaps = -1, tmp = -1;
        char tmpname[VPS_SNAPSHOT_NAME_MAX + 8];
        if (snap) {
                (void)snprintf(tmpname, sizeof(tmpname), ".tmp-%s", snap);
                snaps = openat(vi->dir_fd, "snapshots",
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (snaps < 0)
                        return vps_err_sys(err, errno, "opening the snapshot directory");
                tmp = openat(snaps, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (exists_at(vi->dir_fd, NEW_UP)) {
                /* The old layer out of the way (into the snapshot, or to be removed)... */
                if (exists_at(vi->dir_fd, "upper") &&
                    (tmp >= 0 ? renameat(vi->dir_fd, "upper", tmp, "upper")
                              : renameat(vi->dir_fd, "upper", vi->dir_fd, OLD_UP)) < 0)
                        return vps_err_sys(err, errno, "moving the old upper layer");
                /* ...and the new one in its place. */
                if (renameat(vi->dir_fd, NEW_UP, vi->dir_fd, "upper") < 0)
                        return vps_err_sys(err, errno, "putting the new upper layer in place");
        }
        if (tmp >= 0 && renameat2(snaps, tmpname, snaps, snap, RENAME_NOREPLACE) < 0)
                return vps_err_sys(err, errno, "publishing snapshot %s", snap);
        if (tmp >= 0)
                (void)fsync(snaps); /* the kept snapshot's name made durable */
        if (strcmp(vi->cfg.ostemplate, tpl) != 0) {
                struct vps_config c = vi->cfg;
                (void)snprintf(c.ostemplate, sizeof(c.ostemplate), "%s", tpl);
                int r = vps_config_save(vi->dir_fd, &c, err);
                if (r < 0)
                        return r;
                vi->cfg = c;
        }
        vps_error e;
        if (drop_old(vi, err) < 0)
                return -err->code;
        /* What overlayfs left in its work dir belongs to the old layer. */
        _cleanup_close_ int work =
                openat(vi->dir_fd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (work >= 0)
                (void)vps_rm_rf_at(work, "work", &e);
        if (unlinkat(vi->dir_fd, JOURNAL, 0) < 0 && errno != ENOENT)
                return vps_err_sys(err, errno, "removing %s", JOURNAL);
        (void)fsync(vi->dir_fd);
        return 0;
}

/* An empty upper layer like create's: the VPS root's, 0755, in its disk project. */
static int make_new_upper(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        vps_error e;
        (void)vps_rm_rf_at(vi->dir_fd, NEW_UP, &e);
        if (mkdirat(vi->dir_fd, NEW_UP, 0755) < 0)
                return vps_err_sys(err, errno, "creating %s", NEW_UP);
        _cleanup_close_ int fd =
                openat(vi->dir_fd, NEW_UP, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchown(fd, vi->cfg.uid_base, vi->cfg.uid_base) < 0 || fchmod(fd, 0755) < 0)
                return vps_err_sys(err, errno, "preparing %s", NEW_UP);
        if (m->quota_ok && vi->cfg.projid)
                return vq_project_assign(fd, vi->cfg.projid, err);
        return 0;
}

/* snapshots/.tmp-NAME with its meta.json: the old layer moves into it. */
static int make_kept(struct vps_inst *vi, const struct vps_copy_progress *progress, char *name,
                     size_t size, vps_error *err)
{
        if (mkdirat(vi->dir_fd, "snapshots", 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating the snapshot directory");
        _cleanup_close_ int snaps =
                openat(vi->dir_fd, "snapshots", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (snaps < 0)
                return vps_err_sys(err, errno, "opening the snapshot directory");
        time_t t = time(NULL);
        struct tm tm;
        char stamp[32];
        gmtime_r(&t, &tm);
        (void)strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        (void)snprintf(name, size, "reinstall-%s", stamp);
        for (int i = 2; exists_at(snaps, name) && i < 100; i++)
                (void)snprintf(name, size, "reinstall-%s-%d", stamp, i);
        char tmp[VPS_SNAPSHOT_NAME_MAX + 8];
        (void)snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
        vps_error e;
        (void)vps_rm_rf_at(snaps, tmp, &e);
        if (mkdirat(snaps, tmp, 0700) < 0)
                return vps_err_sys(err, errno, "creating %s", tmp);
        _cleanup_close_ int dir =
                openat(snaps, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* The layer is moved into the snapshot: its figures from a walk (it is stopped). */
        struct vps_copy_stats use = {0};
        _cleanup_close_ int up =
                openat(vi->dir_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up >= 0)
                (void)vps_tree_usage_progress(up, progress, &use, &e);
        _cleanup_json_ json_t *meta = json_pack(
                "{s:s, s:s, s:I, s:s, s:b, s:f, s:f, s:I, s:I, s:I}", "name", name, "description",
                "the root before a reinstall", "created_at", (json_int_t)t, "ostemplate",
                vi->cfg.ostemplate, "running", 0, "frozen_ms", 0.0, "total_ms", 0.0, "size",
                (json_int_t)use.bytes, "files", (json_int_t)use.files, "reflinked", (json_int_t)0);
        _cleanup_free_ char *text = meta ? json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (dir < 0 || !text)
                return vps_err(err, dir < 0 ? errno : ENOMEM, "preparing snapshot %s", name);
        return vps_write_file_atomic(dir, "meta.json", text, strlen(text), 0600, err);
}

int vps_reinstall(struct vps_manager *m, struct vps_inst *vi, const char *ostemplate, bool keep,
                  const struct vps_copy_progress *progress, char *ret_snapshot, size_t size,
                  vps_error *err)
{
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY,
                               "VPS %s is running: stop it first (vpsctl reinstall does)",
                               vi->cfg.id);
        const char *tpl = ostemplate && *ostemplate ? ostemplate : vi->cfg.ostemplate;
        _cleanup_json_ json_t *meta = NULL;
        int r = vps_template_get(m, tpl, &meta, err);
        if (r < 0)
                return r;
        ret_snapshot[0] = '\0';
        r = make_new_upper(m, vi, err);
        if (r == 0 && keep)
                r = make_kept(vi, progress, ret_snapshot, size, err);
        _cleanup_json_ json_t *j =
                json_pack("{s:s, s:s?}", "template", tpl, "snapshot", keep ? ret_snapshot : NULL);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (r == 0 && !text)
                r = vps_err(err, ENOMEM, "out of memory");
        if (r == 0)
                r = vps_write_file_atomic(vi->dir_fd, JOURNAL, text, strlen(text), 0600, err);
        if (r < 0) {
                vps_error e;
                (void)vps_rm_rf_at(vi->dir_fd, NEW_UP, &e);
                vps_snapshot_recover(m, vi); /* the prepared .tmp- snapshot */
                return vps_err_wrap(err, "reinstalling VPS %s", vi->cfg.id);
        }
        r = roll_forward(vi, tpl, keep ? ret_snapshot : NULL, err);
        return r < 0 ? vps_err_wrap(err,
                                    "reinstalling VPS %s (vpsd finishes it when it starts "
                                    "again)",
                                    vi->cfg.id)
                     : 0;
}

void vps_reinstall_recover(struct vps_manager *m, struct vps_inst *vi)
{
        (void)m;
        _cleanup_free_ char *text = NULL;
        size_t len;
        vps_error e;
        if (vps_read_file_at(vi->dir_fd, JOURNAL, &text, &len, &e) == 0) {
                /* Committed: finished now; if it cannot be, everything stays for the next
                 * try (nothing of the old or new layer is removed). */
                _cleanup_json_ json_t *j = json_loadb(text, len, 0, NULL);
                const char *tpl = json_string_value(json_object_get(j, "template"));
                const char *snap = json_string_value(json_object_get(j, "snapshot"));
                if (tpl && (!snap || vps_snapshot_name_check(snap, &e) == 0) &&
                    vps_template_name_check(tpl, &e) == 0)
                        (void)roll_forward(vi, tpl, snap, &e);
                return;
        }
        (void)vps_rm_rf_at(vi->dir_fd, NEW_UP, &e);
        (void)drop_old(vi, &e);
}
