/* libvps: a file's content hash in a backup's MANIFEST, by the archive's format:
 *   1  SHA-256 of the content, holes read as zeros (a 1 TB sparse file is 1 TB of hashing)
 *   2  SHA-256 over the content's 4096-byte blocks (at multiples of 4096, the last one cut at
 *      the size) that hold a byte other than zero, each as its offset (8 bytes, little
 *      endian) then its bytes, and at the end the size (8 bytes, little endian): defined by
 *      the content alone (a hole and written zeros hash alike), and a hole costs nothing.
 * Data comes in by offset, in order; what lies between is zeros. */
#include "storage/backup_int.h"

#include <endian.h>
#include <string.h>

#define ZB 4096

static const uint8_t zeros[ZB];

void vps_zhash_init(struct vps_zhash *z, int version)
{
        sha256_init(&z->h);
        z->version = version;
        z->done = 0;
        z->pending = false;
}

/* SHA-256 of n zero bytes (format 1). */
static void hash_zeros(struct vps_zhash *z, uint64_t n)
{
        for (; n > 0;) {
                size_t k = n < ZB ? (size_t)n : ZB;
                sha256_update(&z->h, k, zeros);
                n -= k;
        }
}

/* A block of format 2 at offset off, len bytes: into the hash unless all zero. */
static void block(struct vps_zhash *z, uint64_t off, const uint8_t *b, size_t len)
{
        if (!memcmp(b, zeros, len))
                return;
        uint64_t le = htole64(off);
        sha256_update(&z->h, sizeof(le), (const uint8_t *)&le);
        sha256_update(&z->h, len, b);
}

static void flush(struct vps_zhash *z, size_t len)
{
        if (z->pending)
                block(z, z->blk * ZB, z->b, len);
        z->pending = false;
}

void vps_zhash_data(struct vps_zhash *z, uint64_t off, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        if (z->version < 2) {
                hash_zeros(z, off - z->done);
                sha256_update(&z->h, len, p);
                z->done = off + len;
                return;
        }
        while (len > 0) {
                uint64_t bi = off / ZB;
                size_t in = (size_t)(off % ZB), k = len < ZB - in ? len : ZB - in;
                if (z->pending && z->blk != bi)
                        flush(z, ZB);
                if (in == 0 && k == ZB) {
                        block(z, off, p, ZB); /* a whole block: no copy */
                } else {
                        if (!z->pending) {
                                memset(z->b, 0, ZB);
                                z->blk = bi;
                                z->pending = true;
                        }
                        memcpy(z->b + in, p, k);
                }
                off += k;
                p += k;
                len -= k;
        }
}

void vps_zhash_finish(struct vps_zhash *z, uint64_t size, char out[65])
{
        if (z->version < 2) {
                hash_zeros(z, size > z->done ? size - z->done : 0);
        } else {
                if (z->pending && size > z->blk * ZB)
                        flush(z, size - z->blk * ZB < ZB ? (size_t)(size - z->blk * ZB) : ZB);
                z->pending = false;
                uint64_t le = htole64(size);
                sha256_update(&z->h, sizeof(le), (const uint8_t *)&le);
        }
        vps_sha256_finish_hex(&z->h, out);
}
