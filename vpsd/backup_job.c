/* vpsd: the child that writes a backup (backup_job.h). It reads the base's MANIFEST (an
 * incremental) from the stream, captures a running VPS's upper layer (frozen only for the
 * capture's catch-up), mounts the merged root for --full in a mount namespace of its own, and
 * writes the archive to the stream as 'D' frames with 'P' progress between them. */
#include "backup_job.h"

#include "checkpoint/checkpoint.h"

#include "log.h"
#include "storage/backup.h"
#include "storage/storage.h"
#include "stream.h"
#include "vps/cleanup.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <fts.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

struct out_ctx {
        int fd;
        vps_error *err;
        struct vpsd_progress pr;
};

static ssize_t out_write(void *arg, const void *buf, size_t len)
{
        struct out_ctx *o = arg;
        size_t done = 0;
        while (done < len) {
                size_t n = len - done > VPS_FRAME_MAX ? VPS_FRAME_MAX : len - done;
                if (vps_frame_write(o->fd, 'D', (const char *)buf + done, n, o->err) < 0)
                        return -o->err->code;
                done += n;
        }
        return (ssize_t)len;
}

static void on_progress(void *arg, const struct vps_backup_progress *p)
{
        struct out_ctx *o = arg;
        o->pr.files = o->pr.done = p->files;
        o->pr.bytes = p->bytes;
        vpsd_progress_update(&o->pr);
}

/* The paths the library's walk of path meets (its progress's files): path and everything
 * below it, not descending into another file system. Directories alone are stat'ed (a path
 * that cannot be is counted, which the walk of a merged root may skip: the last frame's total
 * is the count done). 0 when the tree cannot be read: the total is unknown. */
static uint64_t count_paths(const char *path)
{
        char *const argv[] = {(char *)path, NULL};
        FTS *fts = fts_open(argv, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR | FTS_NOSTAT, NULL);
        if (!fts)
                return 0;
        uint64_t n = 0;
        FTSENT *e;
        errno = 0;
        while ((e = fts_read(fts)))
                if (e->fts_info != FTS_DP && e->fts_info != FTS_ERR)
                        n++;
        bool failed = errno != 0;
        (void)fts_close(fts);
        return failed ? 0 : n;
}

/* An incremental's paths, about as many as its base lists here (root/ ones for --full): a
 * count without a walk of its own. The MANIFEST's lines after its first two (the format and
 * the base's id). */
static uint64_t count_base(const char *base, size_t len, bool full)
{
        uint64_t n = 0;
        int skip = 2;
        for (const char *p = base, *end = base + len, *nl; p < end; p = nl + 1) {
                if (!(nl = memchr(p, '\n', (size_t)(end - p))))
                        break;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                /* The path is the last field: only its first bytes are looked at. */
                const char *tab = *p == '-' || full ? NULL : memrchr(p, '\t', (size_t)(nl - p));
                if (*p != '-' &&
                    (full || !tab || (size_t)(nl - tab) < 6 || memcmp(tab + 1, "root/", 5)))
                        n++;
        }
        return n;
}

/* A running VPS's upper layer captured for its backup (snapshots/.tmp-backup-PID, which
 * vps_snapshot_recover removes after a crash): removed at the child's end. */
static int capture_dir = -1;
static char capture_name[64];

static void capture_drop(void)
{
        vps_error e;
        if (capture_dir >= 0 && capture_name[0])
                (void)vps_rm_rf_at(capture_dir, capture_name, &e);
        capture_name[0] = '\0';
}

_Noreturn static void child_fail(int fd, const vps_error *err)
{
        capture_drop();
        vpsd_stream_fail(fd, err);
}

/* The merged root of a stopped VPS, read-only, on its rootfs/ in a mount namespace of the
 * child's own: upper/ over the template, as the VPS sees it (userxattr, as at start). */
static int mount_merged(struct vpsd *d, const struct vps_inst *vi, const char *upper, char *ret,
                        size_t size, vps_error *err)
{
        char opts[1600];
        (void)snprintf(opts, sizeof(opts), "lowerdir=%s:%s/templates/%s/rootfs,userxattr", upper,
                       d->m.root, vi->cfg.ostemplate);
        (void)snprintf(ret, size, "%s/vps/%s/rootfs", d->m.root, vi->cfg.id);
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return vps_err_sys(err, errno, "a mount namespace for the merged root");
        if (mount("overlay", ret, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0)
                return vps_err_sys(err, errno, "mounting the merged root");
        return 0;
}

static int send_piece(void *arg, const void *piece, size_t len, vps_error *err)
{
        const struct vpsd_stream *s = arg;
        return vps_frame_write(s->sock, 'C', piece, len, err);
}

/* The base's MANIFEST ('M' frames) received where it is parsed (no copy); *ret_type: the
 * frame after them (or 0 when the stream failed). */
static int read_base(int sock, char *ret_type, char **ret, size_t *ret_len, vps_error *err)
{
        size_t len = 0, cap = 0, n;
        char type = 0;
        while (vps_frame_read_head(sock, &type, &n, err) == 0 && type == 'M') {
                if (n > VPS_BACKUP_MANIFEST_MAX - len)
                        return vps_err(err, E2BIG, "the base's MANIFEST is too large");
                if (len + n + 1 > cap) {
                        size_t c = cap ? cap * 2 : 256 * 1024;
                        while (c < len + n + 1)
                                c *= 2;
                        char *p = realloc(*ret, c);
                        if (!p)
                                return vps_err(err, ENOMEM, "out of memory");
                        *ret = p;
                        cap = c;
                }
                if (vps_frame_read_body(sock, *ret + len, n, err) < 0) {
                        type = 0;
                        break;
                }
                len += n;
                (*ret)[len] = '\0';
        }
        *ret_type = type;
        *ret_len = len;
        return 0;
}

_Noreturn void vpsd_backup_child(struct vpsd *d, struct vps_inst *vi, struct vpsd_stream *s)
{
        vpsd_stream_child_setup();
        vps_error err = {0};
        char upper[600];
        (void)snprintf(upper, sizeof(upper), "%s/vps/%s/upper", d->m.root, vi->cfg.id);
        /* A stopped VPS's incremental: its walk (most of its cost) runs while the base's
         * MANIFEST arrives (a running one's walks its capture, made after). */
        _cleanup_(vps_backup_walk_freep) struct vps_bk_walk *walk =
                s->incremental && vi->status == VPS_STOPPED ? vps_backup_walk_begin(upper) : NULL;
        /* The base's MANIFEST first, then the archive. */
        _cleanup_free_ char *base = NULL;
        size_t blen = 0;
        char type = 0;
        if (read_base(s->sock, &type, &base, &blen, &err) < 0)
                child_fail(s->sock, &err);
        if (type != 'Z')
                child_fail(s->sock, &(vps_error){EPROTO, "the request stream is malformed"});
        if (s->incremental && !base)
                child_fail(s->sock, &(vps_error){EINVAL, "an incremental backup needs its base"});
        _cleanup_json_ json_t *meta = NULL;
        if (vps_template_get(&d->m, vi->cfg.ostemplate, &meta, &err) < 0)
                child_fail(s->sock, &err);
        const char *version = json_string_value(json_object_get(meta, "version"));
        _cleanup_free_ char *cfg = vps_config_to_json(&vi->cfg);
        char root[600], base_id[33] = "";
        struct vps_capture cap = {0};
        struct out_ctx o = {.fd = s->sock,
                            .err = &err,
                            .pr = {.fd = s->sock, .phase = "capture", .unit = "files"}};
        if (vi->status != VPS_STOPPED) {
                vpsd_progress_send(&o.pr);
                /* Running: frozen only while its upper layer is copied (capture.c). */
                (void)snprintf(capture_name, sizeof(capture_name), ".tmp-backup-%d", (int)getpid());
                if ((mkdirat(vi->dir_fd, "snapshots", 0700) < 0 && errno != EEXIST) ||
                    (capture_dir = openat(vi->dir_fd, "snapshots",
                                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
                    mkdirat(capture_dir, capture_name, 0700) < 0)
                        child_fail(s->sock, &(vps_error){errno, "preparing the capture"});
                _cleanup_close_ int dst =
                        openat(capture_dir, capture_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct vps_copy_opts co = {0};
                if (dst < 0 || vps_capture_upper(&d->m, vi, dst, &co, &cap, &err) < 0)
                        child_fail(s->sock,
                                   dst < 0 ? &(vps_error){errno, "opening the capture"} : &err);
                (void)snprintf(upper, sizeof(upper), "%s/vps/%s/snapshots/%s", d->m.root,
                               vi->cfg.id, capture_name);
                vpsd_log("backup of VPS %s: frozen %.1f ms for the capture of %llu files",
                         vi->cfg.id, (double)cap.frozen_us / 1000.0,
                         (unsigned long long)cap.copy.files);
        }
        if (s->full && mount_merged(d, vi, upper, root, sizeof(root), &err) < 0)
                child_fail(s->sock, &err);
        o.pr.phase = "archive";
        o.pr.total = base ? count_base(base, blen, s->full) : count_paths(upper);
        if (!base && o.pr.total && s->full) {
                uint64_t r = count_paths(root);
                o.pr.total = r ? o.pr.total + r : 0;
        }
        vpsd_progress_send(&o.pr);
        struct vps_backup_opts bo = {.vps_id = vi->cfg.id,
                                     .config_json = cfg ? cfg : "{}",
                                     .tpl_name = vi->cfg.ostemplate,
                                     .tpl_version = version ? version : "",
                                     .tpl_distro =
                                             json_string_value(json_object_get(meta, "distro")),
                                     .upper_path = upper,
                                     .root_path = s->full ? root : NULL,
                                     .uid_base = vi->cfg.uid_base,
                                     .uid_count = vi->cfg.uid_count,
                                     .base_manifest = base,
                                     .base_manifest_len = blen,
                                     .base_id = NULL,
                                     .upper_walk = walk,
                                     .write = out_write,
                                     .progress = on_progress,
                                     .arg = &o};
        struct vps_backup_result res;
        if (base) {
                /* "vpsbackup-manifest 1\n" then the base's id line, added by vpsctl. */
                char *nl = memchr(base, '\n', blen);
                if (!nl || blen - (size_t)(nl + 1 - base) < 34 || nl[33] != '\n')
                        child_fail(s->sock,
                                   &(vps_error){EINVAL, "the base backup's id is missing"});
                (void)snprintf(base_id, sizeof(base_id), "%.32s", nl + 1);
                /* The first line moved onto the id's (short: not the whole text). */
                size_t head = (size_t)(nl + 1 - base);
                memmove(base + 33, base, head);
                bo.base_manifest = base + 33;
                bo.base_manifest_len = blen - 33;
                bo.base_id = base_id;
        }
        if (vps_backup_write(&bo, &res, &err) < 0)
                child_fail(s->sock, &err);
        capture_drop();
        o.pr.files = o.pr.done = res.files;
        o.pr.bytes = res.bytes;
        vpsd_progress_end(&o.pr);
        /* An online migration's: the images after the archive. */
        uint64_t images = 0;
        if (s->checkpoint && vps_checkpoint_send(vi->dir_fd, send_piece, s, &images, &err) < 0) {
                (void)vps_err_wrap(&err, "sending the checkpoint images");
                child_fail(s->sock, &err);
        }
        _cleanup_json_ json_t *j = json_pack(
                "{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:b, s:f}", "id", vi->cfg.id,
                "backup_id", res.backup_id, "base_id", base_id, "full", s->full, "template",
                vi->cfg.ostemplate, "files", (json_int_t)res.files, "bytes", (json_int_t)res.bytes,
                "in_archive", (json_int_t)res.in_archive, "deleted", (json_int_t)res.deleted,
                "running", vi->status != VPS_STOPPED, "frozen_ms", (double)cap.frozen_us / 1000.0);
        if (j && s->checkpoint)
                json_object_set_new(j, "checkpoint_bytes", json_integer((json_int_t)images));
        _cleanup_free_ char *t = json_dumps(j, JSON_COMPACT);
        vpsd_stream_last(s->sock, 'K', t, strlen(t));
        _exit(0);
}
