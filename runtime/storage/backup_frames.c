/* libvps: the zstd frames of a backup archive. The tar stream is cut into frames so that
 * its MANIFEST can be found without decompressing the files before it:
 *
 *   frame 1           vpsbackup.json, config.json
 *   frame 2           upper/, root/
 *   skippable frame   VPS_BK_MARK: the MANIFEST follows
 *   frame 3           MANIFEST, the tar's end
 *
 * Any zstd decoder reads this as one stream (a skippable frame is ignored), so tar -I zstd
 * and older vpsd read it; vps_backup_peek walks the frames' block headers to the mark. */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#define ZSTD_MAGIC      0xFD2FB528u
#define SKIPPABLE_MAGIC 0x184D2A5Eu /* one of the 16 skippable frame magics */
#define BLOCK_MAX       (128u * 1024)

static const char mark[] = "vpsbackup MANIFEST 1\n";

/* --- writing ----------------------------------------------------------------------------- */

static la_ssize_t comp_out(struct archive *a, void *arg, const void *buf, size_t len)
{
        struct vps_bk_frames *f = arg;
        ssize_t n = f->write(f->arg, buf, len);
        if (n < 0) {
                archive_set_error(a, (int)-n, "%s", strerror((int)-n));
                return -1;
        }
        return n;
}

/* A new zstd frame: libarchive's raw format through its zstd filter, one per frame. The
 * MANIFEST's frame (text, about 150 bytes a file, rewritten whole by every incremental) is
 * compressed at level 1: three times faster than the default 3 on it, and no bigger (an
 * incremental of 1 file in 10,000 spent a fifth of its time compressing it at level 3). */
static int frame_open(struct vps_bk_frames *f, bool manifest, vps_error *err)
{
        struct archive *c = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        if (!c || !e) {
                archive_write_free(c);
                archive_entry_free(e);
                return vps_err(err, ENOMEM, "out of memory");
        }
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_pathname(e, "tar");
        int ok = archive_write_set_format_raw(c) == ARCHIVE_OK &&
                 archive_write_add_filter_zstd(c) == ARCHIVE_OK &&
                 (!manifest || archive_write_set_filter_option(c, "zstd", "compression-level",
                                                               "1") == ARCHIVE_OK) &&
                 archive_write_set_bytes_in_last_block(c, 1) == ARCHIVE_OK &&
                 archive_write_open2(c, f, NULL, comp_out, NULL, NULL) == ARCHIVE_OK &&
                 archive_write_header(c, e) == ARCHIVE_OK;
        archive_entry_free(e);
        if (!ok) {
                vps_err(err, EIO, "starting the archive: %s", archive_error_string(c));
                archive_write_free(c);
                return -EIO;
        }
        f->comp = c;
        return 0;
}

static int frame_close(struct vps_bk_frames *f, vps_error *err)
{
        int r = archive_write_close(f->comp) == ARCHIVE_OK
                        ? 0
                        : vps_err(err, EIO, "writing the archive: %s",
                                  archive_error_string(f->comp));
        archive_write_free(f->comp);
        f->comp = NULL;
        return r;
}

static la_ssize_t tar_out(struct archive *a, void *arg, const void *buf, size_t len)
{
        struct vps_bk_frames *f = arg;
        if (!f->comp) { /* its frame ended by an error or freed: the tar is freed after it */
                archive_set_error(a, EIO, "the archive's frame is closed");
                return -1;
        }
        if (archive_write_data(f->comp, buf, len) != (la_ssize_t)len) {
                archive_set_error(a, EIO, "%s", archive_error_string(f->comp));
                return -1;
        }
        return (la_ssize_t)len;
}

int vps_bk_frames_open(struct vps_bk_frames *f, struct archive *tar, vps_error *err)
{
        int r = frame_open(f, false, err);
        if (r < 0)
                return r;
        /* Unblocked: every byte of an entry reaches the frame before the next is cut. */
        if (archive_write_set_bytes_per_block(tar, 0) != ARCHIVE_OK ||
            archive_write_open2(tar, f, NULL, tar_out, NULL, NULL) != ARCHIVE_OK)
                return vps_err(err, EIO, "starting the archive: %s", archive_error_string(tar));
        return 0;
}

int vps_bk_frames_cut(struct vps_bk_frames *f, struct archive *tar, bool manifest_next,
                      vps_error *err)
{
        if (archive_write_finish_entry(tar) < ARCHIVE_WARN)
                return vps_err(err, EIO, "writing the archive: %s", archive_error_string(tar));
        int r = frame_close(f, err);
        if (r < 0)
                return r;
        if (manifest_next) {
                uint8_t m[8 + sizeof(mark) - 1];
                uint32_t magic = SKIPPABLE_MAGIC, len = sizeof(mark) - 1;
                for (int i = 0; i < 4; i++) {
                        m[i] = (uint8_t)(magic >> (8 * i));
                        m[4 + i] = (uint8_t)(len >> (8 * i));
                }
                memcpy(m + 8, mark, len);
                ssize_t n = f->write(f->arg, m, sizeof(m));
                if (n < 0)
                        return vps_err(err, (int)-n, "writing the archive: %s", strerror((int)-n));
        }
        return frame_open(f, manifest_next, err);
}

int vps_bk_frames_close(struct vps_bk_frames *f, struct archive *tar, vps_error *err)
{
        if (archive_write_close(tar) != ARCHIVE_OK)
                return vps_err(err, EIO, "finishing the archive: %s", archive_error_string(tar));
        return frame_close(f, err);
}

void vps_bk_frames_free(struct vps_bk_frames *f)
{
        if (f->comp)
                archive_write_free(f->comp);
        f->comp = NULL;
}

/* --- walking ----------------------------------------------------------------------------- */

/* n bytes into out (NULL: skipped); what is consumed is kept in r->cap while capturing.
 * -ENODATA at the stream's end, -E2BIG when the capture would pass its limit. */
static int take(struct vps_bk_rawin *r, void *out, size_t n)
{
        while (n > 0) {
                if (r->pos == r->len) {
                        ssize_t k = r->rd(r->arg, r->buf, sizeof(r->buf));
                        if (k < 0)
                                return (int)k;
                        if (k == 0)
                                return -ENODATA;
                        r->pos = 0;
                        r->len = (size_t)k;
                }
                size_t k = r->len - r->pos < n ? r->len - r->pos : n;
                if (r->capturing) {
                        if (r->cap_len + k > sizeof(r->cap))
                                return -E2BIG;
                        memcpy(r->cap + r->cap_len, r->buf + r->pos, k);
                        r->cap_len += k;
                }
                if (out) {
                        memcpy(out, r->buf + r->pos, k);
                        out = (char *)out + k;
                }
                r->pos += k;
                n -= k;
        }
        return 0;
}

static uint32_t le(const uint8_t *p, int n)
{
        uint32_t v = 0;
        for (int i = n - 1; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

int vps_bk_frame_next(struct vps_bk_rawin *r, enum vps_bk_frame *ret)
{
        uint8_t h[4];
        if (r->pos == r->len) {
                ssize_t n = r->rd(r->arg, r->buf, sizeof(r->buf));
                if (n < 0)
                        return (int)n;
                if (n == 0) {
                        *ret = VPS_BK_END;
                        return 0;
                }
                r->pos = 0;
                r->len = (size_t)n;
        }
        int k = take(r, h, 4);
        if (k < 0)
                return k == -ENODATA ? -EBADMSG : k;
        uint32_t magic = le(h, 4);
        if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
                if ((k = take(r, h, 4)) < 0)
                        return k == -ENODATA ? -EBADMSG : k;
                uint32_t len = le(h, 4);
                uint8_t p[sizeof(mark) - 1];
                if (magic == SKIPPABLE_MAGIC && len == sizeof(p)) {
                        if ((k = take(r, p, sizeof(p))) < 0)
                                return k == -ENODATA ? -EBADMSG : k;
                        *ret = memcmp(p, mark, sizeof(p)) ? VPS_BK_SKIPPABLE : VPS_BK_MARK;
                        return 0;
                }
                *ret = VPS_BK_SKIPPABLE;
                k = take(r, NULL, len);
                return k == -ENODATA ? -EBADMSG : k;
        }
        if (magic != ZSTD_MAGIC)
                return -EBADMSG;
        if ((k = take(r, h, 1)) < 0)
                return k == -ENODATA ? -EBADMSG : k;
        unsigned int fhd = h[0], fcs = fhd >> 6, single = (fhd >> 5) & 1;
        static const unsigned int did_len[] = {0, 1, 2, 4}, fcs_len[] = {0, 2, 4, 8};
        if (fhd & 8)
                return -EBADMSG; /* the reserved bit */
        size_t skip = (single ? 0 : 1) + did_len[fhd & 3] + (fcs == 0 && single ? 1 : fcs_len[fcs]);
        if ((k = take(r, NULL, skip)) < 0)
                return k == -ENODATA ? -EBADMSG : k;
        for (;;) {
                if ((k = take(r, h, 3)) < 0)
                        return k == -ENODATA ? -EBADMSG : k;
                uint32_t b = le(h, 3), type = (b >> 1) & 3, size = b >> 3;
                if (type == 3 || size > BLOCK_MAX)
                        return -EBADMSG;
                if ((k = take(r, NULL, type == 1 ? 1 : size)) < 0)
                        return k == -ENODATA ? -EBADMSG : k;
                if (b & 1)
                        break;
        }
        if ((fhd & 4) && (k = take(r, NULL, 4)) < 0)
                return k == -ENODATA ? -EBADMSG : k;
        *ret = VPS_BK_FRAME;
        return 0;
}

/* The mark's frame whole: its header, then the mark. */
static void mark_frame(uint8_t out[8 + sizeof(mark) - 1])
{
        uint32_t magic = SKIPPABLE_MAGIC, len = sizeof(mark) - 1;
        for (int i = 0; i < 4; i++) {
                out[i] = (uint8_t)(magic >> (8 * i));
                out[4 + i] = (uint8_t)(len >> (8 * i));
        }
        memcpy(out + 8, mark, sizeof(mark) - 1);
}

int vps_bk_mark_find_tail(int fd, off_t size, off_t limit, off_t *ret_after)
{
        uint8_t want[8 + sizeof(mark) - 1];
        mark_frame(want);
        const size_t win = 1024 * 1024, w = sizeof(want);
        _cleanup_free_ uint8_t *buf = malloc(win + w);
        if (!buf)
                return -ENOMEM;
        off_t floor = size > limit ? size - limit : 0;
        for (off_t end = size; end > floor;) {
                off_t start = end - (off_t)win > floor ? end - (off_t)win : floor;
                /* the window, and the first bytes of the one after it (a mark across both) */
                off_t stop = end + (off_t)(w - 1) < size ? end + (off_t)(w - 1) : size;
                if (lseek(fd, start, SEEK_SET) < 0)
                        return -errno;
                ssize_t k = vps_read_full(fd, buf, (size_t)(stop - start));
                if (k < 0)
                        return (int)k;
                for (ssize_t i = k - (ssize_t)w; i >= 0; i--)
                        if (buf[i] == want[0] && memcmp(buf + i, want, w) == 0) {
                                *ret_after = start + i + (off_t)w;
                                return 1;
                        }
                end = start;
        }
        return 0;
}
