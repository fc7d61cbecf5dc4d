/* libvps: named snapshots of a VPS's upper layer (see storage/storage.h for the layout on
 * disk and what a crash leaves). Every name is checked before it is used as a path; every
 * path is taken relative to the VPS's own directory fd, never followed. */
#include "storage/storage.h"
#include "quota/quota.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".tmp-"
#define SWITCH_TMP ".switch-upper"

int vps_snapshot_name_check(const char *name, vps_error *err)
{
        size_t n = strlen(name);
        if (n == 0)
                return vps_err(err, EINVAL, "the snapshot name is empty");
        if (n > VPS_SNAPSHOT_NAME_MAX)
                return vps_err(err, EINVAL, "snapshot name too long (at most %d characters)",
                               VPS_SNAPSHOT_NAME_MAX);
        if (!isalnum((unsigned char)name[0]))
                return vps_err(err, EINVAL,
                               "bad snapshot name '%.64s': it must start with a letter or digit",
                               name);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)name[i];
                if (!isalnum(c) && c != '.' && c != '_' && c != '-')
                        return vps_err(err, EINVAL,
                                       "bad snapshot name: character 0x%02x not allowed "
                                       "(letters, digits, '.', '_', '-')",
                                       c);
        }
        if (strstr(name, ".."))
                return vps_err(err, EINVAL, "bad snapshot name '%s': '..' not allowed", name);
        return 0;
}

static int desc_check(const char *d, vps_error *err)
{
        if (strlen(d) > VPS_SNAPSHOT_DESC_MAX)
                return vps_err(err, EINVAL, "description too long (at most %d bytes)",
                               VPS_SNAPSHOT_DESC_MAX);
        for (const unsigned char *p = (const unsigned char *)d; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return vps_err(err, EINVAL, "the description holds a control character");
        return 0;
}

/* ID/snapshots, created when create is set; -ENOENT when absent and not. */
static int open_snapdir(struct vps_inst *vi, bool create, vps_error *err)
{
        if (create && mkdirat(vi->dir_fd, "snapshots", 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating the snapshot directory");
        int fd = openat(vi->dir_fd, "snapshots", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !create)
                return -ENOENT;
        if (fd < 0)
                return vps_err_sys(err, errno, "opening the snapshot directory");
        return fd;
}

static int not_found(struct vps_inst *vi, const char *name, vps_error *err)
{
        return vps_err(err, ENOENT, "VPS %s has no snapshot '%s'", vi->cfg.id, name);
}

int vps_snapshot_open(struct vps_inst *vi, int *ret_snaps, const char *name, vps_error *err)
{
        int r = vps_snapshot_name_check(name, err);
        if (r < 0)
                return r;
        int s = open_snapdir(vi, false, err);
        if (s == -ENOENT)
                return not_found(vi, name, err);
        if (s < 0)
                return s;
        int fd = openat(s, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                close(s);
                return e == ENOENT ? not_found(vi, name, err)
                                   : vps_err_sys(err, e, "opening snapshot %s", name);
        }
        *ret_snaps = s;
        return fd;
}

static json_t *meta_load(int snaps_fd, const char *name)
{
        _cleanup_close_ int fd =
                openat(snaps_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ char *text = NULL;
        size_t len;
        vps_error e;
        if (fd < 0 || vps_read_file_at(fd, "meta.json", &text, &len, &e) < 0)
                return NULL;
        json_t *j = json_loadb(text, len, 0, NULL);
        if (j && !json_is_object(j)) {
                json_decref(j);
                return NULL;
        }
        return j;
}

static void default_name(int snaps_fd, char *buf, size_t size)
{
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char base[32];
        (void)strftime(base, sizeof(base), "%Y%m%d-%H%M%S", &tm);
        (void)snprintf(buf, size, "%s", base);
        for (int i = 2; i < 100 && faccessat(snaps_fd, buf, F_OK, AT_SYMLINK_NOFOLLOW) == 0; i++)
                (void)snprintf(buf, size, "%s-%d", base, i);
}

static int write_meta(int dir_fd, json_t *meta, vps_error *err)
{
        _cleanup_free_ char *text = json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_atomic(dir_fd, "meta.json", text, strlen(text), 0600, err);
}

/* Makes the snapshot in snaps/TMP: upper/ captured, meta.json written. */
static int make_snapshot(struct vps_manager *m, struct vps_inst *vi, int snaps, const char *tmp,
                         const struct vps_copy_progress *pr, json_t *meta, vps_error *err)
{
        if (mkdirat(snaps, tmp, 0700) < 0)
                return vps_err_sys(err, errno, "creating %s", tmp);
        _cleanup_close_ int dir =
                openat(snaps, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0 || mkdirat(dir, "upper", 0700) < 0)
                return vps_err_sys(err, errno, "creating %s", tmp);
        _cleanup_close_ int up =
                openat(dir, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0)
                return vps_err_sys(err, errno, "opening %s/upper", tmp);
        struct vps_capture cap;
        struct vps_copy_opts o = {.progress = pr};
        int r = vps_capture_upper(m, vi, up, &o, &cap, err);
        if (r < 0)
                return r;
        json_object_set_new(meta, "frozen_ms", json_real((double)(cap.frozen_us / 10) / 100.0));
        json_object_set_new(meta, "total_ms", json_real((double)(cap.total_us / 10) / 100.0));
        json_object_set_new(meta, "size", json_integer((json_int_t)cap.copy.bytes));
        json_object_set_new(meta, "files", json_integer((json_int_t)cap.copy.files));
        json_object_set_new(meta, "reflinked", json_integer((json_int_t)cap.copy.reflinked));
        return write_meta(dir, meta, err);
}

int vps_snapshot_create(struct vps_manager *m, struct vps_inst *vi, const char *name,
                        const char *description, const struct vps_copy_progress *pr, json_t **ret,
                        vps_error *err)
{
        int r;
        if (name && *name && (r = vps_snapshot_name_check(name, err)) < 0)
                return r;
        if (description && (r = desc_check(description, err)) < 0)
                return r;
        _cleanup_close_ int snaps = open_snapdir(vi, true, err);
        if (snaps < 0)
                return snaps;
        char nm[VPS_SNAPSHOT_NAME_MAX + 1];
        if (name && *name)
                (void)snprintf(nm, sizeof(nm), "%s", name);
        else
                default_name(snaps, nm, sizeof(nm));
        if (faccessat(snaps, nm, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return vps_err(err, EEXIST, "VPS %s already has a snapshot '%s'", vi->cfg.id, nm);
        char tmp[VPS_SNAPSHOT_NAME_MAX + 8];
        (void)snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", nm);
        vps_error ignored;
        (void)vps_rm_rf_at(snaps, tmp, &ignored);
        _cleanup_json_ json_t *meta =
                json_pack("{s:s, s:s, s:I, s:s, s:b}", "name", nm, "description",
                          description ? description : "", "created_at", (json_int_t)time(NULL),
                          "ostemplate", vi->cfg.ostemplate, "running", vi->status == VPS_RUNNING);
        if (!meta)
                return vps_err(err, ENOMEM, "out of memory");
        r = make_snapshot(m, vi, snaps, tmp, pr, meta, err);
        if (r == 0 && renameat2(snaps, tmp, snaps, nm, RENAME_NOREPLACE) < 0)
                r = errno == EEXIST ? vps_err(err, EEXIST, "VPS %s already has a snapshot '%s'",
                                              vi->cfg.id, nm)
                                    : vps_err_sys(err, errno, "publishing snapshot %s", nm);
        if (r == 0 && fsync(snaps) < 0)
                r = vps_err_sys(err, errno, "syncing the snapshot directory");
        if (r < 0) {
                (void)vps_rm_rf_at(snaps, tmp, &ignored);
                return vps_err_wrap(err, "snapshot '%s' of VPS %s", nm, vi->cfg.id);
        }
        json_object_set_new(meta, "mounted", json_false());
        *ret = TAKE_PTR(meta);
        return 0;
}

static int by_created(const void *a, const void *b)
{
        json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
        json_int_t tx = json_integer_value(json_object_get(x, "created_at"));
        json_int_t ty = json_integer_value(json_object_get(y, "created_at"));
        if (tx != ty)
                return tx < ty ? -1 : 1;
        return strcmp(json_string_value(json_object_get(x, "name")),
                      json_string_value(json_object_get(y, "name")));
}

/* Each published snapshot's meta.json, oldest first; entries starting with '.' are work in
 * progress or debris. */
static int load_all(struct vps_inst *vi, json_t **ret, vps_error *err)
{
        json_t *arr = json_array();
        *ret = arr;
        if (!arr)
                return vps_err(err, ENOMEM, "out of memory");
        _cleanup_close_ int snaps = open_snapdir(vi, false, err);
        if (snaps == -ENOENT)
                return 0;
        if (snaps < 0)
                return snaps;
        _cleanup_closedir_ DIR *d = vps_opendir_fd(snaps);
        if (!d)
                return vps_err_sys(err, errno, "reading the snapshot directory");
        struct dirent *de;
        while ((de = readdir(d))) {
                vps_error e;
                if (de->d_name[0] == '.' || vps_snapshot_name_check(de->d_name, &e) < 0)
                        continue;
                json_t *meta = meta_load(snaps, de->d_name);
                if (!meta)
                        continue;
                json_object_set_new(meta, "name", json_string(de->d_name));
                _cleanup_close_ int sfd =
                        openat(snaps, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                char at[512];
                const char *dir = sfd >= 0 ? vps_snapshot_mounted_at(sfd, at, sizeof(at)) : NULL;
                json_object_set_new(meta, "mounted", dir ? json_string(dir) : json_false());
                json_array_append_new(arr, meta);
        }
        size_t n = json_array_size(arr);
        json_t **v = calloc(n ? n : 1, sizeof(*v));
        if (!v)
                return vps_err(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                v[i] = json_incref(json_array_get(arr, i));
        qsort(v, n, sizeof(*v), by_created);
        json_array_clear(arr);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, v[i]);
        free(v);
        return 0;
}

int vps_snapshot_list(struct vps_manager *m, struct vps_inst *vi, json_t **ret, vps_error *err)
{
        (void)m;
        json_t *arr = NULL;
        int r = load_all(vi, &arr, err);
        if (r < 0) {
                json_decref(arr);
                return r;
        }
        *ret = arr;
        return 0;
}

json_t *vps_snapshot_usage(struct vps_inst *vi)
{
        json_t *arr = NULL;
        vps_error e;
        json_int_t size = 0;
        size_t n = 0;
        if (load_all(vi, &arr, &e) == 0) {
                n = json_array_size(arr);
                for (size_t i = 0; i < n; i++)
                        size += json_integer_value(json_object_get(json_array_get(arr, i), "size"));
        }
        json_decref(arr);
        return json_pack("{s:I, s:I}", "count", (json_int_t)n, "size", size);
}

int vps_snapshot_delete(struct vps_manager *m, struct vps_inst *vi, const char *name,
                        vps_error *err)
{
        (void)m;
        _cleanup_close_ int snaps = -1;
        _cleanup_close_ int fd = vps_snapshot_open(vi, &snaps, name, err);
        if (fd < 0)
                return fd;
        char at[512];
        /* Where it is mounted is the host's (a token may delete snapshots): not named here;
         * snapshot-list shows it to the admin. */
        if (vps_snapshot_mounted_at(fd, at, sizeof(at)))
                return vps_err(err, EBUSY, "snapshot '%s' is mounted: snapshot-umount it first",
                               name);
        /* Gone from the list at once; its files, the caller's to remove off its loop, are
         * snapshots/.del-NAME (.N) until then. */
        char del[NAME_MAX + 1];
        int r = vps_trash_rename(snaps, name, name, del, sizeof(del), err);
        if (r == -ENOENT)
                r = vps_err(err, ENOENT, "no snapshot '%s'", name);
        return r < 0 ? vps_err_wrap(err, "deleting snapshot %s", name) : 0;
}

/* ID/.switch-upper (a copy, or after the switch the old layer: the guest's files) out of
 * the way as ID/.del-upper (.N), for the caller to remove off its loop. */
static int drop_switch_tmp(struct vps_inst *vi, vps_error *err)
{
        char trash[NAME_MAX + 1];
        int r = vps_trash_rename(vi->dir_fd, SWITCH_TMP, "upper", trash, sizeof(trash), err);
        return r == -ENOENT ? 0 : r;
}

/* A copy of the snapshot's upper/ in ID/.switch-upper, in the VPS's disk project. */
static int stage_upper(struct vps_manager *m, struct vps_inst *vi, int snap_fd,
                       const struct vps_copy_opts *o, struct vps_copy_stats *st, vps_error *err)
{
        int r = drop_switch_tmp(vi, err);
        if (r < 0)
                return r;
        if (mkdirat(vi->dir_fd, SWITCH_TMP, 0700) < 0)
                return vps_err_sys(err, errno, "creating %s", SWITCH_TMP);
        _cleanup_close_ int dst =
                openat(vi->dir_fd, SWITCH_TMP, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int src =
                openat(snap_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0 || src < 0)
                return vps_err_sys(err, errno, "opening the snapshot's upper layer");
        /* Before anything is in it: what is made inside inherits the project. */
        if (m->quota_ok && vi->cfg.projid && (r = vq_project_assign(dst, vi->cfg.projid, err)) < 0)
                return r;
        if ((r = vps_tree_copy(src, dst, o, st, err)) < 0)
                return r;
        if (syncfs(dst) < 0)
                return vps_err_sys(err, errno, "flushing the copy");
        return 0;
}

/* What refuses a switch to name, whatever the VPS's state: a bad or missing name, another
 * template. */
static int switch_check(struct vps_inst *vi, const char *name, int *ret_snaps, vps_error *err)
{
        int fd = vps_snapshot_open(vi, ret_snaps, name, err);
        if (fd < 0)
                return fd;
        _cleanup_json_ json_t *meta = meta_load(*ret_snaps, name);
        const char *tpl = json_string_value(json_object_get(meta, "ostemplate"));
        if (tpl && strcmp(tpl, vi->cfg.ostemplate) != 0) {
                close(fd);
                return vps_err(err, EXDEV,
                               "snapshot '%s' was taken over template %s, VPS %s now runs %s", name,
                               tpl, vi->cfg.id, vi->cfg.ostemplate);
        }
        return fd;
}

int vps_snapshot_switch_check(struct vps_inst *vi, const char *name, vps_error *err)
{
        _cleanup_close_ int snaps = -1;
        _cleanup_close_ int fd = switch_check(vi, name, &snaps, err);
        return fd < 0 ? fd : 0;
}

int vps_snapshot_switch(struct vps_manager *m, struct vps_inst *vi, const char *name,
                        const struct vps_copy_progress *pr, struct vps_copy_stats *ret,
                        vps_error *err)
{
        _cleanup_close_ int snaps = -1;
        _cleanup_close_ int fd = switch_check(vi, name, &snaps, err);
        if (fd < 0)
                return fd;
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY,
                               "VPS %s is running: stop it first (vpsctl snapshot-switch does)",
                               vi->cfg.id);
        struct vps_copy_opts o = {.progress = pr};
        *ret = (struct vps_copy_stats){0};
        int r = stage_upper(m, vi, fd, &o, ret, err);
        /* The one step that switches: before it the old layer is whole, after it the new. */
        if (r == 0 && renameat2(vi->dir_fd, SWITCH_TMP, vi->dir_fd, "upper", RENAME_EXCHANGE) < 0)
                r = vps_err_sys(err, errno, "switching the upper layer");
        if (r == 0)
                (void)fsync(vi->dir_fd);
        vps_error e;
        (void)drop_switch_tmp(vi, &e); /* else the next start moves it */
        return r < 0 ? vps_err_wrap(err, "switching VPS %s to snapshot %s", vi->cfg.id, name) : 0;
}

void vps_snapshot_recover(struct vps_manager *m, struct vps_inst *vi)
{
        vps_error e;
        /* First: a committed reinstall publishes its .tmp- snapshot. */
        vps_reinstall_recover(m, vi);
        (void)drop_switch_tmp(vi, &e);
        /* A copy cut short by a crash left it frozen; a paused one stays so. */
        if (vi->status == VPS_RUNNING && vi->st.cgroup[0] && !vi->st.paused)
                (void)vps_cgroup_thaw(vi->st.cgroup, &e);
        _cleanup_close_ int snaps = open_snapdir(vi, false, &e);
        if (snaps < 0)
                return;
        _cleanup_closedir_ DIR *d = vps_opendir_fd(snaps);
        if (!d)
                return;
        /* Half-made copies go; deleted snapshots (.del-*, the guest's files of any size)
         * are left to the caller's sweep, off its loop. */
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
                        (void)vps_rm_rf_at(snaps, de->d_name, &e);
}
