/* libvps: reads a backup archive (vps/backup.h): the stream through libarchive, its
 * vpsbackup.json, and vps_backup_peek. Restoring is backup_restore.c; the checks of each
 * entry, backup_check.c; vps_backup_peek_fd (vpsctl's, without libarchive), backup_peek.c. */
#include "storage/archive_cleanup.h"
#include "storage/backup.h"
#include "storage/backup_int.h"
#include "vps/cleanup.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An entry's name, "" when it has none (a hostile header). */
const char *vps_bk_name_of(struct archive_entry *e)
{
        const char *n = archive_entry_pathname(e);
        return n ? n : "";
}

static la_ssize_t src_read(struct archive *a, void *arg, const void **out)
{
        struct src *s = arg;
        for (int i = 0; i < 2; i++)
                if (s->pre_len[i]) {
                        *out = s->pre[i];
                        la_ssize_t n = (la_ssize_t)s->pre_len[i];
                        s->pre_len[i] = 0;
                        return n;
                }
        ssize_t n = s->rd(s->arg, s->buf, sizeof(s->buf));
        if (n < 0) {
                archive_set_error(a, (int)-n, "%s", strerror((int)-n));
                return -1;
        }
        *out = s->buf;
        return n;
}

static ssize_t eof_read(void *arg, void *buf, size_t len)
{
        (void)arg, (void)buf, (void)len;
        return 0;
}

struct archive *vps_bk_open_reader(struct src *s, vps_error *err)
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
int vps_bk_read_small(struct archive *a, struct archive_entry *e, size_t max, char **ret,
                      size_t *ret_len, vps_error *err)
{
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > max)
                return vps_err(err, EBADMSG, "%s: larger than %zu bytes", vps_bk_name_of(e), max);
        char *buf = malloc((size_t)size + 1);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        la_ssize_t n = archive_read_data(a, buf, (size_t)size);
        if (n != size) {
                free(buf);
                return vps_err(err, EBADMSG, "%s: %s", vps_bk_name_of(e),
                               n < 0 ? archive_error_string(a) : "truncated");
        }
        buf[size] = '\0';
        *ret = buf;
        if (ret_len)
                *ret_len = (size_t)size;
        return 0;
}

int vps_bk_read_info(struct archive *a, struct vps_backup_info *info, vps_error *err)
{
        struct archive_entry *e;
        int h = archive_read_next_header(a, &e);
        if (h < ARCHIVE_WARN || h == ARCHIVE_EOF)
                return vps_err(err, EBADMSG, "not a vpsd backup: %s",
                               h == ARCHIVE_EOF ? "empty" : archive_error_string(a));
        if (strcmp(vps_bk_name_of(e), VPS_BACKUP_META) != 0 ||
            archive_entry_filetype(e) != AE_IFREG)
                return vps_err(err, EBADMSG, "not a vpsd backup: it does not start with %s",
                               VPS_BACKUP_META);
        _cleanup_free_ char *text = NULL;
        int r = vps_bk_read_small(a, e, VPS_BK_META_MAX, &text, NULL, err);
        return r < 0 ? r : vps_bk_parse_info(text, info, err);
}

/* The MANIFEST: the next entry in a with_info; else the first entry called so. */
static int find_manifest(struct archive *a, bool first, char **ret, size_t *ret_len, vps_error *err)
{
        struct archive_entry *e;
        for (;;) {
                int h = archive_read_next_header(a, &e);
                if (h == ARCHIVE_EOF)
                        return vps_err(err, EBADMSG, "the backup has no %s (truncated?)",
                                       VPS_BACKUP_MANIFEST);
                if (h < ARCHIVE_WARN)
                        return vps_err(err, EBADMSG, "reading the backup: %s",
                                       archive_error_string(a));
                if (strcmp(vps_bk_name_of(e), VPS_BACKUP_MANIFEST) == 0)
                        return vps_bk_read_small(a, e, VPS_BACKUP_MANIFEST_MAX, ret, ret_len, err);
                if (first)
                        return vps_err(err, EBADMSG, "the backup has no %s after its mark",
                                       VPS_BACKUP_MANIFEST);
        }
}

/* An archive read from the start: its bytes so far (pre, pre2), then rd. */
static int peek_stream(struct src *s, struct vps_backup_info *ret_info, char **ret_manifest,
                       size_t *ret_manifest_len, vps_error *err)
{
        _cleanup_archive_read_ struct archive *a = vps_bk_open_reader(s, err);
        if (!a)
                return -err->code;
        int r = vps_bk_read_info(a, ret_info, err);
        if (r < 0 || !ret_manifest)
                return r;
        return find_manifest(a, false, ret_manifest, ret_manifest_len, err);
}

/* The first frame (vpsbackup.json and config.json) is decompressed; the frames of the files
 * are walked by their block headers to the mark of the MANIFEST's frame. An archive of one
 * frame (older vpsd, or anything else) is read through from the start. */
int vps_backup_peek(vps_backup_reader rd, void *arg, struct vps_backup_info *ret_info,
                    char **ret_manifest, size_t *ret_manifest_len, vps_error *err)
{
        _cleanup_free_ struct src *s = calloc(1, sizeof(*s));
        _cleanup_free_ struct vps_bk_rawin *w = calloc(1, sizeof(*w));
        if (!s || !w)
                return vps_err(err, ENOMEM, "out of memory");
        *s = (struct src){.rd = rd, .arg = arg};
        w->rd = rd;
        w->arg = arg;
        w->capturing = true;
        enum vps_bk_frame f;
        int r = vps_bk_frame_next(w, &f);
        w->capturing = false;
        if (r < 0 && r != -E2BIG && r != -EBADMSG)
                return vps_err(err, -r, "reading the backup: %s", strerror(-r));
        /* What was read so far, then the rest: libarchive says what is wrong, if anything. */
        s->pre[0] = w->cap;
        s->pre_len[0] = w->cap_len;
        s->pre[1] = w->buf + w->pos;
        s->pre_len[1] = w->len - w->pos;
        if (r < 0 || f != VPS_BK_FRAME)
                return peek_stream(s, ret_info, ret_manifest, ret_manifest_len, err);
        /* The first frame alone: libarchive sees its end as the end of the tar. */
        struct src one = {.pre = {w->cap}, .pre_len = {w->cap_len}, .rd = eof_read};
        _cleanup_archive_read_ struct archive *a = vps_bk_open_reader(&one, err);
        if (!a)
                return -err->code;
        if ((r = vps_bk_read_info(a, ret_info, err)) < 0 || !ret_manifest)
                return r;
        for (;;) {
                if ((r = vps_bk_frame_next(w, &f)) < 0)
                        return vps_err(err, EBADMSG, "reading the backup: %s",
                                       r == -EBADMSG ? "not a zstd frame" : strerror(-r));
                if (f == VPS_BK_END) /* one frame: all of it was in the first */
                        return find_manifest(a, false, ret_manifest, ret_manifest_len, err);
                if (f == VPS_BK_MARK)
                        break;
        }
        struct src *rest = s;
        *rest = (struct src){
                .rd = rd, .arg = arg, .pre = {w->buf + w->pos}, .pre_len = {w->len - w->pos}};
        _cleanup_archive_read_ struct archive *m = vps_bk_open_reader(rest, err);
        if (!m)
                return -err->code;
        return find_manifest(m, true, ret_manifest, ret_manifest_len, err);
}
