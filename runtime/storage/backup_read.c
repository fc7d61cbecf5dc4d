/* libvps: reads a backup archive (vps/backup.h) into a staging directory. The archive is
 * input from outside: every entry is checked before anything is written (its path stays
 * under upper/ or root/, no '..' and no absolute name, no symlink on its way, a hard link
 * to a path of the same tree, an owner in the VPS's range, a device node the template set
 * allows, xattrs of known kinds, a size the file system could hold), libarchive's secure
 * extraction flags stay on as a second wall, and at the end every file is compared with the
 * MANIFEST. The first refusal ends the restore; the caller removes the staging directory. */
#include "storage/archive_cleanup.h"
#include "storage/backup.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#define META_MAX   (64 * 1024)
#define CONFIG_MAX (1024 * 1024)

/* An entry's name, "" when it has none (a hostile header). */
static const char *name_of(struct archive_entry *e)
{
        const char *n = archive_entry_pathname(e);
        return n ? n : "";
}

struct src {
        vps_backup_reader rd;
        void *arg;
        char buf[128 * 1024];
};

static la_ssize_t src_read(struct archive *a, void *arg, const void **out)
{
        struct src *s = arg;
        ssize_t n = s->rd(s->arg, s->buf, sizeof(s->buf));
        if (n < 0) {
                archive_set_error(a, (int)-n, "%s", strerror((int)-n));
                return -1;
        }
        *out = s->buf;
        return n;
}

static struct archive *open_reader(struct src *s, vps_error *err)
{
        struct archive *a = archive_read_new();
        if (!a) {
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        archive_read_support_format_tar(a);
        archive_read_support_filter_zstd(a);
        (void)archive_read_set_options(a, "hdrcharset=BINARY");
        if (archive_read_open(a, s, NULL, src_read, NULL) != ARCHIVE_OK) {
                vps_err(err, EBADMSG, "not a vpsd backup (tar with zstd): %s",
                        archive_error_string(a));
                archive_read_free(a);
                return NULL;
        }
        return a;
}

/* The whole content of the current entry, at most max bytes. */
static int read_small(struct archive *a, struct archive_entry *e, size_t max, char **ret,
                      size_t *ret_len, vps_error *err)
{
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > max)
                return vps_err(err, EBADMSG, "%s: larger than %zu bytes", name_of(e), max);
        char *buf = malloc((size_t)size + 1);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        la_ssize_t n = archive_read_data(a, buf, (size_t)size);
        if (n != size) {
                free(buf);
                return vps_err(err, EBADMSG, "%s: %s", name_of(e),
                               n < 0 ? archive_error_string(a) : "truncated");
        }
        buf[size] = '\0';
        *ret = buf;
        if (ret_len)
                *ret_len = (size_t)size;
        return 0;
}

static int parse_info_json(json_t *j, struct vps_backup_info *ret, vps_error *err);

static int parse_info(const char *text, struct vps_backup_info *ret, vps_error *err)
{
        json_t *j = json_loads(text, 0, NULL);
        int r = parse_info_json(j, ret, err);
        json_decref(j);
        return r;
}

static int parse_info_json(json_t *j, struct vps_backup_info *ret, vps_error *err)
{
        const char *arch, *id, *tn, *tv, *kind, *bid, *base, *distro = "";
        int format;
        if (!j ||
            json_unpack(j, "{s:i, s:s, s:s, s:{s:s, s:s, s?s}, s:s, s:s, s:s}", "format", &format,
                        "arch", &arch, "id", &id, "template", "name", &tn, "version", &tv, "distro",
                        &distro, "kind", &kind, "backup_id", &bid, "base_id", &base) < 0)
                return vps_err(err, EBADMSG, "%s: malformed", VPS_BACKUP_META);
        *ret = (struct vps_backup_info){.format = format};
        if (format != VPS_BACKUP_FORMAT)
                return vps_err(err, EPROTONOSUPPORT, "backup format %d (this vpsd reads %d)",
                               format, VPS_BACKUP_FORMAT);
        if ((strcmp(kind, "full") && strcmp(kind, "upper")) || strlen(bid) != 32 ||
            strspn(bid, "0123456789abcdef") != 32 ||
            (*base && (strlen(base) != 32 || strspn(base, "0123456789abcdef") != 32)) ||
            strlen(arch) >= sizeof(ret->arch) || strlen(id) >= sizeof(ret->id) ||
            strlen(tn) >= sizeof(ret->tpl_name) || strlen(tv) >= sizeof(ret->tpl_version) ||
            strlen(distro) >= sizeof(ret->tpl_distro))
                return vps_err(err, EBADMSG, "%s: bad value", VPS_BACKUP_META);
        (void)snprintf(ret->arch, sizeof(ret->arch), "%s", arch);
        (void)snprintf(ret->id, sizeof(ret->id), "%s", id);
        (void)snprintf(ret->tpl_name, sizeof(ret->tpl_name), "%s", tn);
        (void)snprintf(ret->tpl_version, sizeof(ret->tpl_version), "%s", tv);
        (void)snprintf(ret->kind, sizeof(ret->kind), "%s", kind);
        (void)snprintf(ret->tpl_distro, sizeof(ret->tpl_distro), "%s", distro);
        (void)snprintf(ret->backup_id, sizeof(ret->backup_id), "%s", bid);
        (void)snprintf(ret->base_id, sizeof(ret->base_id), "%s", base);
        return 0;
}

static int read_info(struct archive *a, struct vps_backup_info *info, vps_error *err)
{
        struct archive_entry *e;
        int h = archive_read_next_header(a, &e);
        if (h < ARCHIVE_WARN || h == ARCHIVE_EOF)
                return vps_err(err, EBADMSG, "not a vpsd backup: %s",
                               h == ARCHIVE_EOF ? "empty" : archive_error_string(a));
        if (strcmp(name_of(e), VPS_BACKUP_META) != 0 || archive_entry_filetype(e) != AE_IFREG)
                return vps_err(err, EBADMSG, "not a vpsd backup: it does not start with %s",
                               VPS_BACKUP_META);
        _cleanup_free_ char *text = NULL;
        int r = read_small(a, e, META_MAX, &text, NULL, err);
        return r < 0 ? r : parse_info(text, info, err);
}

int vps_backup_peek(vps_backup_reader rd, void *arg, struct vps_backup_info *ret_info,
                    char **ret_manifest, size_t *ret_manifest_len, vps_error *err)
{
        _cleanup_free_ struct src *s = malloc(sizeof(*s));
        if (!s)
                return vps_err(err, ENOMEM, "out of memory");
        s->rd = rd;
        s->arg = arg;
        _cleanup_archive_read_ struct archive *a = open_reader(s, err);
        if (!a)
                return -err->code;
        int r = read_info(a, ret_info, err);
        if (r < 0 || !ret_manifest)
                return r;
        struct archive_entry *e;
        for (;;) {
                int h = archive_read_next_header(a, &e);
                if (h == ARCHIVE_EOF)
                        return vps_err(err, EBADMSG, "the backup has no %s (truncated?)",
                                       VPS_BACKUP_MANIFEST);
                if (h < ARCHIVE_WARN)
                        return vps_err(err, EBADMSG, "reading the backup: %s",
                                       archive_error_string(a));
                if (strcmp(name_of(e), VPS_BACKUP_MANIFEST) == 0)
                        return read_small(a, e, VPS_BACKUP_MANIFEST_MAX, ret_manifest,
                                          ret_manifest_len, err);
        }
}

/* --- restore ----------------------------------------------------------------------------- */

struct rctx {
        const struct vps_restore_opts *o;
        struct archive *in, *out;
        struct vps_manifest seen;
        struct vps_backup_progress p;
        bool full, want_root;
        vps_error *err;
};

static const char *escape_of(const char *p)
{
        if (p[0] == '/')
                return "an absolute path";
        for (const char *s = p; (s = strstr(s, "..")); s += 2)
                if ((s == p || s[-1] == '/') && (s[2] == '/' || !s[2]))
                        return "a '..' path";
        if (strstr(p, "//") || (p[0] == '.' && (p[1] == '/' || !p[1])) || strstr(p, "/./") ||
            (strlen(p) >= 2 && !strcmp(p + strlen(p) - 2, "/.")))
                return "a path that is not canonical";
        return NULL;
}

/* "upper", "upper/...", "root", "root/...": which tree, or NULL. */
static const char *tree_of(const char *p)
{
        if (!strncmp(p, "upper", 5) && (!p[5] || p[5] == '/'))
                return "upper";
        if (!strncmp(p, "root", 4) && (!p[4] || p[4] == '/'))
                return "root";
        return NULL;
}

/* The directory holding path (relative to the staging directory), reached without any
 * symlink and without leaving it; -ENOENT when a component is missing. */
static int open_parent(int staging, const char *path, const char **ret_base)
{
        const char *slash = strrchr(path, '/');
        *ret_base = slash ? slash + 1 : path;
        _cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                          RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
        int fd = (int)vps_sys_openat2(staging, dir, &how);
        return fd < 0 ? -errno : fd;
}

static bool dev_allowed(const struct vps_restore_opts *o, unsigned int maj, unsigned int min)
{
        if (maj == 0 && min == 0)
                return true; /* an overlay whiteout */
        for (size_t i = 0; i < o->n_devs; i++)
                if (o->devs[i][0] == maj && o->devs[i][1] == min)
                        return true;
        return false;
}

static bool xattr_allowed(const char *name)
{
        return !strncmp(name, "user.", 5) || !strcmp(name, "security.capability") ||
               !strcmp(name, "system.posix_acl_access") ||
               !strcmp(name, "system.posix_acl_default") || !strcmp(name, "trusted.overlay.opaque");
}

/* Owners, ACL qualifiers and a capability's root id into the new range (upper/ only: a
 * template's tree keeps its own ids, idmapped at start). */
static int remap(struct rctx *c, struct archive_entry *e, bool upper, const char *path)
{
        const struct vps_restore_opts *o = c->o;
        uint32_t add = upper ? o->uid_base : 0;
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
        if (uid < 0 || gid < 0 || uid >= o->uid_count || gid >= o->uid_count)
                return vps_err(c->err, EPERM, "%s: owner %lld:%lld outside the VPS's %u ids", path,
                               (long long)uid, (long long)gid, o->uid_count);
        archive_entry_set_uid(e, uid + add);
        archive_entry_set_gid(e, gid + add);
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        struct {
                int type, perm, tag, id;
        } acls[64];
        int n = 0, type, perm, tag, id;
        const char *name;
        int types = ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT;
        if (archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_NFS4) > 0)
                return vps_err(c->err, EPERM, "%s: an NFSv4 ACL", path);
        if (archive_entry_acl_reset(e, types) > 0) {
                while (archive_entry_acl_next(e, types, &type, &perm, &tag, &id, &name) ==
                       ARCHIVE_OK) {
                        if (n == 64)
                                return vps_err(c->err, E2BIG, "%s: more than 64 ACL entries", path);
                        if (tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP) {
                                if (id < 0 || (uint32_t)id >= o->uid_count)
                                        return vps_err(c->err, EPERM,
                                                       "%s: ACL id %d outside the VPS's ids", path,
                                                       id);
                                id += (int)add;
                        }
                        acls[n].type = type, acls[n].perm = perm, acls[n].tag = tag;
                        acls[n++].id = id;
                }
                archive_entry_acl_clear(e);
                for (int i = 0; i < n; i++)
                        if (archive_entry_acl_add_entry(e, acls[i].type, acls[i].perm, acls[i].tag,
                                                        acls[i].id, NULL) != ARCHIVE_OK)
                                return vps_err(c->err, EPERM, "%s: a bad ACL", path);
        }
        struct {
                char *name;
                void *v;
                size_t len;
        } xa[64];
        int nx = 0, r = 0;
        const void *v;
        size_t len;
        if (archive_entry_xattr_reset(e) > 0) {
                while (r == 0 && archive_entry_xattr_next(e, &name, &v, &len) == ARCHIVE_OK) {
                        if (nx == 64) {
                                r = vps_err(c->err, E2BIG, "%s: more than 64 xattrs", path);
                                break;
                        }
                        if (!xattr_allowed(name)) {
                                r = vps_err(c->err, EPERM, "%s: xattr %.64s is not allowed", path,
                                            name);
                                break;
                        }
                        xa[nx].name = strdup(name);
                        xa[nx].v = malloc(len ? len : 1);
                        xa[nx].len = len;
                        if (!xa[nx].name || !xa[nx].v) {
                                free(xa[nx].name);
                                free(xa[nx].v);
                                r = vps_err(c->err, ENOMEM, "out of memory");
                                break;
                        }
                        memcpy(xa[nx].v, v, len);
                        if (!strcmp(name, "security.capability") && len == 24) {
                                uint32_t root;
                                memcpy(&root, (char *)xa[nx].v + 20, 4);
                                if (root >= o->uid_count)
                                        r = vps_err(c->err, EPERM,
                                                    "%s: capability root id outside the range",
                                                    path);
                                root += add;
                                memcpy((char *)xa[nx].v + 20, &root, 4);
                        }
                        nx++;
                }
                if (r == 0)
                        archive_entry_xattr_clear(e);
                for (int i = 0; i < nx; i++) {
                        if (r == 0)
                                archive_entry_xattr_add_entry(e, xa[i].name, xa[i].v, xa[i].len);
                        free(xa[i].name);
                        free(xa[i].v);
                }
        }
        return r;
}

/* A path of an earlier archive of the chain in the way of an entry of another type. */
static int clear_way(struct rctx *c, const char *path, mode_t type)
{
        const char *base;
        _cleanup_close_ int dfd = open_parent(c->o->staging_fd, path, &base);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return vps_err(c->err, EPERM, "%s: its directory is a symlink or missing (%s)",
                               path, strerror(-dfd));
        struct stat st;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (S_ISDIR(st.st_mode) && type == AE_IFDIR)
                return 0;
        if (S_ISDIR(st.st_mode))
                return vps_rm_rf_at(dfd, base, c->err);
        return unlinkat(dfd, base, 0) < 0 && errno != ENOENT
                       ? vps_err_sys(c->err, errno, "removing %s", path)
                       : 0;
}

static int check_entry(struct rctx *c, struct archive_entry *e, const char *path)
{
        const char *why = escape_of(path);
        const char *hl = archive_entry_hardlink(e);
        if (!why && hl)
                why = escape_of(hl);
        if (why)
                return vps_err(c->err, EPERM, "refused: %s (%.200s)", why,
                               hl && escape_of(hl) ? hl : path);
        const char *tree = tree_of(path);
        if (!tree)
                return vps_err(c->err, EPERM, "refused: %.200s is not part of a VPS's backup",
                               path);
        if (hl && tree_of(hl) != tree)
                return vps_err(c->err, EPERM, "refused: a hard link from %.200s to another tree",
                               path);
        /* A hard link's type is the file's it names (libarchive leaves it 0). */
        mode_t type = hl ? AE_IFREG : archive_entry_filetype(e);
        switch (type) {
        case AE_IFREG:
        case AE_IFDIR:
        case AE_IFLNK:
        case AE_IFIFO:
                break;
        case AE_IFCHR:
                if (!dev_allowed(c->o, archive_entry_rdevmajor(e), archive_entry_rdevminor(e)))
                        return vps_err(c->err, EPERM,
                                       "refused: %.200s is device %u:%u, which VPSes may not have",
                                       path, (unsigned int)archive_entry_rdevmajor(e),
                                       (unsigned int)archive_entry_rdevminor(e));
                break;
        case AE_IFBLK:
                return vps_err(c->err, EPERM, "refused: %.200s is a block device", path);
        default:
                return vps_err(c->err, EPERM, "refused: %.200s has an unknown type", path);
        }
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > c->o->max_file_size)
                return vps_err(c->err, EFBIG,
                               "refused: %.200s claims %lld bytes, more than this file system "
                               "holds",
                               path, (long long)size);
        if (archive_entry_mode(e) & ~(mode_t)(S_IFMT | 07777))
                return vps_err(c->err, EPERM, "refused: %.200s has a bad mode", path);
        /* Nothing is written through a symlink: every directory on the way must be one.
         * The tree's own top ("upper") has the staging directory as parent. */
        const char *base;
        _cleanup_close_ int dfd = open_parent(c->o->staging_fd, path, &base);
        if (dfd < 0)
                return vps_err(c->err, EPERM, "refused: %.200s: %s", path,
                               dfd == -ELOOP || dfd == -EXDEV ? "written through a symlink"
                               : dfd == -ENOENT               ? "its directory comes later or never"
                                                              : strerror(-dfd));
        if (hl) {
                const char *hb;
                _cleanup_close_ int hfd = open_parent(c->o->staging_fd, hl, &hb);
                struct stat st;
                if (hfd < 0 || fstatat(hfd, hb, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    S_ISDIR(st.st_mode))
                        return vps_err(c->err, EPERM,
                                       "refused: hard link %.200s to %.200s, not a file restored "
                                       "before it",
                                       path, hl);
        }
        return 0;
}

static int data_to_disk(struct rctx *c, struct archive_entry *e, const char *path, char hash[65])
{
        struct sha256_ctx h;
        sha256_init(&h);
        static const uint8_t zeros[4096];
        const void *buf;
        size_t len;
        la_int64_t off, done = 0;
        int k;
        while ((k = archive_read_data_block(c->in, &buf, &len, &off)) == ARCHIVE_OK) {
                if (off < done)
                        return vps_err(c->err, EBADMSG, "%.200s: data out of order", path);
                for (; done < off;) {
                        size_t z = (size_t)(off - done) < sizeof(zeros) ? (size_t)(off - done)
                                                                        : sizeof(zeros);
                        sha256_update(&h, z, zeros);
                        done += (la_int64_t)z;
                }
                sha256_update(&h, len, buf);
                if (archive_write_data_block(c->out, buf, len, off) < ARCHIVE_WARN)
                        return vps_err(c->err, EIO, "writing %.200s: %s", path,
                                       archive_error_string(c->out));
                done = off + (la_int64_t)len;
                c->p.bytes += len;
        }
        if (k != ARCHIVE_EOF)
                return vps_err(c->err, EBADMSG, "reading %.200s: %s", path,
                               archive_error_string(c->in));
        for (la_int64_t size = archive_entry_size(e); done < size;) {
                size_t z = (size_t)(size - done) < sizeof(zeros) ? (size_t)(size - done)
                                                                 : sizeof(zeros);
                sha256_update(&h, z, zeros);
                done += (la_int64_t)z;
        }
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_digest(&h, sizeof(d), d);
        for (size_t i = 0; i < sizeof(d); i++)
                (void)snprintf(hash + 2 * i, 3, "%02x", d[i]);
        return 0;
}

static char type_char(mode_t t)
{
        switch (t) {
        case AE_IFREG:
                return 'f';
        case AE_IFDIR:
                return 'd';
        case AE_IFLNK:
                return 'l';
        case AE_IFIFO:
                return 'p';
        case AE_IFCHR:
                return 'c';
        default:
                return '?';
        }
}

static int one_entry(struct rctx *c, struct archive_entry *e)
{
        if (!*name_of(e))
                return vps_err(c->err, EPERM, "refused: an entry without a name");
        _cleanup_free_ char *path = strdup(name_of(e));
        if (!path)
                return vps_err(c->err, ENOMEM, "out of memory");
        /* tar marks a directory with a trailing '/': one, on a directory only. */
        size_t plen = strlen(path);
        if (plen > 1 && path[plen - 1] == '/' && archive_entry_filetype(e) == AE_IFDIR) {
                path[plen - 1] = '\0';
                archive_entry_set_pathname(e, path);
        }
        const char *tree = tree_of(path);
        bool upper = tree && !strcmp(tree, "upper");
        if (tree && !upper && !c->full)
                return vps_err(c->err, EPERM, "refused: %.200s in a backup that is not --full",
                               path);
        /* Not needed here (the template is present): read through, never written. */
        if (tree && !upper && !c->want_root && !escape_of(path))
                return archive_read_data_skip(c->in) < ARCHIVE_WARN
                               ? vps_err(c->err, EBADMSG, "reading the backup: %s",
                                         archive_error_string(c->in))
                               : 0;
        int r = check_entry(c, e, path);
        if (r < 0)
                return r;
        struct vps_mf_entry m = {
                .kind = VPS_MF_HERE,
                .type = type_char(archive_entry_filetype(e)),
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
        if ((r = remap(c, e, upper, path)) < 0)
                return r;
        /* Only a later archive of a chain finds earlier files in the way. */
        if (!hl && c->o->expect_base[0] && (r = clear_way(c, path, archive_entry_filetype(e))) < 0)
                return r;
        if (archive_write_header(c->out, e) < ARCHIVE_WARN)
                return vps_err(c->err, EPERM, "refused: %.200s: %s", path,
                               archive_error_string(c->out));
        if (m.type == 'f' && !hl) {
                if ((r = data_to_disk(c, e, path, m.hash)) < 0)
                        return r;
        }
        if (archive_write_finish_entry(c->out) < ARCHIVE_WARN)
                return vps_err(c->err, EIO, "writing %.200s: %s", path,
                               archive_error_string(c->out));
        c->p.files++;
        if (c->o->progress && c->p.files % 256 == 0)
                c->o->progress(c->o->arg, &c->p);
        return vps_manifest_add(&c->seen, &m, c->err);
}

static int remove_path(struct rctx *c, const char *path)
{
        const char *base;
        _cleanup_close_ int dfd = open_parent(c->o->staging_fd, path, &base);
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
                bool in_root = !strcmp(tree_of(w->path) ? tree_of(w->path) : "", "root");
                if (!tree_of(w->path) || escape_of(w->path)) {
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
                        _cleanup_close_ int dfd = open_parent(c->o->staging_fd, w->path, &base);
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
                _cleanup_close_ int dfd = open_parent(c->o->staging_fd, m->path, &base);
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
        if (h < ARCHIVE_WARN || h == ARCHIVE_EOF || strcmp(name_of(e), VPS_BACKUP_CONFIG) != 0)
                return vps_err(c->err, EBADMSG, "not a vpsd backup: no %s after %s",
                               VPS_BACKUP_CONFIG, VPS_BACKUP_META);
        int r = read_small(c->in, e, CONFIG_MAX, ret_config, NULL, c->err);
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
                if (!strcmp(name_of(e), VPS_BACKUP_MANIFEST))
                        break;
                if ((r = one_entry(c, e)) < 0)
                        return r;
        }
        _cleanup_free_ char *mf = NULL;
        size_t len = 0;
        if ((r = read_small(c->in, e, VPS_BACKUP_MANIFEST_MAX, &mf, &len, c->err)) < 0)
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
        _cleanup_free_ struct src *s = malloc(sizeof(*s));
        if (!s)
                return vps_err(err, ENOMEM, "out of memory");
        s->rd = rd;
        s->arg = rd_arg;
        _cleanup_archive_read_ struct archive *in = open_reader(s, err);
        if (!in)
                return -err->code;
        int r = read_info(in, ret_info, err);
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
