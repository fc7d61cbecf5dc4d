/* vpsd: restores (restore.h). The child extracts each archive of the chain into
 * vps/.del-.restore-ID-* (a crash leaves only that, which the next vpsd removes as it removes a
 * destroy's leftovers), checks all of it, then asks the loop to commit: one rename (an exchange
 * for --force); the child then removes what was replaced. */
#include "restore.h"

#include "checkpoint/checkpoint.h"

#include "events.h"
#include "log.h"
#include "reap.h"
#include "starts.h"
#include "suspend_routes.h"
#include "storage/backup.h"
#include "storage/storage.h"
#include "net/net.h"
#include "stream.h"
#include "vps/cleanup.h"
#include "vps/util.h"
#include "vpsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define RESTORED_PREFIX VPSD_RESTORED_PREFIX

bool vpsd_template_restored(const char *name)
{
        return strncmp(name, RESTORED_PREFIX, strlen(RESTORED_PREFIX)) == 0;
}
/* In a restored template from its publication until its VPS is published too: a crash in
 * between leaves it, and the next vpsd removes such a template unless its VPS is there. */
#define PUBLISHING_MARK ".publishing"

struct out_ctx {
        int fd;
        vps_error *err;
        struct vpsd_progress *pr;
        uint64_t files, bytes; /* of the archives before this one */
        struct vpsd *d;        /* its template store */
        bool *want_root;       /* root/ is needed (no such template here) */
};

/* The library counts each archive from 0: the chain's sums are shown. */
static void on_progress(void *arg, const struct vps_backup_progress *p)
{
        struct out_ctx *o = arg;
        o->pr->files = o->files + p->files;
        o->pr->bytes = o->bytes + p->bytes;
        vpsd_progress_update(o->pr);
}

struct in_ctx {
        int fd;
        char *buf;
        size_t len, off;
        bool archive_end, all_end;
        /* An online migration's: 'C' frames (the images) follow the archive; the first one
         * ends the archive and waits in pending. */
        bool checkpoint;
        char *pending;
        size_t pending_len;
        vps_error *err;
        struct vpsd_progress *pr; /* done: the archive bytes received */
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
                if (type == 'D') {
                        c->len = n;
                        c->pr->done += n;
                        vpsd_progress_update(c->pr);
                } else if (type == 'N' || type == 'Z') {
                        c->archive_end = true;
                        c->all_end = type == 'Z';
                } else if (type == 'C' && c->checkpoint && c->pending) {
                        memcpy(c->pending, c->buf, n);
                        c->pending_len = n;
                        c->archive_end = c->all_end = true;
                } else
                        return -EPROTO;
        }
        size_t k = c->len - c->off < want ? c->len - c->off : want;
        memcpy(out, c->buf + c->off, k);
        c->off += k;
        return (ssize_t)k;
}

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

/* What weakens the sandbox (features, devnodes) comes from the archive only when its origin
 * is known: a migration's copy (migrate_from) or trust_config. A backup file is anyone's to
 * edit once downloaded (a customer's token may take one): a restore of it must not grant
 * more than the provider did. Else the replaced VPS's (--force), or none; named in
 * dropped. */
static void untrusted_settings(const struct vpsd_stream *s, const struct vps_inst *old,
                               struct vps_config *c, char *dropped, size_t size)
{
        dropped[0] = '\0';
        if (s->trust_config || s->migrate[0])
                return;
        unsigned int features = old ? old->cfg.features : 0;
        unsigned int n_dev = old ? old->cfg.n_dev : 0;
        if (c->features != features)
                (void)snprintf(dropped, size, "features");
        if (c->n_dev != n_dev ||
            (n_dev && memcmp(c->devnodes, old->cfg.devnodes, sizeof(c->devnodes)) != 0))
                (void)snprintf(dropped + strlen(dropped), size - strlen(dropped), "%sdevnodes",
                               dropped[0] ? "," : "");
        c->features = features;
        c->n_dev = n_dev;
        if (old)
                memcpy(c->devnodes, old->cfg.devnodes, sizeof(c->devnodes));
}

/* The config of the restored VPS: the backup's, with this host's identity for it. */
static int restored_config(struct vpsd *d, struct vpsd_stream *s, const char *text, const char *tpl,
                           struct vps_config *ret, char *ret_dropped, size_t dropped_size,
                           vps_error *err)
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
        untrusted_settings(s, old, ret, ret_dropped, dropped_size);
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
                struct stat st;
                if (mkdirat(sfd, dirs[i].name, dirs[i].mode) < 0 && errno != EEXIST)
                        return vps_err_sys(err, errno, "creating %s", dirs[i].name);
                /* (backup_check.c refuses a top that is no directory: once more, as it is
                 * the VPS's layer) */
                if (fstatat(sfd, dirs[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        return vps_err(err, EPERM, "%s of the restore is not a directory",
                                       dirs[i].name);
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

/* An online migration's images, after its archive: into the staging directory's
 * checkpoint/, checked piece by piece (checkpoint.h), up to the stream's 'Z'. */
static int take_images(int sfd, struct in_ctx *in, vps_error *err)
{
        if (!in->pending_len)
                return vps_err(err, EBADMSG, "the migration's stream has no checkpoint images");
        struct vps_checkpoint_rx rx;
        int r = vps_checkpoint_rx_begin(&rx, sfd, err);
        if (r == 0)
                r = vps_checkpoint_rx_put(&rx, in->pending, in->pending_len, err);
        while (r == 0) {
                char type;
                size_t n;
                if ((r = vps_frame_read(in->fd, &type, in->buf, &n, err)) < 0)
                        break;
                if (type == 'Z')
                        return vps_checkpoint_rx_end(&rx, err);
                r = type == 'C' ? vps_checkpoint_rx_put(&rx, in->buf, n, err)
                                : vps_err(err, EPROTO, "an unexpected frame among the images");
        }
        vps_closep(&rx.fd);
        vps_closep(&rx.dir);
        return r;
}

_Noreturn void vpsd_restore_child(struct vpsd *d, struct vpsd_stream *s)
{
        vpsd_stream_child_setup();
        vps_error err = {0};
        int sfd = openat(d->m.vps_fd, s->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
                vpsd_stream_fail(s->sock, &(vps_error){errno, "opening the staging directory"});
        struct statvfs sv;
        uint64_t fs_bytes =
                fstatvfs(sfd, &sv) == 0 ? (uint64_t)sv.f_blocks * sv.f_frsize : (1ull << 40);
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        struct vpsd_progress pr = {
                .fd = s->sock, .phase = "extract", .unit = "bytes", .total = s->size};
        _cleanup_free_ char *pending = s->checkpoint ? malloc(VPS_FRAME_MAX) : NULL;
        struct in_ctx in = {.fd = s->sock,
                            .buf = buf,
                            .err = &err,
                            .pr = &pr,
                            .checkpoint = s->checkpoint,
                            .pending = pending};
        struct out_ctx o = {.fd = s->sock, .err = &err, .pr = &pr};
        vpsd_progress_send(&pr);
        struct vps_backup_info info = {0}, first = {0};
        _cleanup_free_ char *config = NULL;
        char prev[33] = "";
        bool want_root = false;
        unsigned int count = 0;
        /* Device nodes: those every VPS has (a template's /dev), and whiteouts. */
        unsigned int devs[16][2];
        size_t n_devs = vps_devices_every_vps(devs, 16);
        while (!in.all_end) {
                in.archive_end = false;
                struct vps_restore_opts ro = {.staging_fd = sfd,
                                              .uid_base = s->uid_base,
                                              .uid_count = VPS_UID_COUNT,
                                              .want_root = want_root,
                                              .max_file_size = fs_bytes,
                                              .devs = devs,
                                              .n_devs = n_devs,
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
                        vpsd_stream_fail(s->sock,
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
                o.files = pr.files;
                o.bytes = pr.bytes;
                (void)snprintf(prev, sizeof(prev), "%s", info.backup_id);
                count++;
        }
        vpsd_progress_end(&pr);
        vps_error e2;
        if (s->checkpoint && take_images(sfd, &in, &err) < 0) {
                (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &e2);
                (void)vps_err_wrap(&err, "the checkpoint images");
                vpsd_stream_fail(s->sock, &err);
        }
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
        char dropped[32] = "";
        if (r == 0)
                r = restored_config(d, s, config, tpl, &cfg, dropped, sizeof(dropped), &err);
        if (r == 0)
                r = make_dirs(sfd, s->uid_base, fresh_upper, &err);
        if (r == 0)
                r = vps_config_save(sfd, &cfg, &err);
        /* A migration's copy: its addresses lived on the source, so the first start or resume
         * here announces them to the neighbours (core/lifecycle.c). */
        _cleanup_close_ int mark = -1;
        if (r == 0 && s->migrate[0] &&
            (mark = openat(sfd, VPS_NET_ANNOUNCE_FILE,
                           O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
                r = vps_err_sys(&err, errno, "marking its addresses to announce");
        if (r == 0 && syncfs(sfd) < 0)
                r = vps_err_sys(&err, errno, "syncing the restored files");
        if (r < 0) {
                (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &e2);
                vpsd_stream_fail(s->sock, &err);
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
                vpsd_stream_fail(s->sock, &err);
        }
        _cleanup_json_ json_t *j =
                json_pack("{s:s, s:s, s:s, s:I, s:i, s:b, s:[s*s*]}", "id", s->id, "template", tpl,
                          "backup_id", info.backup_id, "uid_base", (json_int_t)s->uid_base, "chain",
                          (int)count, "replaced", s->force, "not_taken",
                          strstr(dropped, "features") ? "features" : NULL,
                          strstr(dropped, "devnodes") ? "devnodes" : NULL);
        _cleanup_free_ char *t = json_dumps(j, JSON_COMPACT);
        vpsd_stream_last(s->sock, 'K', t, strlen(t));
        _exit(0);
}

/* Tests stop vpsd dead at a named point (VPS_TEST_CRASH_AT=NAME in vpsd's environment;
 * nothing a client sends reaches it). */
static void crash_point(const char *name)
{
        const char *at = getenv("VPS_TEST_CRASH_AT");
        if (at && strcmp(at, name) == 0)
                (void)raise(SIGKILL);
}

static int mark_publishing(int sfd, vps_error *err)
{
        _cleanup_close_ int fd = openat(sfd, "tpl/" PUBLISHING_MARK,
                                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || fsync(fd) < 0)
                return vps_err_sys(err, errno, "marking the restored template");
        return 0;
}

static void unmark_publishing(struct vpsd *d, const char *tpl)
{
        _cleanup_close_ int tfd = openat(d->m.tpl_fd, tpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd >= 0 && unlinkat(tfd, PUBLISHING_MARK, 0) == 0)
                (void)fsync(tfd);
}

void vpsd_restore_sweep(struct vpsd *d)
{
        _cleanup_closedir_ DIR *dir = vps_opendir_fd(d->m.tpl_fd);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
                const char *name = de->d_name;
                if (strncmp(name, RESTORED_PREFIX, strlen(RESTORED_PREFIX)) != 0)
                        continue;
                struct stat st;
                char mark[NAME_MAX + 16], trash[NAME_MAX + 1];
                (void)snprintf(mark, sizeof(mark), "%s/" PUBLISHING_MARK, name);
                if (fstatat(d->m.tpl_fd, mark, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                vps_error e;
                const char *id = name + strlen(RESTORED_PREFIX);
                struct vps_inst *vi = vps_manager_find(&d->m, id, &e);
                if (vi && strcmp(vi->cfg.ostemplate, name) == 0) {
                        unmark_publishing(d, name); /* both were published */
                } else if (!vi && fstatat(d->m.vps_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        /* its VPS is there but did not load: maybe published; kept */
                        vpsd_log("template %s kept: VPS %s is on disk but not loaded", name, id);
                } else if (vps_trash_rename(d->m.tpl_fd, name, name, trash, sizeof(trash), &e) ==
                           0) {
                        /* a backup's files, the guest's: removed by the trash sweep */
                        vpsd_log("template %s removed: a restore that published it did not end",
                                 name);
                } else {
                        vpsd_log("template %s of a restore that did not end: %s", name, e.msg);
                }
        }
}

int vpsd_restore_commit(struct vpsd *d, struct vpsd_stream *s, vps_error *err)
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
                /* (an onboot start or resume begun meanwhile holds its record) */
                if (vpsd_start_busy(d, s->id, err) < 0 || vpsd_criu_busy(d, s->id, err) < 0)
                        return -err->code;
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
        if (tpl && (r = mark_publishing(sfd, err)) < 0)
                return r;
        if (tpl && renameat2(sfd, "tpl", d->m.tpl_fd, cfg.ostemplate, RENAME_NOREPLACE) < 0)
                return vps_err_sys(err, errno, "publishing template %s", cfg.ostemplate);
        crash_point("restore-publish");
        if (renameat2(d->m.vps_fd, s->staging, d->m.vps_fd, s->id,
                      old ? RENAME_EXCHANGE : RENAME_NOREPLACE) < 0) {
                r = vps_err_sys(err, errno, "publishing VPS %s", s->id);
                if (tpl)
                        (void)renameat(d->m.tpl_fd, cfg.ostemplate, sfd, "tpl");
                return r;
        }
        (void)fsync(d->m.vps_fd);
        if (tpl) {
                (void)fsync(d->m.tpl_fd); /* the template's rename made durable too */
                unmark_publishing(d, cfg.ostemplate);
        }
        if (old) {
                vpsd_forget_vps(d, old);
                vps_manager_forget(&d->m, old);
        }
        struct vps_inst *vi;
        if ((r = vps_manager_load(&d->m, s->id, &vi, err)) < 0)
                return r;
        vpsd_log("VPS %s restored from a backup%s", s->id, old ? " (replacing the old one)" : "");
        vpsd_emit(d, old ? "changed" : "created", s->id, NULL);
        return 0;
}
