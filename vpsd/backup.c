/* vpsd: backup and restore streams. `POST /v1/vps/ID/backup` and `POST /v1/restore` are
 * HTTP Upgrades (vps-backup, vps-restore); the upgraded socket goes to a child of vpsd that
 * writes the archive to it or reads archives from it (frames: vps/backup.h), so vpsd never
 * opens a file a client names: vpsctl reads and writes the files, as its caller. A restore
 * is extracted into vps/.del-.restore-ID-PID (a crash leaves only that, which the next vpsd
 * removes as it removes a destroy's leftovers); the loop commits it with one rename (an
 * exchange for --force) once the child has checked all of it, then the child removes what
 * was replaced. The VPS is busy meanwhile: no start, change or destroy. */
#include "backup.h"

#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "reap.h"
#include "storage/backup.h"
#include "vps/cleanup.h"
#include "storage/storage.h"
#include "net/net.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTORED_PREFIX "restored-"

enum stream_kind { S_BACKUP, S_RESTORE };

struct stream {
        struct vpsd_source w; /* ctl, in the loop */
        enum stream_kind kind;
        char id[VPS_ID_MAX + 1]; /* the VPS backed up, or the one restored */
        bool full, incremental, force;
        char ips[VPS_MAX_IPS][VPS_IP_MAX];
        unsigned int n_ip;
        bool has_ips;
        uint32_t uid_base;
        pid_t pid;
        int ctl;  /* the loop's end of the socketpair with the child */
        int sock; /* the upgraded connection */
        struct MHD_UpgradeResponseHandle *urh;
        char staging[96];
        struct stream *next;
};

static struct stream *streams;

bool vpsd_stream_route(const char *url)
{
        size_t n = strlen(url);
        return !strcmp(url, "/v1/restore") ||
               (!strncmp(url, "/v1/vps/", 8) && n > 15 && !strcmp(url + n - 7, "/backup"));
}

int vpsd_stream_busy(struct vpsd *d, const char *id, vps_error *err)
{
        (void)d;
        for (struct stream *s = streams; s; s = s->next)
                if (!strcmp(s->id, id))
                        return vps_err(err, EBUSY, "VPS %s is busy: a %s of it is under way", id,
                                       s->kind == S_BACKUP ? "backup" : "restore");
        return 0;
}

/* --- the children ------------------------------------------------------------------------- */

struct out_ctx {
        int fd;
        vps_error *err;
        int64_t last_ms;
        struct vpsd *d;  /* a restore: its template store */
        bool *want_root; /* a restore: root/ is needed (no such template here) */
};

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static void send_progress(int fd, const struct vps_backup_progress *p, int64_t *last_ms)
{
        int64_t now = now_ms();
        if (now - *last_ms < 200)
                return;
        *last_ms = now;
        char buf[96];
        int n = snprintf(buf, sizeof(buf), "{\"files\":%llu,\"bytes\":%llu}",
                         (unsigned long long)p->files, (unsigned long long)p->bytes);
        vps_error e;
        (void)vps_frame_write(fd, 'P', buf, (size_t)n, &e);
}

static void on_progress(void *arg, const struct vps_backup_progress *p)
{
        struct out_ctx *o = arg;
        send_progress(o->fd, p, &o->last_ms);
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
        _cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "error", err->msg, "errno", err->code);
        _cleanup_free_ char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
        vps_error e;
        if (t)
                (void)vps_frame_write(fd, 'E', t, strlen(t), &e);
        _exit(1);
}

static void child_setup(void)
{
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)signal(SIGPIPE, SIG_IGN);
        sigset_t all;
        sigemptyset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);
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

_Noreturn static void backup_main(struct vpsd *d, struct vps_inst *vi, struct stream *s)
{
        child_setup();
        vps_error err = {0};
        /* The base's MANIFEST first, then the archive. */
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX), *base = NULL;
        size_t blen = 0, bcap = 0, n;
        char type = 0;
        if (!buf)
                child_fail(s->sock, &(vps_error){ENOMEM, "out of memory"});
        while (vps_frame_read(s->sock, &type, buf, &n, &err) == 0 && type == 'M')
                if (vps_buf_append(&base, &blen, &bcap, buf, n, VPS_BACKUP_MANIFEST_MAX, 0) < 0)
                        child_fail(s->sock, &(vps_error){E2BIG, "the base's MANIFEST is too "
                                                                "large"});
        if (type != 'Z')
                child_fail(s->sock, &(vps_error){EPROTO, "the request stream is malformed"});
        if (s->incremental && !base)
                child_fail(s->sock, &(vps_error){EINVAL, "an incremental backup needs its base"});
        _cleanup_json_ json_t *meta = NULL;
        if (vps_template_get(&d->m, vi->cfg.ostemplate, &meta, &err) < 0)
                child_fail(s->sock, &err);
        const char *version = json_string_value(json_object_get(meta, "version"));
        _cleanup_free_ char *cfg = vps_config_to_json(&vi->cfg);
        char upper[600], root[600], base_id[33] = "";
        (void)snprintf(upper, sizeof(upper), "%s/vps/%s/upper", d->m.root, vi->cfg.id);
        struct vps_capture cap = {0};
        if (vi->status != VPS_STOPPED) {
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
        struct out_ctx o = {.fd = s->sock, .err = &err};
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
                memmove(nl + 1, nl + 34, blen - (size_t)(nl + 34 - base));
                blen -= 33;
                bo.base_manifest_len = blen;
                bo.base_id = base_id;
        }
        if (vps_backup_write(&bo, &res, &err) < 0)
                child_fail(s->sock, &err);
        capture_drop();
        _cleanup_json_ json_t *j = json_pack(
                "{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:b, s:f}", "id", vi->cfg.id,
                "backup_id", res.backup_id, "base_id", base_id, "full", s->full, "template",
                vi->cfg.ostemplate, "files", (json_int_t)res.files, "bytes", (json_int_t)res.bytes,
                "in_archive", (json_int_t)res.in_archive, "deleted", (json_int_t)res.deleted,
                "running", vi->status != VPS_STOPPED, "frozen_ms", (double)cap.frozen_us / 1000.0);
        _cleanup_free_ char *t = json_dumps(j, JSON_COMPACT);
        (void)vps_frame_write(s->sock, 'K', t, strlen(t), &err);
        _exit(0);
}

struct in_ctx {
        int fd;
        char *buf;
        size_t len, off;
        bool archive_end, all_end;
        vps_error *err;
};

static ssize_t in_read(void *arg, void *out, size_t want)
{
        struct in_ctx *c = arg;
        while (c->off == c->len) {
                if (c->archive_end)
                        return 0;
                char type;
                size_t n;
                if (vps_frame_read(c->fd, &type, c->buf, &n, c->err) < 0)
                        return -c->err->code;
                c->off = 0;
                c->len = 0;
                if (type == 'D')
                        c->len = n;
                else if (type == 'N' || type == 'Z') {
                        c->archive_end = true;
                        c->all_end = type == 'Z';
                } else
                        return -EPROTO;
        }
        size_t k = c->len - c->off < want ? c->len - c->off : want;
        memcpy(out, c->buf + c->off, k);
        c->off += k;
        return (ssize_t)k;
}

static const unsigned int allowed_devs[][2] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},
                                               {1, 9}, {5, 0}, {5, 1}, {5, 2}};

/* The first archive of a chain: its root/ is needed unless this host has its template in
 * the same version. */
static int first_info(void *arg, const struct vps_backup_info *info, bool *want_root,
                      vps_error *err)
{
        struct out_ctx *o = arg;
        _cleanup_json_ json_t *meta = NULL;
        vps_error e;
        const char *v = vps_template_get(&o->d->m, info->tpl_name, &meta, &e) == 0
                                ? json_string_value(json_object_get(meta, "version"))
                                : NULL;
        *want_root = !v || strcmp(v, info->tpl_version) != 0;
        *o->want_root = *want_root;
        if (*want_root && strcmp(info->kind, "full") != 0)
                return vps_err(err, ENOENT,
                               "the backup needs template %s version %s, which this host does "
                               "not have (a --full backup carries its own)",
                               info->tpl_name, info->tpl_version);
        return 0;
}

/* The config of the restored VPS: the backup's, with this host's identity for it. */
static int restored_config(struct vpsd *d, struct stream *s, const char *text, const char *tpl,
                           struct vps_config *ret, vps_error *err)
{
        int r = vps_config_from_json(text, ret, err);
        if (r < 0)
                return vps_err_wrap(err, "the backup's config.json");
        struct vps_inst *old = s->force ? vps_manager_find(&d->m, s->id, err) : NULL;
        (void)snprintf(ret->id, sizeof(ret->id), "%s", s->id);
        if (strlen(tpl) >= sizeof(ret->ostemplate))
                return vps_err(err, ENAMETOOLONG, "template name %s: too long", tpl);
        memcpy(ret->ostemplate, tpl, strlen(tpl) + 1);
        ret->uid_base = s->uid_base;
        ret->uid_count = VPS_UID_COUNT;
        ret->projid = old ? old->cfg.projid : 0;
        ret->created_at = time(NULL);
        if (s->has_ips) {
                memcpy(ret->ip, s->ips, sizeof(ret->ip));
                ret->n_ip = s->n_ip;
        } else if (old) {
                memcpy(ret->ip, old->cfg.ip, sizeof(ret->ip));
                ret->n_ip = old->cfg.n_ip;
                ret->netmode = old->cfg.netmode;
        } else {
                ret->n_ip = 0; /* another VPS may hold the backup's addresses */
        }
        ret->n_fwd = 0;
        return 0;
}

static int make_dirs(int sfd, uint32_t base, bool fresh_upper, vps_error *err)
{
        if (fresh_upper) {
                int r = vps_rm_rf_at(sfd, "upper", err);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        static const struct {
                const char *name;
                mode_t mode;
                bool owned;
        } dirs[] = {{"upper", 0755, true},
                    {"work", 0700, true},
                    {"lower", 0755, false},
                    {"rootfs", 0755, false}};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                if (mkdirat(sfd, dirs[i].name, dirs[i].mode) < 0 && errno != EEXIST)
                        return vps_err_sys(err, errno, "creating %s", dirs[i].name);
                if (dirs[i].owned && !(i == 0 && !fresh_upper) &&
                    fchownat(sfd, dirs[i].name, base, base, AT_SYMLINK_NOFOLLOW) < 0)
                        return vps_err_sys(err, errno, "chown %s", dirs[i].name);
        }
        return 0;
}

/* root/ of a --full backup becomes the template restored-ID (upper/ is then empty: the
 * merged root holds it). */
static int make_template(int sfd, const char *name, const struct vps_backup_info *info,
                         vps_error *err)
{
        if (mkdirat(sfd, "tpl", 0700) < 0)
                return vps_err_sys(err, errno, "creating the template");
        _cleanup_close_ int tfd = openat(sfd, "tpl", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0 || renameat(sfd, "root", tfd, "rootfs") < 0)
                return vps_err_sys(err, errno, "placing the template's root");
        char version[200];
        (void)snprintf(version, sizeof(version), "%s+%s", info->tpl_version, info->backup_id);
        return vps_template_write_meta(tfd, name, version, info->tpl_distro,
                                       vps_template_tree_size(tfd), err);
}

_Noreturn static void restore_main(struct vpsd *d, struct stream *s)
{
        child_setup();
        vps_error err = {0};
        int sfd = openat(d->m.vps_fd, s->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
                child_fail(s->sock, &(vps_error){errno, "opening the staging directory"});
        struct statvfs sv;
        uint64_t fs_bytes =
                fstatvfs(sfd, &sv) == 0 ? (uint64_t)sv.f_blocks * sv.f_frsize : (1ull << 40);
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        struct in_ctx in = {.fd = s->sock, .buf = buf, .err = &err};
        struct out_ctx o = {.fd = s->sock, .err = &err};
        struct vps_backup_info info = {0}, first = {0};
        _cleanup_free_ char *config = NULL;
        char prev[33] = "";
        bool want_root = false;
        unsigned int count = 0;
        while (!in.all_end) {
                in.archive_end = false;
                struct vps_restore_opts ro = {.staging_fd = sfd,
                                              .uid_base = s->uid_base,
                                              .uid_count = VPS_UID_COUNT,
                                              .want_root = want_root,
                                              .max_file_size = fs_bytes,
                                              .devs = allowed_devs,
                                              .n_devs = sizeof(allowed_devs) /
                                                        sizeof(allowed_devs[0]),
                                              .expect_base = prev,
                                              .progress = on_progress,
                                              .arg = &o};
                ro.on_info = count == 0 ? first_info : NULL;
                ro.arg = &o;
                o.d = d;
                o.want_root = &want_root;
                free(config);
                config = NULL;
                if (!buf || vps_restore_apply(in_read, &in, &ro, &info, &config, &err) < 0) {
                        if (!buf)
                                vps_err(&err, ENOMEM, "out of memory");
                        (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &(vps_error){0});
                        child_fail(s->sock,
                                   vps_err_wrap(&err, "backup %u of the chain", count + 1) < 0
                                           ? &err
                                           : &err);
                }
                /* Drain to the archive's end marker (zstd's frame may end before it). */
                char sink[4096];
                while (!in.archive_end && in_read(&in, sink, sizeof(sink)) > 0)
                        ;
                if (count == 0)
                        first = info;
                (void)snprintf(prev, sizeof(prev), "%s", info.backup_id);
                count++;
        }
        vps_error e2;
        bool have_tpl = !want_root;
        char tpl[VPS_ID_MAX + 16];
        (void)snprintf(tpl, sizeof(tpl), "%s", first.tpl_name);
        int r = 0;
        bool fresh_upper = !have_tpl;
        if (r == 0 && !have_tpl) {
                (void)snprintf(tpl, sizeof(tpl), RESTORED_PREFIX "%s", s->id);
                r = make_template(sfd, tpl, &first, &err);
        } else if (r == 0) {
                r = vps_rm_rf_at(sfd, "root", &err);
                r = r == -ENOENT ? 0 : r;
        }
        struct vps_config cfg;
        if (r == 0)
                r = restored_config(d, s, config, tpl, &cfg, &err);
        if (r == 0)
                r = make_dirs(sfd, s->uid_base, fresh_upper, &err);
        if (r == 0)
                r = vps_config_save(sfd, &cfg, &err);
        if (r == 0 && syncfs(sfd) < 0)
                r = vps_err_sys(&err, errno, "syncing the restored files");
        if (r < 0) {
                (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &e2);
                child_fail(s->sock, &err);
        }
        /* The loop commits (or refuses) and answers on ctl. */
        char verdict[VPS_ERROR_MSG_MAX + 8] = "";
        if (write(s->ctl, "R", 1) != 1 || read(s->ctl, verdict, sizeof(verdict) - 1) <= 0)
                verdict[0] = 'F';
        /* Committed: the staging name now holds what was replaced (if anything). */
        (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &e2);
        if (verdict[0] != 'O') {
                vps_err(&err, EIO, "%s", verdict[1] ? verdict + 1 : "vpsd went away");
                if (!strncmp(verdict + 1, "E:", 2)) {
                        int code = atoi(verdict + 3);
                        const char *msg = strchr(verdict + 3, ':');
                        vps_err(&err, code > 0 ? code : EIO, "%s", msg ? msg + 1 : "refused");
                }
                child_fail(s->sock, &err);
        }
        _cleanup_json_ json_t *j =
                json_pack("{s:s, s:s, s:s, s:I, s:i, s:b}", "id", s->id, "template", tpl,
                          "backup_id", info.backup_id, "uid_base", (json_int_t)s->uid_base, "chain",
                          (int)count, "replaced", s->force);
        _cleanup_free_ char *t = json_dumps(j, JSON_COMPACT);
        (void)vps_frame_write(s->sock, 'K', t, strlen(t), &err);
        _exit(0);
}

/* --- the loop's side ------------------------------------------------------------------------ */

static void stream_free(struct vpsd *d, struct stream *s)
{
        for (struct stream **p = &streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        if (s->ctl >= 0) {
                vpsd_event_del(&d->ev, &s->w);
                close(s->ctl);
        }
        if (s->urh) {
                (void)MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
                d->mhd_kick = true;
        }
        free(s);
}

static uint32_t free_uid_base(struct vpsd *d)
{
        for (uint32_t base = VPS_UID_START;; base += VPS_UID_COUNT) {
                bool used = false;
                for (size_t i = 0; i < d->m.n && !used; i++)
                        used = base < (uint64_t)d->m.v[i]->cfg.uid_base +
                                               d->m.v[i]->cfg.uid_count &&
                               d->m.v[i]->cfg.uid_base < (uint64_t)base + VPS_UID_COUNT;
                for (struct stream *s = streams; s && !used; s = s->next)
                        used = s->kind == S_RESTORE && s->uid_base == base;
                if (!used)
                        return base;
        }
}

/* The child has everything in its staging directory: put it in place. */
static int commit(struct vpsd *d, struct stream *s, vps_error *err)
{
        _cleanup_close_ int sfd =
                openat(d->m.vps_fd, s->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct vps_config cfg;
        int r = sfd < 0 ? vps_err_sys(err, errno, "opening the restore")
                        : vps_config_load(sfd, &cfg, err);
        if (r < 0)
                return r;
        struct vps_inst *old = NULL;
        vps_error e;
        if (s->force) {
                if (!(old = vps_manager_find(&d->m, s->id, err)))
                        return -err->code;
                if (old->status != VPS_STOPPED)
                        return vps_err(err, EBUSY, "VPS %s is running", s->id);
        } else if (vps_manager_find(&d->m, s->id, &e)) {
                return vps_err(err, EEXIST,
                               "VPS %s already exists (--force replaces a stopped "
                               "one)",
                               s->id);
        }
        if ((r = vps_net_check_ips(&d->m, old, cfg.netmode, cfg.ip, cfg.n_ip, err)) < 0)
                return r;
        for (size_t i = 0; i < d->m.n; i++) {
                const struct vps_config *o = &d->m.v[i]->cfg;
                if (d->m.v[i] != old && cfg.uid_base < (uint64_t)o->uid_base + o->uid_count &&
                    o->uid_base < (uint64_t)cfg.uid_base + cfg.uid_count)
                        return vps_err(err, EBUSY,
                                       "the id range chosen was taken meanwhile; "
                                       "try again");
        }
        if (!old && (r = vps_disk_setup(&d->m, sfd, &cfg, err)) < 0)
                return r;
        if ((r = vps_config_save(sfd, &cfg, err)) < 0)
                return r;
        struct stat st;
        bool tpl = fstatat(sfd, "tpl", &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (tpl && renameat2(sfd, "tpl", d->m.tpl_fd, cfg.ostemplate, RENAME_NOREPLACE) < 0)
                return vps_err_sys(err, errno, "publishing template %s", cfg.ostemplate);
        if (renameat2(d->m.vps_fd, s->staging, d->m.vps_fd, s->id,
                      old ? RENAME_EXCHANGE : RENAME_NOREPLACE) < 0) {
                r = vps_err_sys(err, errno, "publishing VPS %s", s->id);
                if (tpl)
                        (void)renameat(d->m.tpl_fd, cfg.ostemplate, sfd, "tpl");
                return r;
        }
        (void)fsync(d->m.vps_fd);
        if (old) {
                vpsd_forget_vps(d, old);
                vps_manager_forget(&d->m, old);
        }
        struct vps_inst *vi;
        if ((r = vps_manager_load(&d->m, s->id, &vi, err)) < 0)
                return r;
        vpsd_log("VPS %s restored from a backup%s", s->id, old ? " (replacing the old one)" : "");
        return 0;
}

static void on_ctl(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct stream *s = vpsd_container_of(src, struct stream, w);
        char c;
        ssize_t n = read(s->ctl, &c, 1);
        if (n == 1 && c == 'R' && s->kind == S_RESTORE) {
                vps_error err = {0};
                char msg[VPS_ERROR_MSG_MAX + 32];
                if (commit(d, s, &err) == 0)
                        (void)snprintf(msg, sizeof(msg), "O");
                else
                        (void)snprintf(msg, sizeof(msg), "FE:%d:%s", err.code, err.msg);
                if (write(s->ctl, msg, strlen(msg)) < 0)
                        vpsd_log("restore %s: answering its child: %s", s->id, strerror(errno));
                return;
        }
        if (n < 0 && errno == EINTR)
                return;
        /* The child has ended (its end is closed only by its exit). */
        int status = 0;
        while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                vpsd_log("%s of VPS %s failed", s->kind == S_BACKUP ? "backup" : "restore", s->id);
        else
                vpsd_log("%s of VPS %s done", s->kind == S_BACKUP ? "backup" : "restore", s->id);
        stream_free(d, s);
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct stream *s = cls;
        struct vpsd *d = *(struct vpsd **)(s + 1);
        (void)c;
        (void)con_cls;
        s->sock = sock;
        s->urh = urh;
        vps_error err = {0};
        struct vps_inst *vi = NULL;
        int sp[2] = {-1, -1};
        /* vpsctl sends nothing before our 101 arrives, so nothing was read past it. */
        if (extra_len > 0)
                vps_err(&err, EPROTO, "data before the upgrade");
        else if (s->kind == S_BACKUP && !(vi = vps_manager_find(&d->m, s->id, &err)))
                ;
        else if (vi && vi->status == VPS_STOPPING)
                vps_err(&err, EBUSY, "VPS %s is stopping; try again when it has stopped", s->id);
        else if (vpsd_stream_busy(d, s->id, &err) < 0 ||
                 vpsd_job_check_busy(d, vi, false, &err) < 0)
                ;
        else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                vps_err_sys(&err, errno, "socketpair");
        struct vps_inst *old = s->force ? vps_manager_find(&d->m, s->id, &err) : NULL;
        if (!err.code && s->kind == S_RESTORE) {
                /* A VPS replaced keeps its range (its files go with it). */
                s->uid_base = old ? old->cfg.uid_base : free_uid_base(d);
                (void)snprintf(s->staging, sizeof(s->staging), VPS_TRASH_PREFIX ".restore-%s-%u",
                               s->id, (unsigned int)time(NULL));
                vps_error ignored;
                (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &ignored);
                if (mkdirat(d->m.vps_fd, s->staging, 0700) < 0)
                        vps_err_sys(&err, errno, "creating the staging directory");
        }
        if (err.code) {
                (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
                _cleanup_json_ json_t *j =
                        json_pack("{s:s, s:i}", "error", err.msg, "errno", err.code);
                _cleanup_free_ char *t = json_dumps(j, JSON_COMPACT);
                vps_error e;
                (void)vps_frame_write(sock, 'E', t, strlen(t), &e);
                vps_closep(&sp[0]);
                vps_closep(&sp[1]);
                s->ctl = -1;
                stream_free(d, s);
                return;
        }
        s->ctl = sp[0];
        vpsd_source_set(&s->w, s->ctl, EPOLLIN, on_ctl, d);
        (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
        fflush(NULL);
        s->pid = fork();
        if (s->pid == 0) {
                close(sp[0]);
                s->ctl = sp[1];
                if (s->kind == S_BACKUP)
                        backup_main(d, vi, s);
                restore_main(d, s);
        }
        close(sp[1]);
        vps_error ev_err = {.code = errno};
        if (s->pid < 0 || vpsd_event_attach(&d->ev, &s->w, &ev_err) < 0) {
                vpsd_log("%s %s: %s", s->kind == S_BACKUP ? "backup" : "restore", s->id,
                         strerror(ev_err.code));
                if (s->pid > 0) {
                        (void)kill(s->pid, SIGKILL);
                        (void)waitpid(s->pid, NULL, 0);
                }
                stream_free(d, s);
                return;
        }
        s->next = streams;
        streams = s;
}

static const char *arg_of(struct MHD_Connection *c, const char *key)
{
        return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static bool flag_of(struct MHD_Connection *c, const char *key)
{
        const char *v = arg_of(c, key);
        return v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

struct MHD_Response *vpsd_stream_response(struct vpsd *d, struct MHD_Connection *c, const char *url,
                                          vps_error *err)
{
        bool restore = !strcmp(url, "/v1/restore");
        const char *want = restore ? "vps-restore" : "vps-backup";
        const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
        if (!up || strcmp(up, want) != 0) {
                vps_err(err, EINVAL, "this endpoint needs 'Upgrade: %s'", want);
                return NULL;
        }
        /* The stream, followed by the vpsd it belongs to (on_upgrade's cls is the stream). */
        struct stream *s = calloc(1, sizeof(*s) + sizeof(d));
        if (!s) {
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        *(struct vpsd **)(s + 1) = d;
        s->ctl = -1;
        s->sock = -1;
        s->kind = restore ? S_RESTORE : S_BACKUP;
        const char *id = restore ? arg_of(c, "id") : url + 8;
        size_t idlen = restore ? (id ? strlen(id) : 0) : strlen(url) - 8 - 7;
        int r = 0;
        if (!id || !idlen || idlen > VPS_ID_MAX)
                r = vps_err(err, EINVAL, "%s",
                            restore ? "'id' names the VPS to restore into" : "bad VPS ID");
        else
                (void)snprintf(s->id, sizeof(s->id), "%.*s", (int)idlen, id);
        if (r == 0)
                r = vps_id_check(s->id, err);
        s->full = flag_of(c, "full");
        s->incremental = flag_of(c, "incremental");
        s->force = flag_of(c, "force");
        const char *ips = arg_of(c, "ipadd");
        if (r == 0 && ips) {
                s->has_ips = true;
                _cleanup_free_ char *copy = strdup(ips);
                char *save = NULL;
                for (char *p = copy ? strtok_r(copy, ",", &save) : NULL; p && r == 0;
                     p = strtok_r(NULL, ",", &save)) {
                        if (s->n_ip == VPS_MAX_IPS || strlen(p) >= VPS_IP_MAX)
                                r = vps_err(err, EINVAL, "bad --ipadd list");
                        else
                                (void)snprintf(s->ips[s->n_ip++], VPS_IP_MAX, "%s", p);
                }
        }
        if (r == 0 && restore && !s->force) {
                vps_error e;
                if (vps_manager_find(&d->m, s->id, &e))
                        r = vps_err(err, EEXIST,
                                    "VPS %s already exists (--force replaces a stopped one)",
                                    s->id);
        }
        if (r == 0 && restore && s->force) {
                struct vps_inst *vi = vps_manager_find(&d->m, s->id, err);
                if (!vi)
                        r = -err->code;
                else if (vi->status != VPS_STOPPED)
                        r = vps_err(err, EBUSY, "VPS %s is running; stop it before replacing it",
                                    s->id);
        }
        if (r == 0 && !restore) {
                struct vps_inst *vi = vps_manager_find(&d->m, s->id, err);
                if (!vi)
                        r = -err->code;
        }
        if (r == 0)
                r = vpsd_stream_busy(d, s->id, err);
        if (r < 0) {
                free(s);
                return NULL;
        }
        struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, s);
        if (!resp) {
                free(s);
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, want);
        return resp;
}
