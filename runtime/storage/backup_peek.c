/* libvps: vps_backup_peek_fd, a backup file's vpsbackup.json and MANIFEST read without
 * libarchive (zstd and tar headers by hand), so that vpsctl, which reads its base before every
 * incremental and the chain before a restore, starts without libarchive and what it loads
 * (about a dozen shared objects: xml2, ICU, libstdc++...). vpsd reads archives with libarchive
 * (backup_read.c) and checks everything again: this only finds what vpsctl sends or looks up. */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

int vps_bk_parse_info(const char *text, struct vps_backup_info *ret, vps_error *err)
{
        _cleanup_json_ json_t *j = json_loads(text, 0, NULL);
        const char *arch, *id, *tn, *tv, *kind, *bid, *base, *distro = "";
        int format;
        if (!j ||
            json_unpack(j, "{s:i, s:s, s:s, s:{s:s, s:s, s?s}, s:s, s:s, s:s}", "format", &format,
                        "arch", &arch, "id", &id, "template", "name", &tn, "version", &tv, "distro",
                        &distro, "kind", &kind, "backup_id", &bid, "base_id", &base) < 0)
                return vps_err(err, EBADMSG, "%s: malformed", VPS_BACKUP_META);
        *ret = (struct vps_backup_info){.format = format};
        if (format < 1 || format > VPS_BACKUP_FORMAT)
                return vps_err(err, EPROTONOSUPPORT, "backup format %d (this vpsd reads 1 to %d)",
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

/* --- tar through zstd, from a file --------------------------------------------------------- */

/* The decompressed bytes of the file from an offset: any number of zstd frames, skippable
 * ones skipped (libzstd does both). */
struct zin {
        int fd;
        ZSTD_DStream *ds;
        ZSTD_inBuffer ib;
        size_t opos, olen;
        uint8_t in[128 * 1024], out[128 * 1024];
};

static void zin_free(struct zin **z)
{
        if (*z)
                ZSTD_freeDStream((*z)->ds);
        free(*z);
}

/* n bytes into dst (NULL: skipped). -ENODATA at the end of the file, -EBADMSG on bytes that
 * are not zstd. */
static int zin_take(struct zin *z, void *dst, size_t n)
{
        while (n > 0) {
                if (z->opos == z->olen) {
                        ZSTD_outBuffer ob = {z->out, sizeof(z->out), 0};
                        while (ob.pos == 0) {
                                if (z->ib.pos == z->ib.size) {
                                        ssize_t k = vps_read_full(z->fd, z->in, sizeof(z->in));
                                        if (k < 0)
                                                return (int)k;
                                        if (k == 0)
                                                return -ENODATA;
                                        z->ib = (ZSTD_inBuffer){z->in, (size_t)k, 0};
                                }
                                if (ZSTD_isError(ZSTD_decompressStream(z->ds, &ob, &z->ib)))
                                        return -EBADMSG;
                        }
                        z->opos = 0;
                        z->olen = ob.pos;
                }
                n -= vps_bk_give(z->out, &z->opos, z->olen, &dst, n);
        }
        return 0;
}

/* A tar number: octal digits, or base-256 (first byte 0x80) as libarchive writes it past the
 * octal range. -1 when it is neither. */
static int64_t tar_num(const uint8_t *p, size_t n)
{
        int64_t v = 0;
        if (p[0] & 0x80) {
                for (size_t i = 1; i < n; i++) {
                        if (v > (INT64_MAX >> 8))
                                return -1;
                        v = v << 8 | p[i];
                }
                return v;
        }
        size_t i = 0;
        while (i < n && p[i] == ' ')
                i++;
        for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
                if (v > (INT64_MAX >> 3))
                        return -1;
                v = v << 3 | (p[i] - '0');
        }
        return i < n && p[i] != ' ' && p[i] != '\0' ? -1 : v;
}

static bool tar_sum_ok(const uint8_t h[512])
{
        int64_t want = tar_num(h + 148, 8), sum = 0;
        for (int i = 0; i < 512; i++)
                sum += i >= 148 && i < 156 ? ' ' : h[i];
        return want == sum;
}

/* A pax header's "path" record, if any, into path (size bytes; left as it is without one). */
static int pax_path(const char *p, size_t len, char *path, size_t size)
{
        for (size_t at = 0; at < len;) {
                char *end = NULL;
                errno = 0;
                unsigned long n = strtoul(p + at, &end, 10);
                if (errno || end == p + at || *end != ' ' || n == 0 || n > len - at ||
                    p[at + n - 1] != '\n')
                        return -EBADMSG;
                const char *kv = end + 1, *stop = p + at + n - 1;
                if (kv < stop && (size_t)(stop - kv) > 5 && !memcmp(kv, "path=", 5)) {
                        size_t k = (size_t)(stop - kv - 5);
                        if (k >= size)
                                return -ENAMETOOLONG;
                        memcpy(path, kv + 5, k);
                        path[k] = '\0';
                }
                at += n;
        }
        return 0;
}

#define PAX_MAX (64 * 1024)

/* The content of the entry called name (a regular file, at most max bytes), read from z: the
 * first entry only when first, else the first so called. -ENOENT when the tar ends without
 * it (or its first entry is another), -EBADMSG on a bad header, -E2BIG past max. */
static int tar_find(struct zin *z, const char *name, bool first, size_t max, char **ret,
                    size_t *ret_len)
{
        uint8_t h[512];
        char path[4096];
        bool pax_named = false;
        for (;;) {
                int r = zin_take(z, h, sizeof(h));
                if (r == -ENODATA)
                        return -ENOENT;
                if (r < 0)
                        return r;
                if (h[0] == 0) /* the end of the tar: a block of zeros */
                        return -ENOENT;
                int64_t size = tar_num(h + 124, 12);
                if (!tar_sum_ok(h) || size < 0)
                        return -EBADMSG;
                size_t pad = (size_t)((512 - size % 512) % 512);
                char type = (char)h[156];
                if (type == 'x') { /* pax: this header's records name the next entry */
                        if (size > PAX_MAX)
                                return -EBADMSG;
                        _cleanup_free_ char *px = malloc((size_t)size + 1);
                        if (!px)
                                return -ENOMEM;
                        if ((r = zin_take(z, px, (size_t)size)) < 0 ||
                            (r = zin_take(z, NULL, pad)) < 0)
                                return r == -ENODATA ? -EBADMSG : r;
                        path[0] = '\0';
                        if ((r = pax_path(px, (size_t)size, path, sizeof(path))) < 0)
                                return r;
                        pax_named = path[0] != '\0';
                        continue;
                }
                if (type == 'g') { /* global pax records: nothing here needs them */
                        if ((r = zin_take(z, NULL, (size_t)size + pad)) < 0)
                                return r == -ENODATA ? -EBADMSG : r;
                        continue;
                }
                if (!pax_named) {
                        /* ustar: prefix "/" name, each NUL-terminated unless full */
                        int pl = (int)strnlen((const char *)h + 345, 155);
                        int nl = (int)strnlen((const char *)h, 100);
                        (void)snprintf(path, sizeof(path), "%.*s%s%.*s", pl, (const char *)h + 345,
                                       pl ? "/" : "", nl, (const char *)h);
                }
                pax_named = false;
                if (!strcmp(path, name) && (type == '0' || type == '\0')) {
                        if ((uint64_t)size > max)
                                return -E2BIG;
                        char *buf = malloc((size_t)size + 1);
                        if (!buf)
                                return -ENOMEM;
                        if ((r = zin_take(z, buf, (size_t)size)) < 0) {
                                free(buf);
                                return r == -ENODATA ? -EBADMSG : r;
                        }
                        buf[size] = '\0';
                        *ret = buf;
                        *ret_len = (size_t)size;
                        return 0;
                }
                if (first)
                        return -ENOENT;
                if ((r = zin_take(z, NULL, (size_t)size + pad)) < 0)
                        return r == -ENODATA ? -EBADMSG : r;
        }
}

/* The entry called name in the tar through zstd that starts at offset at of fd. */
static int read_entry(int fd, off_t at, const char *name, bool first, size_t max, char **ret,
                      size_t *ret_len)
{
        __attribute__((cleanup(zin_free))) struct zin *z = calloc(1, sizeof(*z));
        if (!z)
                return -ENOMEM;
        z->fd = fd;
        if (!(z->ds = ZSTD_createDStream()))
                return -ENOMEM;
        if (lseek(fd, at, SEEK_SET) < 0)
                return -errno;
        return tar_find(z, name, first, max, ret, ret_len);
}

static ssize_t fd_read(void *arg, void *buf, size_t len)
{
        ssize_t n = read(*(int *)arg, buf, len);
        while (n < 0 && errno == EINTR)
                n = read(*(int *)arg, buf, len);
        return n < 0 ? -errno : n;
}

/* The MANIFEST's frame as the mark at after says, when it is the archive's last: its tar
 * entry, then the end of the file. 0, or -EBADMSG when it is not that. */
static int manifest_at(int fd, off_t after, char **ret, size_t *ret_len)
{
        _cleanup_free_ struct vps_bk_rawin *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (struct vps_bk_rawin){.rd = fd_read, .arg = &fd};
        enum vps_bk_frame f1, f2;
        if (lseek(fd, after, SEEK_SET) < 0 || vps_bk_frame_next(w, &f1) < 0 || f1 != VPS_BK_FRAME ||
            vps_bk_frame_next(w, &f2) < 0 || f2 != VPS_BK_END)
                return -EBADMSG;
        return read_entry(fd, after, VPS_BACKUP_MANIFEST, true, VPS_BACKUP_MANIFEST_MAX, ret,
                          ret_len) < 0
                       ? -EBADMSG
                       : 0;
}

static int entry_err(int r, const char *name, vps_error *err)
{
        if (r == -ENOENT && !strcmp(name, VPS_BACKUP_META))
                return vps_err(err, EBADMSG, "not a vpsd backup: it does not start with %s",
                               VPS_BACKUP_META);
        if (r == -ENOENT)
                return vps_err(err, EBADMSG, "the backup has no %s (truncated?)", name);
        if (r == -E2BIG)
                return vps_err(err, EBADMSG, "%s: too large", name);
        if (r == -EBADMSG)
                return vps_err(err, EBADMSG, "not a vpsd backup (tar with zstd): %s",
                               "a bad header or stream");
        return vps_err(err, -r, "reading the backup: %s", strerror(-r));
}

int vps_backup_peek_fd(int fd, struct vps_backup_info *ret_info, char **ret_manifest,
                       size_t *ret_manifest_len, vps_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "reading the backup");
        _cleanup_free_ char *meta = NULL;
        size_t len = 0;
        int r = read_entry(fd, 0, VPS_BACKUP_META, true, VPS_BK_META_MAX, &meta, &len);
        if (r < 0)
                return entry_err(r, VPS_BACKUP_META, err);
        if ((r = vps_bk_parse_info(meta, ret_info, err)) < 0 || !ret_manifest)
                return r;
        off_t after;
        r = S_ISREG(st.st_mode)
                    ? vps_bk_mark_find_tail(fd, st.st_size, 2 * VPS_BACKUP_MANIFEST_MAX, &after)
                    : 0;
        if (r < 0)
                return vps_err(err, -r, "reading the backup: %s", strerror(-r));
        if (r == 1 && manifest_at(fd, after, ret_manifest, ret_manifest_len) == 0)
                return 0;
        /* no mark near the end (an archive of one frame): read through from the start */
        r = read_entry(fd, 0, VPS_BACKUP_MANIFEST, false, VPS_BACKUP_MANIFEST_MAX, ret_manifest,
                       ret_manifest_len);
        return r < 0 ? entry_err(r, VPS_BACKUP_MANIFEST, err) : 0;
}
