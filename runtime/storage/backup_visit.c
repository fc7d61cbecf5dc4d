/* libvps: an incremental backup's tree from its threaded walk (backup_walk.c) into the
 * archive: the entries in preorder, each directory's as it listed them; most are unchanged
 * from the base by lstat alone, the rest read again from disk with all their metadata. */
#include "storage/archive_cleanup.h"
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One entry of a threaded walk: unchanged from the base by lstat alone (most of an
 * incremental), or read again from disk by one, with all its metadata and its content. */
static int walked_entry(struct vps_bk_wctx *c, struct archive *one,
                        struct archive_linkresolver_pair *lp, struct archive_entry *e,
                        const struct vps_bk_went *we, const char *src, char *name)
{
        c->p.files++;
        if (c->o->progress && c->p.files % 256 == 0)
                c->o->progress(c->o->arg, &c->p);
        struct stat st = {.st_mode = we->mode,
                          .st_uid = we->uid,
                          .st_gid = we->gid,
                          .st_size = (off_t)we->size,
                          .st_ino = we->ino,
                          .st_mtim = {we->mtime_ns / 1000000000, we->mtime_ns % 1000000000},
                          .st_ctim = {we->ctime_ns / 1000000000, we->ctime_ns % 1000000000}};
        struct vps_mf_entry m;
        vps_bk_mf_of_stat(c, &st, name, &m);
        if (m.type == 's')
                return 0;
        if (S_ISLNK(we->mode))
                vps_sha256_hex(we->link ? we->link : "", we->link ? strlen(we->link) : 0, m.hash);
        struct vps_mf_entry *b = vps_manifest_find(&c->base, name);
        if (b)
                b->seen = true;
        if (vps_bk_unchanged(b, &m)) {
                /* The base's line and path serve as they are. */
                m.kind = VPS_MF_SAME;
                memcpy(m.hash, b->hash, sizeof(m.hash));
                m.path = b->path;
                m.line = b->line;
                m.line_len = b->line_len;
                return vps_manifest_add_lent(&c->mf, &m, c->err);
        }
        (void)archive_read_close(one);
        archive_entry_clear(e);
        const char *at;
        int r = vps_bk_src_path(c->src, src, &at);
        if (r < 0)
                return vps_err(c->err, -r, "reading %s: %s", name, strerror(-r));
        if (archive_read_disk_open(one, at) != ARCHIVE_OK ||
            archive_read_next_header2(one, e) < ARCHIVE_WARN)
                return vps_err(c->err, EIO, "reading %s: %s", name, archive_error_string(one));
        archive_entry_set_pathname(e, name);
        /* Read again: what goes into the archive is what was read with its content. */
        vps_bk_mf_of_stat(c, archive_entry_stat(e), name, &m);
        if (S_ISLNK(archive_entry_filetype(e))) {
                const char *t = archive_entry_symlink(e);
                vps_sha256_hex(t ? t : "", t ? strlen(t) : 0, m.hash);
        }
        return vps_bk_put_entry(c, one, lp, e, at, &m, b);
}

/* path appended to buf at len: "/name" (len 0 with nothing in buf: name alone). */
static int path_push(char **buf, size_t *cap, size_t len, const char *name)
{
        size_t k = strlen(name);
        if (vps_grow(buf, cap, len + k + 2) < 0)
                return -ENOMEM;
        (*buf)[len] = '/';
        memcpy(*buf + len + 1, name, k + 1);
        return 0;
}

/* One tree walked by threads (vps_bk_walk, already started on path): the entries in
 * preorder, each directory's as it listed them. */
static int add_tree_walked(struct vps_bk_wctx *c, struct vps_bk_walk *w, const char *path,
                           const char *prefix)
{
        _cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
        _cleanup_(linkresolver_freep) struct archive_linkresolver_pair lp = {
                archive_entry_linkresolver_new()};
        _cleanup_archive_read_ struct archive *one = vps_bk_disk_new(false);
        if (!one || !e || !lp.lr)
                return vps_err(c->err, ENOMEM, "out of memory");
        archive_entry_linkresolver_set_strategy(lp.lr, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
        _cleanup_(vps_bk_src_free) struct vps_bk_src at = VPS_BK_SRC_INIT(path);
        c->src = &at;
        size_t name_cap = 0, src_cap = 0;
        _cleanup_free_ char *name = strdup(prefix), *src = strdup(path);
        if (!name || !src)
                return vps_err(c->err, ENOMEM, "out of memory");
        name_cap = strlen(name) + 1;
        src_cap = strlen(src) + 1;
        int r = walked_entry(c, one, &lp, e, &w->top, src, name);
        struct frame {
                const struct vps_bk_wnode *dir;
                size_t i, name_len, src_len;
        };
        _cleanup_free_ struct frame *st = NULL;
        size_t depth = 0, st_cap = 0;
        if (r < 0)
                return r;
        st = calloc(st_cap = 64, sizeof(*st));
        if (!st)
                return vps_err(c->err, ENOMEM, "out of memory");
        st[depth++] = (struct frame){w->root, 0, strlen(prefix), strlen(path)};
        while (r == 0 && depth > 0) {
                struct frame *f = &st[depth - 1];
                if (f->i == vps_bk_wnode_count(f->dir)) {
                        depth--;
                        continue;
                }
                const struct vps_bk_went *we = vps_bk_wnode_entry(f->dir, f->i++);
                const char *nm = vps_bk_wnode_name(f->dir, we);
                size_t nl = f->name_len, sl = f->src_len;
                if (path_push(&name, &name_cap, nl, nm) < 0 ||
                    path_push(&src, &src_cap, sl, nm) < 0)
                        return vps_err(c->err, ENOMEM, "out of memory");
                if ((r = walked_entry(c, one, &lp, e, we, src, name)) < 0 || !we->sub)
                        continue;
                if (depth == st_cap) {
                        struct frame *p = reallocarray(st, st_cap + 64, sizeof(*st));
                        if (!p)
                                return vps_err(c->err, ENOMEM, "out of memory");
                        st = p;
                        st_cap += 64;
                }
                st[depth++] = (struct frame){we->sub, 0, nl + 1 + strlen(nm), sl + 1 + strlen(nm)};
        }
        return r;
}

/* An incremental's tree: walked by threads (started on path), or by libarchive where that
 * walk could not go (a path too long to reopen, say). */
int vps_bk_add_tree_incr(struct vps_bk_wctx *c, struct vps_bk_walk *w, const char *path,
                         const char *prefix)
{
        int r = vps_bk_walk_finish(w) == 0 ? add_tree_walked(c, w, path, prefix)
                                           : vps_bk_add_tree(c, path, prefix);
        vps_bk_walk_free(w);
        return r;
}
