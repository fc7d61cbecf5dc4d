/* libvps: the zstd frames of a backup archive. The tar stream is cut into frames so that
 * its MANIFEST can be found without decompressing the files before it:
 *
 *   frame 1           vpsbackup.json, config.json
 *   frame 2           upper/, root/
 *   skippable frame   VPS_BK_MARK: the MANIFEST follows
 *   frame 3           MANIFEST, the tar's end
 *
 * Any zstd decoder reads this as one stream (a skippable frame is ignored), so tar -I zstd
 * and older vpsd read it; vps_backup_peek walks the frames' block headers to the mark
 * (backup_marks.c, which vpsctl links without libarchive). */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <zstd.h>

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

/* The MANIFEST's frame (text, about 150 bytes a file, rewritten whole by every incremental):
 * zstd level 1, three times faster than the default 3 on it and no bigger (an incremental of
 * 1 file in 10,000 spent a fifth of its time compressing it at level 3), and through libzstd
 * itself, on up to 4 worker threads in jobs of 512 KiB: it is compressed after the walk, when
 * nothing else runs (libarchive's zstd filter has a thread option but no job size: its
 * default jobs, 2 MiB at this level, left 10,000 files' 1.5 MB in one). One frame either way. */
#define MANIFEST_JOB (512 * 1024)

static int manifest_open(struct vps_bk_frames *f, vps_error *err)
{
        ZSTD_CCtx *z = ZSTD_createCCtx();
        uint8_t *out = malloc(ZSTD_CStreamOutSize());
        if (!z || !out) {
                ZSTD_freeCCtx(z);
                free(out);
                return vps_err(err, ENOMEM, "out of memory");
        }
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int workers = cpus > 4 ? 4 : cpus > 1 ? (int)cpus : 0;
        (void)ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
        (void)ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
        /* A libzstd built without threads refuses: one thread then. */
        if (workers && !ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, workers)))
                (void)ZSTD_CCtx_setParameter(z, ZSTD_c_jobSize, MANIFEST_JOB);
        f->mcomp = z;
        f->mout = out;
        return 0;
}

/* Input (len bytes; 0 with end: the frame's end) through the MANIFEST's compressor. */
static int manifest_put(struct vps_bk_frames *f, const void *buf, size_t len, bool end)
{
        ZSTD_inBuffer in = {buf, len, 0};
        for (;;) {
                ZSTD_outBuffer out = {f->mout, ZSTD_CStreamOutSize(), 0};
                size_t left = ZSTD_compressStream2(f->mcomp, &out, &in,
                                                   end ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(left))
                        return -EIO;
                for (size_t done = 0; done < out.pos;) {
                        ssize_t n = f->write(f->arg, f->mout + done, out.pos - done);
                        if (n <= 0)
                                return n < 0 ? (int)n : -EIO;
                        done += (size_t)n;
                }
                if (end ? left == 0 : in.pos == in.size)
                        return 0;
        }
}

static void manifest_free(struct vps_bk_frames *f)
{
        ZSTD_freeCCtx(f->mcomp);
        free(f->mout);
        f->mcomp = NULL;
        f->mout = NULL;
}

/* A new zstd frame: libarchive's raw format through its zstd filter, one per frame (but the
 * MANIFEST's, above). */
static int frame_open(struct vps_bk_frames *f, bool manifest, vps_error *err)
{
        if (manifest)
                return manifest_open(f, err);
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
        if (f->mcomp) {
                int r = manifest_put(f, NULL, 0, true);
                manifest_free(f);
                return r < 0 ? vps_err(err, -r, "writing the archive: %s", strerror(-r)) : 0;
        }
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
        if (f->mcomp) {
                int r = manifest_put(f, buf, len, false);
                if (r < 0) {
                        archive_set_error(a, -r, "%s", strerror(-r));
                        return -1;
                }
                return (la_ssize_t)len;
        }
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
                uint8_t m[VPS_BK_MARK_LEN];
                vps_bk_mark_frame(m);
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
        manifest_free(f);
        if (f->comp)
                archive_write_free(f->comp);
        f->comp = NULL;
}
