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
 * (backup_marks.c, which vpsctl links without libarchive). The tar is libarchive's (pax,
 * unblocked), its bytes compressed here by libzstd. */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <archive.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <zstd.h>

/* --- writing ----------------------------------------------------------------------------- */

/* Every frame through one libzstd context: the files' frames at level 3 (as libarchive's zstd
 * filter wrote them), the MANIFEST's (text, about 150 bytes a file, rewritten whole by every
 * incremental) at level 1, three times faster on it and no bigger, on up to 4 worker threads
 * in as many jobs (of 512 KiB at least: 10,000 files' 1.5 MB in 2 jobs on 2 CPUs, not 3 of
 * 512 KiB; no difference showed above the noise here): it is compressed after the walk, when
 * nothing else runs. A frame that ends within SMALL bytes (the first, vpsbackup.json and
 * config.json; an incremental's files when few changed) is compressed whole at its end: zstd
 * then knows its size and sizes its tables to it (a stream of unknown size at level 3 clears
 * about 800 KB of them: a fifth of an incremental's page faults, for a few KB of input). */
#define MANIFEST_JOB (512 * 1024)
#define SMALL        (256 * 1024)

/* len bytes (0 with end: the frame's end) through the compressor, out to write. */
static int comp_put(struct vps_bk_frames *f, const void *buf, size_t len, bool end)
{
        ZSTD_inBuffer in = {buf, len, 0};
        for (;;) {
                ZSTD_outBuffer out = {f->zout, ZSTD_CStreamOutSize(), 0};
                size_t left =
                        ZSTD_compressStream2(f->z, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(left))
                        return -EIO;
                for (size_t done = 0; done < out.pos;) {
                        ssize_t n = f->write(f->arg, f->zout + done, out.pos - done);
                        if (n <= 0)
                                return n < 0 ? (int)n : -EIO;
                        done += (size_t)n;
                }
                if (end ? left == 0 : in.pos == in.size)
                        return 0;
        }
}

/* The frame's bytes: kept while they fit SMALL, else streamed (what was kept first). */
static int frame_put(struct vps_bk_frames *f, const void *buf, size_t len)
{
        if (!f->streaming && len <= SMALL - f->small_len) {
                memcpy(f->small + f->small_len, buf, len);
                f->small_len += len;
                return 0;
        }
        int r = f->streaming ? 0 : comp_put(f, f->small, f->small_len, false);
        f->streaming = true;
        f->small_len = 0;
        return r < 0 ? r : comp_put(f, buf, len, false);
}

static int frame_close(struct vps_bk_frames *f, vps_error *err)
{
        /* A frame kept whole goes in one call ending it: its size is then known. */
        int r = comp_put(f, f->small, f->streaming ? 0 : f->small_len, true);
        f->small_len = 0;
        f->streaming = false;
        return r < 0 ? vps_err(err, -r, "writing the archive: %s", strerror(-r)) : 0;
}

/* The next frame's parameters (between frames: the context is reset). */
static int frame_open(struct vps_bk_frames *f, bool manifest, vps_error *err)
{
        (void)ZSTD_CCtx_reset(f->z, ZSTD_reset_session_and_parameters);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int workers = cpus > 4 ? 4 : cpus > 1 ? (int)cpus : 0;
        size_t e = ZSTD_CCtx_setParameter(f->z, ZSTD_c_compressionLevel, manifest ? 1 : 3);
        if (!ZSTD_isError(e) && manifest)
                e = ZSTD_CCtx_setParameter(f->z, ZSTD_c_checksumFlag, 1);
        /* A table of 2^11 (level 1's is 2^14 past 256 KB): on 10,000 files' MANIFEST, 3.8 ->
         * 3.4 ms (it stays in the first cache level) and 521 -> 511 KB. */
        if (!ZSTD_isError(e) && manifest)
                e = ZSTD_CCtx_setParameter(f->z, ZSTD_c_hashLog, 11);
        /* A libzstd built without threads refuses: one thread then. */
        size_t job = workers ? (f->manifest_len + (size_t)workers - 1) / (size_t)workers : 0;
        if (!ZSTD_isError(e) && manifest && workers &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(f->z, ZSTD_c_nbWorkers, workers)))
                (void)ZSTD_CCtx_setParameter(f->z, ZSTD_c_jobSize,
                                             job > MANIFEST_JOB ? (int)(job + 4096) : MANIFEST_JOB);
        if (ZSTD_isError(e))
                return vps_err(err, EIO, "starting the archive: %s", ZSTD_getErrorName(e));
        return 0;
}

static la_ssize_t tar_out(struct archive *a, void *arg, const void *buf, size_t len)
{
        struct vps_bk_frames *f = arg;
        if (!f->z) { /* freed after an error: the tar is freed after it */
                archive_set_error(a, EIO, "the archive's frame is closed");
                return -1;
        }
        int r = frame_put(f, buf, len);
        if (r < 0) {
                archive_set_error(a, -r, "%s", strerror(-r));
                return -1;
        }
        return (la_ssize_t)len;
}

int vps_bk_frames_open(struct vps_bk_frames *f, struct archive *tar, vps_error *err)
{
        f->z = ZSTD_createCCtx();
        f->zout = malloc(ZSTD_CStreamOutSize());
        f->small = malloc(SMALL);
        if (!f->z || !f->zout || !f->small)
                return vps_err(err, ENOMEM, "out of memory");
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
        ZSTD_freeCCtx(f->z);
        free(f->zout);
        free(f->small);
        f->z = NULL;
        f->zout = f->small = NULL;
}
