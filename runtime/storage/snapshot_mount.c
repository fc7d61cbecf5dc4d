/* libvps: a snapshot shown read-only on a host directory (snapshot-mount), to fetch single
 * files back: an overlay of the snapshot's upper layer over its template, mounted read-only,
 * nosuid, nodev, noexec. The directory is the operator's, given through the API: an absolute
 * path without "..", resolved with no symlink anywhere on it, an empty directory outside the
 * state root. The mount is recorded in the snapshot's mount.json (its directory and mount
 * id); the umount checks that the directory still holds that very mount. */
#include "storage/storage.h"
#include "vps/cleanup.h"
#include "vps/safepath.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MOUNT_REC "mount.json"
#define MOUNT_TOP "mount-top" /* the overlay's topmost layer (top_layer) */

/* The mount id of what fd is on (unique over the boot where the kernel has it). */
static uint64_t mount_id(int fd)
{
        struct statx sx;
#ifdef STATX_MNT_ID_UNIQUE
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &sx) == 0 &&
            (sx.stx_mask & STATX_MNT_ID_UNIQUE))
                return sx.stx_mnt_id;
#endif
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID))
                return sx.stx_mnt_id;
        return 0;
}

/* An operator's directory: absolute, no "..", no symlink, not under the state root. */
static int open_target(struct vps_manager *m, const char *dir, vps_error *err)
{
        if (dir[0] != '/')
                return vps_err(err, EINVAL, "the mount directory must be an absolute path: %s",
                               dir);
        if (strlen(dir) >= 512)
                return vps_err(err, ENAMETOOLONG, "the mount directory's path is too long");
        for (const char *p = dir; (p = strstr(p, "..")); p += 2)
                if ((p == dir || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
                        return vps_err(err, EINVAL, "'..' in the mount directory: %s", dir);
        size_t rl = strlen(m->root);
        if (strncmp(dir, m->root, rl) == 0 && (dir[rl] == '/' || dir[rl] == '\0'))
                return vps_err(err, EPERM, "%s is inside vpsd's state root", dir);
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd = root < 0 ? -errno
                          : vps_open_in_root_how(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                                 VPS_RESOLVE_NO_SYMLINKS, err);
        if (fd < 0)
                return vps_err_wrap(err, "mount directory %s", dir);
        _cleanup_closedir_ DIR *d = vps_opendir_fd(fd);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        close(fd);
                        return vps_err(err, ENOTEMPTY, "mount directory %s is not empty", dir);
                }
        return fd;
}

static json_t *rec_load(int snap_fd)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        vps_error e;
        if (vps_read_file_at(snap_fd, MOUNT_REC, &text, &len, &e) < 0)
                return NULL;
        json_t *j = json_loadb(text, len, 0, NULL);
        if (j && !json_is_string(json_object_get(j, "dir"))) {
                json_decref(j);
                return NULL;
        }
        return j;
}

static int rec_save(int snap_fd, const char *dir, uint64_t id, vps_error *err)
{
        _cleanup_json_ json_t *j = json_pack("{s:s, s:I}", "dir", dir, "mnt_id", (json_int_t)id);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_atomic(snap_fd, MOUNT_REC, text, strlen(text), 0600, err);
}

/* The recorded directory, opened, when it still holds the recorded mount (the root of an
 * overlay, and the same mount id when one was recorded); -ENOENT otherwise. */
static int open_recorded(json_t *rec, vps_error *err)
{
        const char *dir = json_string_value(json_object_get(rec, "dir"));
        uint64_t want = (uint64_t)json_integer_value(json_object_get(rec, "mnt_id"));
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        vps_error e;
        _cleanup_close_ int fd =
                root < 0 || !dir ? -1
                                 : vps_open_in_root_how(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
                                                        0, VPS_RESOLVE_NO_SYMLINKS, &e);
        struct statx sx;
        struct statfs sf;
        if (fd < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) < 0 ||
            !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) || fstatfs(fd, &sf) < 0 ||
            sf.f_type != 0x794c7630 /* OVERLAYFS_SUPER_MAGIC */ || (want && mount_id(fd) != want)) {
                (void)err;
                return -ENOENT;
        }
        return TAKE_FD(fd);
}

const char *vps_snapshot_mounted_at(int snap_fd, char *buf, size_t size)
{
        _cleanup_json_ json_t *rec = rec_load(snap_fd);
        vps_error e;
        _cleanup_close_ int fd = rec ? open_recorded(rec, &e) : -1;
        if (fd < 0)
                return NULL;
        (void)snprintf(buf, size, "%s", json_string_value(json_object_get(rec, "dir")));
        return buf;
}

/* The overlay's topmost layer: an empty directory of root's, mode 0700. A merged directory
 * takes its owner and mode from the topmost layer holding it, so the mount's root is closed
 * to every host user but root wherever DIR is (the guest's root, 0755, would show every host
 * user what the guest left readable: its configs, its sites' passwords). */
static int top_layer(int snap_fd, vps_error *err)
{
        if (mkdirat(snap_fd, MOUNT_TOP, 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "making the mount's top layer");
        _cleanup_close_ int fd =
                openat(snap_fd, MOUNT_TOP, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fchown(fd, 0, 0) < 0 || fchmod(fd, 0700) < 0 || fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "making the mount's top layer");
        _cleanup_closedir_ DIR *d = vps_opendir_fd(fd);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        return vps_err(err, ENOTEMPTY, "the mount's top layer is not empty");
        return TAKE_FD(fd);
}

static int overlay_of(struct vps_manager *m, struct vps_inst *vi, int snap_fd, vps_error *err)
{
        char tpl[600];
        (void)snprintf(tpl, sizeof(tpl), "templates/%s/rootfs", vi->cfg.ostemplate);
        _cleanup_close_ int lower =
                openat(m->root_fd, tpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int upper =
                openat(snap_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (lower < 0 || upper < 0)
                return vps_err_sys(err, errno, "opening the layers (template %s)",
                                   vi->cfg.ostemplate);
        _cleanup_close_ int top = top_layer(snap_fd, err);
        if (top < 0)
                return top;
        char layers[120];
        (void)snprintf(layers, sizeof(layers), "/proc/self/fd/%d:/proc/self/fd/%d:/proc/self/fd/%d",
                       top, upper, lower);
        _cleanup_close_ int fs = vps_sys_fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0 || vps_sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", layers, 0) < 0 ||
            vps_sys_fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
            vps_sys_fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            vps_sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vps_err_sys(err, errno, "creating the overlay");
        int mnt = vps_sys_fsmount(fs, FSMOUNT_CLOEXEC,
                                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                          MOUNT_ATTR_NOEXEC);
        return mnt < 0 ? vps_err_sys(err, errno, "mounting the overlay") : mnt;
}

int vps_snapshot_mount(struct vps_manager *m, struct vps_inst *vi, const char *name,
                       const char *dir, vps_error *err)
{
        _cleanup_close_ int snaps = -1;
        _cleanup_close_ int snap = vps_snapshot_open(vi, &snaps, name, err);
        if (snap < 0)
                return snap;
        char at[512];
        if (vps_snapshot_mounted_at(snap, at, sizeof(at)))
                return vps_err(err, EBUSY, "snapshot '%s' is mounted at %s already", name, at);
        _cleanup_close_ int target = open_target(m, dir, err);
        if (target < 0)
                return target;
        _cleanup_close_ int mnt = overlay_of(m, vi, snap, err);
        if (mnt < 0)
                return vps_err_wrap(err, "mounting snapshot %s", name);
        /* Recorded before it exists (a crash then leaves a record the umount checks). */
        int r = rec_save(snap, dir, 0, err);
        if (r < 0)
                return r;
        if (vps_sys_move_mount(mnt, "", target, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                r = vps_err_sys(err, errno, "mounting snapshot %s on %s", name, dir);
                (void)unlinkat(snap, MOUNT_REC, 0);
                return r;
        }
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        vps_error e;
        _cleanup_close_ int now = vps_open_in_root_how(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
                                                       0, VPS_RESOLVE_NO_SYMLINKS, &e);
        if (now >= 0)
                (void)rec_save(snap, dir, mount_id(now), &e);
        return 0;
}

int vps_snapshot_umount(struct vps_manager *m, struct vps_inst *vi, const char *name, char *ret_dir,
                        size_t size, vps_error *err)
{
        (void)m;
        _cleanup_close_ int snaps = -1;
        _cleanup_close_ int snap = vps_snapshot_open(vi, &snaps, name, err);
        if (snap < 0)
                return snap;
        _cleanup_json_ json_t *rec = rec_load(snap);
        if (!rec)
                return vps_err(err, EALREADY, "snapshot '%s' is not mounted", name);
        (void)snprintf(ret_dir, size, "%s", json_string_value(json_object_get(rec, "dir")));
        _cleanup_close_ int fd = open_recorded(rec, err);
        if (fd >= 0) {
                char via[40];
                (void)snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
                if (umount2(via, MNT_DETACH) < 0)
                        return vps_err_sys(err, errno, "unmounting snapshot %s from %s", name,
                                           ret_dir);
        }
        /* Gone already (a reboot, an operator's umount): only the record is left to drop. */
        if (unlinkat(snap, MOUNT_REC, 0) < 0 && errno != ENOENT)
                return vps_err_sys(err, errno, "forgetting the mount of snapshot %s", name);
        return 0;
}

void vps_snapshot_umount_all(struct vps_manager *m, struct vps_inst *vi)
{
        _cleanup_close_ int snaps =
                openat(vi->dir_fd, "snapshots", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = snaps >= 0 ? vps_opendir_fd(snaps) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                vps_error e;
                char dir[512];
                if (de->d_name[0] != '.' && vps_snapshot_name_check(de->d_name, &e) == 0 &&
                    faccessat(snaps, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        (void)vps_snapshot_umount(m, vi, de->d_name, dir, sizeof(dir), &e);
        }
}
