/* libvps: the frames of a backup or restore stream (vps/backup.h) on an upgraded socket. */
#include "storage/backup.h"
#include "vps/util.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len, vps_error *err)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == ENOTSOCK)
                        n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vps_err_sys(err, errno, "sending the stream");
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* 1 when all of len was read, 0 at EOF before the first byte, or -errno. */
static int read_all(int fd, void *buf, size_t len)
{
        ssize_t n = vps_read_full(fd, buf, len);
        if (n < 0)
                return (int)n;
        return (size_t)n == len ? 1 : n == 0 ? 0 : -EPIPE;
}

int vps_frame_write(int fd, char type, const void *buf, size_t len, vps_error *err)
{
        if (len > VPS_FRAME_MAX)
                return vps_err(err, E2BIG, "a frame of %zu bytes", len);
        unsigned char h[5] = {(unsigned char)type, (unsigned char)(len >> 24),
                              (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                              (unsigned char)len};
        int r = write_all(fd, h, sizeof(h), err);
        return r < 0 || len == 0 ? r : write_all(fd, buf, len, err);
}

int vps_frame_read_head(int fd, char *ret_type, size_t *ret_len, vps_error *err)
{
        unsigned char h[5];
        int r = read_all(fd, h, sizeof(h));
        if (r == 0)
                return vps_err(err, ECONNRESET, "the stream ended");
        if (r < 0)
                return vps_err(err, -r, "reading the stream: %s", strerror(-r));
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        if (len > VPS_FRAME_MAX || !strchr("DPEKMZNIORXCSW", h[0]) || !h[0])
                return vps_err(err, EBADMSG, "a bad frame in the stream");
        *ret_type = (char)h[0];
        *ret_len = len;
        return 0;
}

int vps_frame_read_body(int fd, void *buf, size_t len, vps_error *err)
{
        int r = len ? read_all(fd, buf, len) : 1;
        if (r != 1)
                return vps_err(err, r < 0 ? -r : EPIPE, "the stream ended inside a frame");
        return 0;
}

int vps_frame_read(int fd, char *ret_type, void *buf, size_t *ret_len, vps_error *err)
{
        int r = vps_frame_read_head(fd, ret_type, ret_len, err);
        return r < 0 ? r : vps_frame_read_body(fd, buf, *ret_len, err);
}
