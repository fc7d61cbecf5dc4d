/* libvps: writes a VPS's backup archive (vps/backup.h) from its upper layer (and, for
 * --full, its merged root) with libarchive: owners, modes, times, xattrs, POSIX ACLs, hard
 * links, sparse files, fifos and device nodes kept; owners made relative to the VPS's id
 * range, so a restore can give the data another range. */
#include "storage/archive_cleanup.h"
#include "storage/backup.h"
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (256 * 1024)

/* A host id as the VPS sees it: its own range from 0, a template's (0-based) as it is;
 * anything else (outside every range) is the overflow id, as the guest sees it. */
static uint32_t rel_id(const struct vps_backup_opts *o, int64_t id)
{
        if (id >= o->uid_base && id < (int64_t)o->uid_base + o->uid_count)
                return (uint32_t)(id - o->uid_base);
        if (id >= 0 && id < o->uid_count)
                return (uint32_t)id;
        return 65534;
}

/* Owners of the entry, its ACL qualifiers and a v3 file capability's root id made
 * relative to the VPS's range. */
static int relativise(struct vps_bk_wctx *c, struct archive_entry *e)
{
        const struct vps_backup_opts *o = c->o;
        archive_entry_set_uid(e, rel_id(o, archive_entry_uid(e)));
        archive_entry_set_gid(e, rel_id(o, archive_entry_gid(e)));
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        struct acl {
                int type, perm, tag, id;
        } acls[64];
        int n = 0, type, perm, tag, id;
        const char *name;
        int types = ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT;
        if (archive_entry_acl_reset(e, types) > 0) {
                while (archive_entry_acl_next(e, types, &type, &perm, &tag, &id, &name) ==
                       ARCHIVE_OK) {
                        if (n == 64)
                                return vps_err(c->err, E2BIG, "%s: more than 64 ACL entries",
                                               archive_entry_pathname(e));
                        if (tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP)
                                id = (int)rel_id(o, id);
                        acls[n++] = (struct acl){type, perm, tag, id};
                }
                archive_entry_acl_clear(e);
                for (int i = 0; i < n; i++)
                        (void)archive_entry_acl_add_entry(e, acls[i].type, acls[i].perm,
                                                          acls[i].tag, acls[i].id, NULL);
        }
        /* security.capability v3 (24 bytes) names the host id of its namespace's root. */
        struct xa {
                char *name;
                void *v;
                size_t len;
        } xa[64];
        int nx = 0;
        const void *v;
        size_t len;
        if (archive_entry_xattr_reset(e) > 0) {
                while (archive_entry_xattr_next(e, &name, &v, &len) == ARCHIVE_OK && nx < 64) {
                        xa[nx].name = strdup(name);
                        xa[nx].v = malloc(len ? len : 1);
                        if (!xa[nx].name || !xa[nx].v)
                                return vps_err(c->err, ENOMEM, "out of memory");
                        memcpy(xa[nx].v, v, len);
                        xa[nx].len = len;
                        if (!strcmp(name, "security.capability") && len == 24) {
                                uint32_t root;
                                memcpy(&root, (char *)xa[nx].v + 20, 4);
                                root = rel_id(o, root);
                                memcpy((char *)xa[nx].v + 20, &root, 4);
                        }
                        nx++;
                }
                archive_entry_xattr_clear(e);
                for (int i = 0; i < nx; i++) {
                        archive_entry_xattr_add_entry(e, xa[i].name, xa[i].v, xa[i].len);
                        free(xa[i].name);
                        free(xa[i].v);
                }
        }
        return 0;
}

/* A file of the archive's own (vpsbackup.json...): its header, len bytes to come. */
static int blob_header(struct vps_bk_wctx *c, const char *name, size_t len)
{
        _cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
        if (!e)
                return vps_err(c->err, ENOMEM, "out of memory");
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_mtime(e, time(NULL), 0);
        if (archive_write_header(c->out, e) != ARCHIVE_OK)
                return vps_err(c->err, EIO, "writing %s: %s", name, archive_error_string(c->out));
        return 0;
}

static int add_blob(struct vps_bk_wctx *c, const char *name, const void *data, size_t len)
{
        int r = blob_header(c, name, len);
        if (r == 0 && archive_write_data(c->out, data, len) != (la_ssize_t)len)
                return vps_err(c->err, EIO, "writing %s: %s", name, archive_error_string(c->out));
        return r;
}

struct blob_out {
        struct archive *out;
        size_t done;
};

static int blob_put(void *arg, const void *buf, size_t len)
{
        struct blob_out *b = arg;
        if (archive_write_data(b->out, buf, len) != (la_ssize_t)len)
                return -EIO;
        b->done += len;
        return 0;
}

/* The MANIFEST of c->mf (len bytes: vps_manifest_format_size), written as it is formatted
 * (never held whole). */
static int add_manifest(struct vps_bk_wctx *c, size_t len)
{
        struct blob_out b = {c->out, 0};
        int r = blob_header(c, VPS_BACKUP_MANIFEST, len);
        if (r == 0 && (r = vps_manifest_format_to(&c->mf, blob_put, &b)) < 0)
                return r == -EIO ? vps_err(c->err, EIO, "writing %s: %s", VPS_BACKUP_MANIFEST,
                                           archive_error_string(c->out))
                                 : vps_err(c->err, -r, "writing %s: %s", VPS_BACKUP_MANIFEST,
                                           strerror(-r));
        if (r == 0 && b.done != len) /* the two passes disagree: a bug, never a short file */
                return vps_err(c->err, EIO, "writing %s: %zu bytes, not %zu", VPS_BACKUP_MANIFEST,
                               b.done, len);
        return r;
}

bool vps_bk_unchanged(const struct vps_mf_entry *b, const struct vps_mf_entry *now)
{
        return b && b->kind != VPS_MF_DELETED && b->type == now->type && b->mode == now->mode &&
               b->uid == now->uid && b->gid == now->gid && b->size == now->size &&
               b->mtime_ns == now->mtime_ns && b->ino == now->ino && b->ctime_ns == now->ctime_ns;
}

/* The MANIFEST's entry of a file as lstat describes it (no hash yet). */
void vps_bk_mf_of_stat(const struct vps_bk_wctx *c, const struct stat *st, char *name,
                       struct vps_mf_entry *m)
{
        *m = (struct vps_mf_entry){
                .kind = VPS_MF_HERE,
                .type = vps_mf_type_of(st->st_mode),
                .mode = st->st_mode & 07777,
                .uid = rel_id(c->o, st->st_uid),
                .gid = rel_id(c->o, st->st_gid),
                .size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0,
                .mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
                .ino = st->st_ino,
                .ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
                .hash = "-",
                .path = name,
        };
}

/* A copy of the base's file (a running VPS is backed up from a fresh capture: other
 * inodes, other ctimes): the same metadata, no xattr or ACL (a change of which only the
 * ctime would tell), and for a file the same content. */
static bool same_copy(struct vps_bk_wctx *c, struct archive_entry *e, const char *path,
                      const struct vps_mf_entry *b, const struct vps_mf_entry *now)
{
        if (!b || b->kind == VPS_MF_DELETED || b->type != now->type || b->mode != now->mode ||
            b->uid != now->uid || b->gid != now->gid || b->size != now->size ||
            b->mtime_ns != now->mtime_ns || archive_entry_xattr_count(e) > 0 ||
            archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS |
                                               ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) > 0)
                return false;
        if (now->type == 'l')
                return !strcmp(b->hash, now->hash);
        if (now->type != 'f')
                return true; /* a directory, fifo or device: its metadata is all of it */
        /* Hard links: which paths share the inode is not in the MANIFEST. */
        if (archive_entry_nlink(e) > 1)
                return false;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return false;
        /* Its data extents alone (SEEK_DATA): the holes are zeros. */
        vps_zhash_init(c->zh, c->mf.version);
        for (off_t pos = 0, data, hole; pos < (off_t)now->size; pos = hole) {
                if ((data = lseek(fd, pos, SEEK_DATA)) < 0 ||
                    (hole = lseek(fd, data, SEEK_HOLE)) < 0)
                        break; /* ENXIO: no data past pos */
                for (off_t at = data; at < hole;) {
                        ssize_t n = pread(fd, c->buf,
                                          (size_t)(hole - at) < BLOCK ? (size_t)(hole - at) : BLOCK,
                                          at);
                        if (n <= 0)
                                return false;
                        vps_zhash_data(c->zh, (uint64_t)at, c->buf, (size_t)n);
                        at += n;
                }
        }
        char hex[65];
        vps_zhash_finish(c->zh, now->size, hex);
        return !strcmp(hex, b->hash);
}

/* The zeros of holes up to off, for the pax writer, which takes a sparse file's bytes in
 * order and drops those its sparse map says are holes: from a read-only mapping of zeros
 * (no memory: the zero page), ZEROS bytes a call. */
#define ZEROS (64u << 20)
static int write_hole(struct vps_bk_wctx *c, la_int64_t *done, la_int64_t off)
{
        if (*done < off && !c->zeros) {
                void *z = mmap(NULL, ZEROS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (z == MAP_FAILED)
                        return vps_err_sys(c->err, errno, "mapping zeros");
                c->zeros = z;
        }
        while (*done < off) {
                size_t z = (uint64_t)(off - *done) < ZEROS ? (size_t)(off - *done) : ZEROS;
                if (archive_write_data(c->out, c->zeros, z) < 0)
                        return vps_err(c->err, EIO, "writing the archive: %s",
                                       archive_error_string(c->out));
                *done += (la_int64_t)z;
        }
        return 0;
}

/* Content into the archive (holes left out by the pax writer), hashed as the format says
 * (format 2: holes cost nothing). */
static int copy_data(struct vps_bk_wctx *c, struct archive *disk, struct archive_entry *e,
                     char hash[65])
{
        struct vps_zhash *h = c->zh;
        vps_zhash_init(h, c->mf.version);
        const void *buf;
        size_t len;
        la_int64_t off, done = 0;
        int k, r;
        while ((k = archive_read_data_block(disk, &buf, &len, &off)) == ARCHIVE_OK) {
                if (off < done)
                        return vps_err(c->err, EIO, "reading %s: data out of order",
                                       archive_entry_pathname(e));
                if ((r = write_hole(c, &done, off)) < 0)
                        return r;
                vps_zhash_data(h, (uint64_t)off, buf, len);
                if (len && archive_write_data(c->out, buf, len) < 0)
                        return vps_err(c->err, EIO, "writing the archive: %s",
                                       archive_error_string(c->out));
                done += (la_int64_t)len;
                c->p.bytes += len;
        }
        if (k != ARCHIVE_EOF)
                return vps_err(c->err, EIO, "reading %s: %s", archive_entry_pathname(e),
                               archive_error_string(disk));
        la_int64_t size = archive_entry_size(e);
        if ((r = write_hole(c, &done, size)) < 0)
                return r;
        vps_zhash_finish(h, (uint64_t)size, hash);
        return 0;
}

/* An entry whose metadata differs from the base's (or that the base lacks): the same as
 * the base's if it is a copy of it, else into the archive, its content read from disk. */
int vps_bk_put_entry(struct vps_bk_wctx *c, struct archive *disk,
                     struct archive_linkresolver_pair *lp, struct archive_entry *e, const char *src,
                     struct vps_mf_entry *m, const struct vps_mf_entry *b)
{
        const struct stat *st = archive_entry_stat(e);
        int r;
        if (vps_bk_unchanged(b, m)) {
                m->kind = VPS_MF_SAME;
                memcpy(m->hash, b->hash, sizeof(m->hash));
                m->line = b->line;
                m->line_len = b->line_len;
                return vps_manifest_add(&c->mf, m, c->err);
        }
        if (same_copy(c, e, src, b, m)) {
                /* Another inode, another ctime: its own line, the base's hash. */
                m->kind = VPS_MF_SAME;
                memcpy(m->hash, b->hash, sizeof(m->hash));
                return vps_manifest_add(&c->mf, m, c->err);
        }
        if ((r = relativise(c, e)) < 0)
                return r;
        struct archive_entry *w = e, *spare = NULL;
        archive_entry_linkify(lp->lr, &w, &spare);
        /* The pax strategy never defers: w is e, as a first link or a hard link. */
        if (!w)
                return vps_err(c->err, EIO, "%s: hard link not resolved", m->path);
        if (archive_write_header(c->out, w) < ARCHIVE_WARN)
                return vps_err(c->err, EIO, "writing %s: %s", m->path,
                               archive_error_string(c->out));
        if (S_ISREG(st->st_mode) && archive_entry_size(w) > 0 &&
            (r = copy_data(c, disk, w, m->hash)) < 0)
                return r;
        if (S_ISREG(st->st_mode) && archive_entry_size(w) == 0 && archive_entry_hardlink(w)) {
                /* A later link of a file: its content is the first one's. */
                struct vps_mf_entry *first = NULL;
                for (size_t i = c->mf.n; i-- > 0;)
                        if (c->mf.e[i].ino == m->ino && c->mf.e[i].type == 'f') {
                                first = &c->mf.e[i];
                                break;
                        }
                if (first)
                        memcpy(m->hash, first->hash, sizeof(m->hash));
        } else if (S_ISREG(st->st_mode) && m->size == 0) {
                vps_zhash_init(c->zh, c->mf.version);
                vps_zhash_finish(c->zh, 0, m->hash);
        }
        c->res->in_archive++;
        return vps_manifest_add(&c->mf, m, c->err);
}

struct archive *vps_bk_disk_new(bool lstat_only)
{
        struct archive *disk = archive_read_disk_new();
        if (!disk)
                return NULL;
        archive_read_disk_set_symlink_physical(disk);
        (void)archive_read_disk_set_behavior(
                disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS |
                              (lstat_only ? ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                                    ARCHIVE_READDISK_NO_SPARSE
                                          : 0));
        return disk;
}

/* One tree (upper/ or root/) into the archive under prefix, walked by libarchive. */
int vps_bk_add_tree(struct vps_bk_wctx *c, const char *path, const char *prefix)
{
        _cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
        _cleanup_(linkresolver_freep) struct archive_linkresolver_pair lp = {
                archive_entry_linkresolver_new()};
        /* An incremental walks with lstat only; xattrs, ACLs and sparse maps are read (by
         * meta) for what goes into the archive or needs them to decide: most is unchanged. */
        bool lazy = c->o->base_manifest != NULL;
        _cleanup_archive_read_ struct archive *disk = vps_bk_disk_new(lazy);
        _cleanup_archive_read_ struct archive *meta = lazy ? vps_bk_disk_new(false) : NULL;
        if (!disk || !e || !lp.lr || (lazy && !meta))
                return vps_err(c->err, ENOMEM, "out of memory");
        archive_entry_linkresolver_set_strategy(lp.lr, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
        if (archive_read_disk_open(disk, path) != ARCHIVE_OK)
                return vps_err(c->err, EIO, "opening %s: %s", path, archive_error_string(disk));
        _cleanup_(vps_bk_src_free) struct vps_bk_src sp = VPS_BK_SRC_INIT(path);
        size_t plen = strlen(path), name_cap = 0, src_cap = 0;
        _cleanup_free_ char *name = NULL, *src = NULL;
        for (;;) {
                archive_entry_clear(e);
                int r = archive_read_next_header2(disk, e);
                if (r == ARCHIVE_EOF)
                        break;
                /* The merged root lists a whiteout of a directory that has no lower
                 * part, which it cannot stat: not a file of the VPS. */
                if (r == ARCHIVE_FAILED && !strcmp(prefix, "root"))
                        continue;
                if (r < ARCHIVE_WARN)
                        return vps_err(c->err, EIO, "reading %s: %s", path,
                                       archive_error_string(disk));
                (void)archive_read_disk_descend(disk);
                const char *full = archive_entry_pathname(e);
                if (strncmp(full, path, plen) != 0 || (full[plen] && full[plen] != '/'))
                        return vps_err(c->err, EIO, "reading %s: unexpected path", path);
                /* Kept for the walk's life (set_pathname frees full): grown as needed. */
                size_t rest = strlen(full + plen), flen = plen + rest;
                if (vps_grow(&name, &name_cap, strlen(prefix) + rest + 1) < 0 ||
                    vps_grow(&src, &src_cap, flen + 1) < 0)
                        return vps_err(c->err, ENOMEM, "out of memory");
                memcpy(src, full, flen + 1);
                memcpy(stpcpy(name, prefix), full + plen, rest + 1);
                archive_entry_set_pathname(e, name);
                c->p.files++;
                if (c->o->progress && c->p.files % 256 == 0)
                        c->o->progress(c->o->arg, &c->p);
                const struct stat *st = archive_entry_stat(e);
                struct vps_mf_entry m;
                vps_bk_mf_of_stat(c, st, name, &m);
                if (m.type == 's')
                        continue; /* a socket is nothing without its listener */
                if (S_ISLNK(st->st_mode)) {
                        const char *t = archive_entry_symlink(e);
                        vps_sha256_hex(t ? t : "", t ? strlen(t) : 0, m.hash);
                }
                struct vps_mf_entry *b =
                        c->o->base_manifest ? vps_manifest_find(&c->base, name) : NULL;
                if (b)
                        b->seen = true;
                const char *at = src;
                if (!vps_bk_unchanged(b, &m) && meta) {
                        struct stat copy = *st;
                        if ((r = vps_bk_src_path(&sp, src, &at)) < 0)
                                return vps_err(c->err, -r, "reading %s: %s", name, strerror(-r));
                        archive_entry_copy_sourcepath(e, at);
                        if (archive_read_disk_entry_from_file(meta, e, -1, &copy) < ARCHIVE_WARN)
                                return vps_err(c->err, EIO, "reading %s: %s", name,
                                               archive_error_string(meta));
                        archive_entry_set_pathname(e, name);
                        /* With its ACL read, the mode is the one a full walk records. */
                        m.mode = archive_entry_stat(e)->st_mode & 07777;
                }
                if ((r = vps_bk_put_entry(c, disk, &lp, e, at, &m, b)) < 0)
                        return r;
        }
        return 0;
}

static void random_id(char out[33])
{
        uint8_t b[16] = {0};
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
                struct timespec ts;
                (void)clock_gettime(CLOCK_REALTIME, &ts);
                memcpy(b, &ts, sizeof(ts) < sizeof(b) ? sizeof(ts) : sizeof(b));
        }
        for (size_t i = 0; i < sizeof(b); i++)
                (void)snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int write_meta(struct vps_bk_wctx *c)
{
        struct utsname u;
        (void)uname(&u);
        const struct vps_backup_opts *o = c->o;
        _cleanup_json_ json_t *j = json_pack(
                "{s:i, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:I}", "format", c->mf.version,
                "arch", u.machine, "id", o->vps_id, "template", "name", o->tpl_name, "version",
                o->tpl_version, "distro", o->tpl_distro ? o->tpl_distro : "", "kind",
                o->root_path ? "full" : "upper", "backup_id", c->res->backup_id, "base_id",
                o->base_id ? o->base_id : "", "created", (json_int_t)time(NULL));
        if (!j)
                return vps_err(c->err, EINVAL, "backup metadata: bad value");
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
        if (!text)
                return vps_err(c->err, ENOMEM, "out of memory");
        return add_blob(c, VPS_BACKUP_META, text, strlen(text));
}

/* Paths of the base no longer here: recorded as deleted (found first, then added, so the
 * lookups in c->mf keep one index). A path the walk met (seen) is here; only the others are
 * looked up (a base listing a path twice: its second is here too), so that an incremental
 * with nothing deleted builds no index of c->mf. */
static int add_deletions(struct vps_bk_wctx *c)
{
        _cleanup_free_ size_t *gone = reallocarray(NULL, c->base.n ? c->base.n : 1, sizeof(*gone));
        if (!gone)
                return vps_err(c->err, ENOMEM, "out of memory");
        size_t n = 0;
        for (size_t i = 0; i < c->base.n; i++)
                if (c->base.e[i].kind != VPS_MF_DELETED && !c->base.e[i].seen &&
                    !vps_manifest_find(&c->mf, c->base.e[i].path))
                        gone[n++] = i;
        for (size_t i = 0; i < n; i++) {
                struct vps_mf_entry d = c->base.e[gone[i]];
                d.kind = VPS_MF_DELETED;
                c->res->deleted++;
                int r = vps_manifest_add_lent(&c->mf, &d, c->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vps_backup_write(const struct vps_backup_opts *o, struct vps_backup_result *ret, vps_error *err)
{
        *ret = (struct vps_backup_result){0};
        random_id(ret->backup_id);
        _cleanup_free_ char *buf = malloc(BLOCK);
        _cleanup_free_ struct vps_zhash *zh = malloc(sizeof(*zh));
        struct vps_bk_wctx c = {.o = o, .res = ret, .err = err, .buf = buf, .zh = zh};
        _cleanup_archive_write_ struct archive *out = archive_write_new();
        if (!out || !buf || !zh)
                return vps_err(err, ENOMEM, "out of memory");
        c.out = out;
        int r = 0;
        /* An incremental's walk runs beside the base's parsing. */
        _cleanup_(vps_bk_walk_free) struct vps_bk_walk wu = {.top_fd = -1};
        _cleanup_(vps_bk_walk_free) struct vps_bk_walk wr = {.top_fd = -1};
        struct vps_bk_walk *up = o->upper_walk ? o->upper_walk : &wu;
        if (o->base_manifest && !o->upper_walk)
                (void)vps_bk_walk_start(&wu, o->upper_path, false);
        if (o->base_manifest && (r = vps_manifest_parse_in_place(
                                         o->base_manifest, o->base_manifest_len, &c.base, err)) < 0)
                return vps_err_wrap(err, "the base backup");
        /* Indexed while the walk runs, not after it. */
        vps_manifest_index(&c.base);
        c.mf.lender = &c.base;
        /* The hashes of a chain are of its first backup's format. */
        c.mf.version = o->base_manifest ? c.base.version : VPS_BACKUP_FORMAT;
        /* The walk meets about as many paths as the base lists. */
        if (o->base_manifest)
                r = vps_manifest_reserve(&c.mf, c.base.n + 64, err);
        struct vps_bk_frames fr = {.write = o->write, .arg = o->arg};
        if (r == 0 && (archive_write_set_format_pax(out) != ARCHIVE_OK ||
                       archive_write_set_options(out, "hdrcharset=BINARY") < ARCHIVE_WARN))
                r = vps_err(err, EIO, "starting the archive: %s", archive_error_string(out));
        if (r == 0)
                r = vps_bk_frames_open(&fr, out, err);
        if (r == 0)
                r = write_meta(&c);
        if (r == 0)
                r = add_blob(&c, VPS_BACKUP_CONFIG, o->config_json, strlen(o->config_json));
        if (r == 0)
                r = vps_bk_frames_cut(&fr, out, false, err);
        if (r == 0)
                r = o->base_manifest ? vps_bk_add_tree_incr(&c, up, o->upper_path, "upper")
                                     : vps_bk_add_tree(&c, o->upper_path, "upper");
        if (r == 0 && o->root_path && o->base_manifest)
                (void)vps_bk_walk_start(&wr, o->root_path, true);
        if (r == 0 && o->root_path)
                r = o->base_manifest ? vps_bk_add_tree_incr(&c, &wr, o->root_path, "root")
                                     : vps_bk_add_tree(&c, o->root_path, "root");
        if (r == 0 && o->base_manifest)
                r = add_deletions(&c);
        fr.manifest_len = r == 0 ? vps_manifest_format_size(&c.mf) : 0;
        if (r == 0)
                r = vps_bk_frames_cut(&fr, out, true, err);
        if (r == 0)
                r = add_manifest(&c, fr.manifest_len);
        if (r == 0)
                r = vps_bk_frames_close(&fr, out, err);
        vps_bk_frames_free(&fr);
        ret->files = c.p.files;
        ret->bytes = c.p.bytes;
        if (o->progress)
                o->progress(o->arg, &c.p);
        vps_manifest_free(&c.mf);
        vps_manifest_free(&c.base);
        if (c.zeros)
                (void)munmap(c.zeros, ZEROS);
        return r;
}
