/* libvps: restores a backup archive (vps/backup.h) into a staging directory: each entry
 * checked (backup_check.c) and written with libarchive, then everything compared with the
 * MANIFEST. The first refusal ends the restore; the caller removes the staging directory. */
#include "storage/archive_cleanup.h"
#include "storage/backup.h"
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The entry's content to fd (at its offsets: holes stay holes) or, with fd -1, through
 * libarchive; its hash (backup_hash.c, the archive's format) into hash. */
static int pwrite_all(int fd, const void *buf, size_t len, la_int64_t off)
{
        while (len > 0) {
                ssize_t n = pwrite(fd, buf, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                buf = (const char *)buf + n;
                len -= (size_t)n;
                off += n;
        }
        return 0;
}

/* Write-behind: every WRITE_BEHIND bytes of a file, its writeback is started (not waited
 * for), so that the disk writes while the stream still comes in and the restore's final
 * syncfs waits for the last stretch only, not for the whole tree (a 1 GiB migration stayed
 * in the page cache to the end: about 1.5 s of syncfs after the last byte). */
#define WRITE_BEHIND (8u << 20)

static int data_to_disk(struct rctx *c, struct archive_entry *e, int fd, const char *path,
                        char hash[65])
{
        struct vps_zhash *h = &c->zh;
        vps_zhash_init(h, c->version);
        const void *buf;
        size_t len;
        la_int64_t off, done = 0, flushed = 0;
        int k;
        la_int64_t size = archive_entry_size(e);
        while ((k = archive_read_data_block(c->in, &buf, &len, &off)) == ARCHIVE_OK) {
                if (off < done)
                        return vps_err(c->err, EBADMSG, "%.200s: data out of order", path);
                /* A sparse map may place data anywhere: none past the size declared (and
                 * checked against the limit) is taken. */
                if (off > size || (uint64_t)len > (uint64_t)(size - off))
                        return vps_err(c->err, EBADMSG, "%.200s: data past its size", path);
                vps_zhash_data(h, (uint64_t)off, buf, len);
                if (fd >= 0) {
                        int r = pwrite_all(fd, buf, len, off);
                        if (r < 0)
                                return vps_err(c->err, -r, "writing %.200s: %s", path,
                                               strerror(-r));
                } else if (archive_write_data_block(c->out, buf, len, off) < ARCHIVE_WARN) {
                        return vps_err(c->err, EIO, "writing %.200s: %s", path,
                                       archive_error_string(c->out));
                }
                done = off + (la_int64_t)len;
                c->p.bytes += len;
                if (fd >= 0 && done - flushed >= (la_int64_t)WRITE_BEHIND) {
                        /* Only a start of writeback: its failure shows in the syncfs. */
                        (void)sync_file_range(fd, flushed, done - flushed, SYNC_FILE_RANGE_WRITE);
                        flushed = done;
                }
        }
        if (k != ARCHIVE_EOF)
                return vps_err(c->err, EBADMSG, "reading %.200s: %s", path,
                               archive_error_string(c->in));
        /* A hole at the end: the size comes from ftruncate. */
        if (fd >= 0 && done < size && ftruncate(fd, size) < 0)
                return vps_err_sys(c->err, errno, "writing %.200s", path);
        vps_zhash_finish(h, (uint64_t)size, hash);
        return 0;
}

/* A plain file (no hard link, xattr or ACL: most of a tree) written by hand in its checked
 * parent directory: libarchive's path walks, umask calls and unlink before each create
 * cost more than the file's own syscalls. Created new (O_EXCL): the first archive of a
 * chain writes into an empty directory and a later one cleared the path (clear_way). */
static bool plain_file(struct archive_entry *e)
{
        return archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
               archive_entry_xattr_count(e) == 0 &&
               archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS |
                                                  ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) == 0;
}

/* dfd: the parent that vps_bk_check_entry reached. */
static int plain_to_disk(struct rctx *c, struct archive_entry *e, int dfd, const char *path,
                         char hash[65])
{
        const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
        _cleanup_close_ int fd =
                openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return errno == EEXIST ? vps_err(c->err, EPERM,
                                                 "refused: %.200s is in the backup twice", path)
                                       : vps_err_sys(c->err, errno, "creating %.200s", path);
        int r = data_to_disk(c, e, fd, path, hash);
        if (r < 0)
                return r;
        /* The mode after the owner: chown drops set-id bits. No atime in the archive: now. */
        struct timespec ts[2] = {
                {archive_entry_atime(e), archive_entry_atime_nsec(e)},
                {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
        };
        if (!archive_entry_atime_is_set(e))
                ts[0] = (struct timespec){.tv_nsec = UTIME_NOW};
        if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 ||
            fchmod(fd, archive_entry_perm(e) & 07777) < 0 || futimens(fd, ts) < 0)
                return vps_err_sys(c->err, errno, "setting the owner, mode and times of %.200s",
                                   path);
        return 0;
}

/* Any other entry; a file's content (not a hard link's) when hash is not NULL. */
static int through_libarchive(struct rctx *c, struct archive_entry *e, const char *path, char *hash)
{
        if (archive_write_header(c->out, e) < ARCHIVE_WARN)
                return vps_err(c->err, EPERM, "refused: %.200s: %s", path,
                               archive_error_string(c->out));
        int r = hash ? data_to_disk(c, e, -1, path, hash) : 0;
        if (r < 0)
                return r;
        if (archive_write_finish_entry(c->out) < ARCHIVE_WARN)
                return vps_err(c->err, EIO, "writing %.200s: %s", path,
                               archive_error_string(c->out));
        return 0;
}

/* libarchive sets a symlink's, fifo's or device's owner, mode and times by its path, which
 * fails past PATH_MAX (it said ARCHIVE_WARN; a file's go through its fd): set again through
 * its directory. */
static int deep_attrs(struct rctx *c, struct archive_entry *e, int dfd, const char *path)
{
        const char *base = strrchr(path, '/') + 1;
        struct timespec ts[2] = {
                {archive_entry_atime(e), archive_entry_atime_nsec(e)},
                {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
        };
        if (!archive_entry_atime_is_set(e))
                ts[0] = (struct timespec){.tv_nsec = UTIME_NOW};
        /* No chmod where an ACL was set: it would make the mask the group bits. */
        bool chmod = archive_entry_filetype(e) != AE_IFLNK &&
                     archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS) == 0;
        if (fchownat(dfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                     AT_SYMLINK_NOFOLLOW) < 0 ||
            (chmod && fchmodat(dfd, base, archive_entry_perm(e) & 07777, 0) < 0) ||
            utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return vps_err_sys(c->err, errno, "setting the owner, mode and times of %.200s",
                                   path);
        return 0;
}

static int one_entry(struct rctx *c, struct archive_entry *e)
{
        if (!*vps_bk_name_of(e))
                return vps_err(c->err, EPERM, "refused: an entry without a name");
        _cleanup_free_ char *path = strdup(vps_bk_name_of(e));
        if (!path)
                return vps_err(c->err, ENOMEM, "out of memory");
        /* tar marks a directory with a trailing '/': one, on a directory only. */
        size_t plen = strlen(path);
        if (plen > 1 && path[plen - 1] == '/' && archive_entry_filetype(e) == AE_IFDIR) {
                path[plen - 1] = '\0';
                archive_entry_set_pathname(e, path);
        }
        const char *tree = vps_bk_tree_of(path);
        bool upper = tree && !strcmp(tree, "upper");
        if (tree && !upper && !c->full)
                return vps_err(c->err, EPERM, "refused: %.200s in a backup that is not --full",
                               path);
        /* Not needed here (the template is present): read through, never written. */
        if (tree && !upper && !c->want_root && !vps_bk_escape_of(path))
                return archive_read_data_skip(c->in) < ARCHIVE_WARN
                               ? vps_err(c->err, EBADMSG, "reading the backup: %s",
                                         archive_error_string(c->in))
                               : 0;
        _cleanup_close_ int dfd = -1;
        int r = vps_bk_check_entry(c, e, path, &dfd);
        if (r < 0)
                return r;
        struct vps_mf_entry m = {
                .kind = VPS_MF_HERE,
                .type = vps_mf_type_of(archive_entry_filetype(e)),
                .mode = archive_entry_perm(e) & 07777,
                .uid = (uint32_t)archive_entry_uid(e),
                .gid = (uint32_t)archive_entry_gid(e),
                .size = archive_entry_filetype(e) == AE_IFREG ? (uint64_t)archive_entry_size(e) : 0,
                .mtime_ns =
                        (int64_t)archive_entry_mtime(e) * 1000000000 + archive_entry_mtime_nsec(e),
                .hash = "-",
                .path = path};
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
                /* A hard link: the type, size and content of the file it names. */
                struct vps_mf_entry *t = vps_manifest_find(&c->seen, hl);
                m.type = 'f';
                if (t) {
                        m.size = t->size;
                        memcpy(m.hash, t->hash, sizeof(m.hash));
                }
        }
        if (m.type == 'l') {
                const char *t = archive_entry_symlink(e);
                vps_sha256_hex(t ? t : "", t ? strlen(t) : 0, m.hash);
        }
        if ((r = vps_bk_remap(c, e, upper, path)) < 0)
                return r;
        /* Only a later archive of a chain finds earlier files in the way. */
        if (!hl && c->o->expect_base[0] &&
            (r = vps_bk_clear_way(c, path, archive_entry_filetype(e))) < 0)
                return r;
        if (m.type == 'f' && plain_file(e))
                r = plain_to_disk(c, e, dfd, path, m.hash);
        else
                r = through_libarchive(c, e, path, m.type == 'f' && !hl ? m.hash : NULL);
        if (r == 0 && !hl && m.type != 'd' && m.type != 'f' && strlen(path) >= PATH_MAX)
                r = deep_attrs(c, e, dfd, path);
        if (r < 0)
                return r;
        c->p.files++;
        if (c->o->progress && c->p.files % 256 == 0)
                c->o->progress(c->o->arg, &c->p);
        return vps_manifest_add(&c->seen, &m, c->err);
}

static int remove_path(struct rctx *c, const char *path)
{
        const char *base;
        _cleanup_close_ int dfd = vps_bk_open_parent(c->o->staging_fd, path, &base);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return vps_err(c->err, EPERM, "deleting %.200s: %s", path, strerror(-dfd));
        struct stat st;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (S_ISDIR(st.st_mode))
                return vps_rm_rf_at(dfd, base, c->err);
        return unlinkat(dfd, base, 0) < 0 ? vps_err_sys(c->err, errno, "deleting %.200s", path) : 0;
}

/* A later archive of a chain wrote or deleted path: its directory, unchanged since the base
 * (not in this archive, so not set again by dir_times), got a new mtime from that: the
 * MANIFEST's again. */
static int same_parent_times(struct rctx *c, struct vps_manifest *mf, const char *path)
{
        const char *slash = strrchr(path, '/');
        if (!slash)
                return 0;
        _cleanup_free_ char *dir = strndup(path, (size_t)(slash - path));
        if (!dir)
                return vps_err(c->err, ENOMEM, "out of memory");
        size_t keep = mf->next; /* the hint serves the caller's own walk */
        const struct vps_mf_entry *d = vps_manifest_find(mf, dir);
        mf->next = keep;
        if (!d || d->kind != VPS_MF_SAME || d->type != 'd' ||
            (vps_bk_tree_of(dir) && !strcmp(vps_bk_tree_of(dir), "root") && !c->want_root))
                return 0;
        const char *base;
        _cleanup_close_ int dfd = vps_bk_open_parent(c->o->staging_fd, dir, &base);
        struct timespec ts[2] = {{d->mtime_ns / 1000000000, d->mtime_ns % 1000000000},
                                 {d->mtime_ns / 1000000000, d->mtime_ns % 1000000000}};
        if (dfd < 0 || utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return vps_err(c->err, EIO, "setting the times of %.200s", dir);
        return 0;
}

/* Every file in the archive is in the MANIFEST as it is, and the MANIFEST lists no other. */
static int verify(struct rctx *c, const char *text, size_t len)
{
        struct vps_manifest mf;
        int r = vps_manifest_parse(text, len, &mf, c->err);
        if (r < 0)
                return r;
        size_t here = 0;
        for (size_t i = 0; i < mf.n && r == 0; i++) {
                struct vps_mf_entry *w = &mf.e[i];
                bool in_root =
                        !strcmp(vps_bk_tree_of(w->path) ? vps_bk_tree_of(w->path) : "", "root");
                if (!vps_bk_tree_of(w->path) || vps_bk_escape_of(w->path)) {
                        r = vps_err(c->err, EBADMSG, "MANIFEST: a bad path");
                        break;
                }
                if (in_root && !c->want_root)
                        continue;
                if (w->kind == VPS_MF_DELETED) {
                        r = remove_path(c, w->path);
                        continue;
                }
                if (w->kind == VPS_MF_SAME) {
                        const char *base;
                        struct stat st;
                        _cleanup_close_ int dfd =
                                vps_bk_open_parent(c->o->staging_fd, w->path, &base);
                        if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                r = vps_err(c->err, EBADMSG,
                                            "the backup does not match its base: %.200s is "
                                            "missing",
                                            w->path);
                        continue;
                }
                here++;
                struct vps_mf_entry *s = vps_manifest_find(&c->seen, w->path);
                if (!s || s->type != w->type || s->mode != w->mode || s->uid != w->uid ||
                    s->gid != w->gid || s->size != w->size || strcmp(s->hash, w->hash) != 0)
                        r = vps_err(c->err, EBADMSG,
                                    "the backup does not match its MANIFEST at %.200s%s", w->path,
                                    s ? "" : " (missing)");
        }
        if (r == 0 && here != c->seen.n)
                r = vps_err(c->err, EBADMSG,
                            "the backup does not match its MANIFEST: %zu entries, %zu listed",
                            c->seen.n, here);
        for (size_t i = 0; i < mf.n && r == 0; i++)
                if (mf.e[i].kind != VPS_MF_SAME)
                        r = same_parent_times(c, &mf, mf.e[i].path);
        vps_manifest_free(&mf);
        return r;
}

/* libarchive leaves the times of a directory that existed (from an earlier archive of the
 * chain) as its changes made them: set them again, deepest first. */
static int dir_times(struct rctx *c)
{
        for (size_t i = c->seen.n; i-- > 0;) {
                const struct vps_mf_entry *m = &c->seen.e[i];
                if (m->type != 'd')
                        continue;
                const char *base;
                _cleanup_close_ int dfd = vps_bk_open_parent(c->o->staging_fd, m->path, &base);
                struct timespec ts[2] = {{m->mtime_ns / 1000000000, m->mtime_ns % 1000000000},
                                         {m->mtime_ns / 1000000000, m->mtime_ns % 1000000000}};
                if (dfd < 0 || utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return vps_err(c->err, EIO, "setting the times of %.200s", m->path);
        }
        return 0;
}

static int apply_entries(struct rctx *c, char **ret_config)
{
        struct archive_entry *e;
        int h = archive_read_next_header(c->in, &e);
        if (h < ARCHIVE_WARN || h == ARCHIVE_EOF ||
            strcmp(vps_bk_name_of(e), VPS_BACKUP_CONFIG) != 0)
                return vps_err(c->err, EBADMSG, "not a vpsd backup: no %s after %s",
                               VPS_BACKUP_CONFIG, VPS_BACKUP_META);
        int r = vps_bk_read_small(c->in, e, VPS_BK_CONFIG_MAX, ret_config, NULL, c->err);
        if (r < 0)
                return r;
        for (;;) {
                h = archive_read_next_header(c->in, &e);
                if (h == ARCHIVE_EOF)
                        return vps_err(c->err, EBADMSG,
                                       "the backup ends before its %s "
                                       "(truncated)",
                                       VPS_BACKUP_MANIFEST);
                if (h < ARCHIVE_WARN)
                        return vps_err(c->err, EBADMSG, "reading the backup: %s",
                                       archive_error_string(c->in));
                if (!strcmp(vps_bk_name_of(e), VPS_BACKUP_MANIFEST))
                        break;
                if ((r = one_entry(c, e)) < 0)
                        return r;
        }
        _cleanup_free_ char *mf = NULL;
        size_t len = 0;
        if ((r = vps_bk_read_small(c->in, e, VPS_BACKUP_MANIFEST_MAX, &mf, &len, c->err)) < 0)
                return r;
        h = archive_read_next_header(c->in, &e);
        if (h != ARCHIVE_EOF)
                return vps_err(c->err, EBADMSG, "the backup goes on after its %s",
                               VPS_BACKUP_MANIFEST);
        /* Deletions before the directories get their modes and times (at close). */
        if ((r = verify(c, mf, len)) < 0)
                return r;
        if (archive_write_close(c->out) < ARCHIVE_WARN)
                return vps_err(c->err, EIO, "finishing the restore: %s",
                               archive_error_string(c->out));
        return dir_times(c);
}

int vps_restore_apply(vps_backup_reader rd, void *rd_arg, const struct vps_restore_opts *o,
                      struct vps_backup_info *ret_info, char **ret_config, vps_error *err)
{
        _cleanup_free_ struct src *s = calloc(1, sizeof(*s));
        if (!s)
                return vps_err(err, ENOMEM, "out of memory");
        s->rd = rd;
        s->arg = rd_arg;
        _cleanup_archive_read_ struct archive *in = vps_bk_open_reader(s, err);
        if (!in)
                return -err->code;
        int r = vps_bk_read_info(in, ret_info, err);
        if (r < 0)
                return r;
        struct utsname u;
        (void)uname(&u);
        if (strcmp(ret_info->arch, u.machine) != 0)
                return vps_err(err, ENOEXEC,
                               "a backup of another architecture (%s, this host "
                               "is %s)",
                               ret_info->arch, u.machine);
        if (strcmp(ret_info->base_id, o->expect_base) != 0)
                return vps_err(err, EINVAL, "%s",
                               *o->expect_base ? "this backup does not follow the one before it "
                                                 "in the chain"
                                               : "this backup is an incremental one: restore "
                                                 "its chain, from a complete backup on");
        _cleanup_archive_write_ struct archive *out = archive_write_disk_new();
        if (!out)
                return vps_err(err, ENOMEM, "out of memory");
        archive_write_disk_set_options(
                out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                             ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
                             ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                             ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_UNLINK |
                             ARCHIVE_EXTRACT_SPARSE);
        struct rctx c = {.o = o,
                         .in = in,
                         .out = out,
                         .err = err,
                         .version = ret_info->format,
                         .full = !strcmp(ret_info->kind, "full"),
                         .want_root = o->want_root};
        if (o->on_info && (r = o->on_info(o->arg, ret_info, &c.want_root, err)) < 0)
                return r;
        /* libarchive writes relative to the working directory: the staging directory. */
        _cleanup_close_ int old_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (old_cwd < 0 || fchdir(o->staging_fd) < 0)
                return vps_err_sys(err, errno, "entering the staging directory");
        r = apply_entries(&c, ret_config);
        if (fchdir(old_cwd) < 0 && r == 0)
                r = vps_err_sys(err, errno, "leaving the staging directory");
        if (o->progress)
                o->progress(o->arg, &c.p);
        vps_manifest_free(&c.seen);
        return r;
}
