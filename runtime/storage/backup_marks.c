/* libvps: the zstd frames of a backup archive walked by their headers, without decompressing
 * them, and the mark before the MANIFEST's frame (backup_frames.c writes them). No libarchive
 * here: vpsctl reads a base's MANIFEST through this and backup_peek.c alone. */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZSTD_MAGIC      0xFD2FB528u
#define SKIPPABLE_MAGIC 0x184D2A5Eu /* one of the 16 skippable frame magics */
#define BLOCK_MAX       (128u * 1024)

static const char mark[] = "vpsbackup MANIFEST 1\n";
_Static_assert(VPS_BK_MARK_LEN == 8 + sizeof(mark) - 1, "the mark's frame");

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
                n -= vps_bk_give(r->buf, &r->pos, r->len, &out, n);
        }
        return 0;
}

size_t vps_bk_give(const uint8_t *buf, size_t *pos, size_t len, void **out, size_t n)
{
        size_t k = len - *pos < n ? len - *pos : n;
        if (*out) {
                memcpy(*out, buf + *pos, k);
                *out = (char *)*out + k;
        }
        *pos += k;
        return k;
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

void vps_bk_mark_frame(uint8_t out[VPS_BK_MARK_LEN])
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
        uint8_t want[VPS_BK_MARK_LEN];
        vps_bk_mark_frame(want);
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
                /* Its first byte found by memrchr (a byte loop over the MANIFEST's frame was
                 * a tenth of vpsctl's work for an incremental). */
                for (size_t n = k >= (ssize_t)w ? (size_t)(k - (ssize_t)w) + 1 : 0; n > 0;) {
                        const uint8_t *at = memrchr(buf, want[0], n);
                        if (!at)
                                break;
                        if (memcmp(at, want, w) == 0) {
                                *ret_after = start + (at - buf) + (off_t)w;
                                return 1;
                        }
                        n = (size_t)(at - buf);
                }
                end = start;
        }
        return 0;
}
