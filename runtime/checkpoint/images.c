/* libvps: a VPS's checkpoint images as an online migration carries them (checkpoint.h): sent
 * file by file in chunks ("NAME\0bytes"), received into a fresh directory with every name,
 * type and size checked as any hostile archive is, and, before each restore, the user
 * namespace's maps in the images replaced by the range vpsd gave the VPS (criu would else
 * make the namespace the images describe: a host range of another VPS, or host root). */
#include "checkpoint/checkpoint.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* criu's image header (criu/include/magic.h): the common magic, then the image's own. */
#define IMG_COMMON_MAGIC 0x54564319u
#define USERNS_MAGIC     0x55474906u

bool vps_checkpoint_name_ok(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > 64 || name[0] == '.' ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._-") != n)
                return false;
        return !strcmp(name, VPS_CHECKPOINT_META) || (n > 4 && !strcmp(name + n - 4, ".img"));
}

/* The files of dir (prefix "" or "pre-K/") piece by piece into sink. */
static int send_dir(int dir_fd, const char *prefix, char *buf, vps_checkpoint_sink sink, void *arg,
                    uint64_t *bytes, vps_error *err)
{
        _cleanup_closedir_ DIR *dir = vps_opendir_fd(dir_fd);
        if (!dir)
                return vps_err_sys(err, errno, "reading the checkpoint images");
        struct dirent *de;
        while ((de = readdir(dir))) {
                unsigned int k;
                char c;
                /* A pre-copy round's directory: its files as "pre-K/NAME". */
                if (!prefix[0] && sscanf(de->d_name, "pre-%u%c", &k, &c) == 1 && k >= 1 &&
                    k <= VPS_CHECKPOINT_ROUNDS_MAX) {
                        char pre[16];
                        (void)snprintf(pre, sizeof(pre), "pre-%u/", k);
                        _cleanup_close_ int sub =
                                openat(dir_fd, de->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int r = sub < 0 ? vps_err_sys(err, errno, "reading %s", de->d_name)
                                        : send_dir(sub, pre, buf, sink, arg, bytes, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* criu's logs, pidfile and parent links stay here: only the images and
                 * vpsd's meta go. */
                if (!vps_checkpoint_name_ok(de->d_name))
                        continue;
                _cleanup_close_ int f =
                        openat(dir_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                struct stat st;
                if (f < 0 || fstat(f, &st) < 0)
                        return vps_err_sys(err, errno, "reading image %s%s", prefix, de->d_name);
                if (!S_ISREG(st.st_mode))
                        continue;
                size_t nl = (size_t)snprintf(buf, 80, "%s%s", prefix, de->d_name) + 1;
                bool first = true;
                for (;;) {
                        ssize_t k2 = read(f, buf + nl, VPS_CHECKPOINT_CHUNK);
                        if (k2 < 0 && errno == EINTR)
                                continue;
                        if (k2 < 0)
                                return vps_err_sys(err, errno, "reading image %s", de->d_name);
                        if (k2 == 0 && !first)
                                break;
                        int r = sink(arg, buf, nl + (size_t)k2, err);
                        if (r < 0)
                                return r;
                        *bytes += (uint64_t)k2;
                        first = false;
                        if (k2 == 0)
                                break;
                }
        }
        return 0;
}

int vps_checkpoint_send(int vps_dir_fd, vps_checkpoint_sink sink, void *arg, uint64_t *ret_bytes,
                        vps_error *err)
{
        _cleanup_close_ int img = openat(vps_dir_fd, VPS_CHECKPOINT_DIR,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (img < 0)
                return vps_err_sys(err, errno, "opening the checkpoint images");
        _cleanup_free_ char *buf = malloc(VPS_CHECKPOINT_CHUNK + 80);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        *ret_bytes = 0;
        return send_dir(img, "", buf, sink, arg, ret_bytes, err);
}

int vps_checkpoint_rx_begin(struct vps_checkpoint_rx *rx, int dir_fd, vps_error *err)
{
        *rx = (struct vps_checkpoint_rx){.dir = -1, .fd = -1};
        if (mkdirat(dir_fd, VPS_CHECKPOINT_DIR, 0700) < 0)
                return vps_err_sys(err, errno, "creating the images' directory");
        rx->dir =
                openat(dir_fd, VPS_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rx->dir < 0)
                return vps_err_sys(err, errno, "opening the images' directory");
        return 0;
}

int vps_checkpoint_rx_put(struct vps_checkpoint_rx *rx, const char *frame, size_t n, vps_error *err)
{
        const char *nul = memchr(frame, '\0', n < 80 ? n : 80);
        if (!nul || (strncmp(frame, "pre-", 4) != 0 && !vps_checkpoint_name_ok(frame)))
                return vps_err(err, EPERM, "refused: an image with a bad name (%.64s)",
                               nul ? frame : "too long");
        size_t nl = (size_t)(nul - frame) + 1;
        if (strcmp(rx->name, frame) != 0) {
                vps_closep(&rx->fd);
                /* A pre-copy round's file: in pre-K, made here (never a path of the sender's). */
                unsigned int k = 0;
                const char *base = frame;
                _cleanup_close_ int sub = -1;
                if (!strncmp(frame, "pre-", 4)) {
                        char c;
                        if (sscanf(frame, "pre-%u%c", &k, &c) != 2 || c != '/' || k < 1 ||
                            k > VPS_CHECKPOINT_ROUNDS_MAX || strchr(frame, '/') != frame + 5 ||
                            !vps_checkpoint_name_ok(frame + 6))
                                return vps_err(err, EPERM,
                                               "refused: an image with a bad name (%.64s)", frame);
                        char dn[16];
                        (void)snprintf(dn, sizeof(dn), "pre-%u", k);
                        if ((mkdirat(rx->dir, dn, 0700) < 0 && errno != EEXIST) ||
                            (sub = openat(rx->dir, dn,
                                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                                return vps_err_sys(err, errno, "refused: image %s", frame);
                        base = frame + 6;
                        if (k > rx->rounds)
                                rx->rounds = k;
                }
                /* O_EXCL: a name seen before (not the one just written) is refused. 0644 as
                 * criu makes them (CR_FD_PERM): a restore reads some as the VPS's root, once
                 * the 0700 directory is lent to it. */
                rx->fd = openat(sub >= 0 ? sub : rx->dir, base,
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

                if (rx->fd < 0)
                        return vps_err_sys(err, errno, "refused: image %s", frame);
                (void)snprintf(rx->name, sizeof(rx->name), "%s", frame);
                rx->files++;
        }
        if (rx->bytes + (n - nl) > VPS_CHECKPOINT_MAX)
                return vps_err(err, EFBIG, "refused: the images exceed %llu bytes",
                               (unsigned long long)VPS_CHECKPOINT_MAX);
        if (vps_write_full(rx->fd, frame + nl, n - nl) != (ssize_t)(n - nl))
                return vps_err_sys(err, errno, "writing image %s", frame);
        rx->bytes += n - nl;
        return 0;
}

int vps_checkpoint_rx_end(struct vps_checkpoint_rx *rx, vps_error *err)
{
        int r = 0;
        if (rx->fd >= 0 && fsync(rx->fd) < 0)
                r = vps_err_sys(err, errno, "writing image %s", rx->name);
        vps_closep(&rx->fd);
        if (r == 0 &&
            (rx->dir < 0 || faccessat(rx->dir, VPS_CHECKPOINT_META, F_OK, AT_SYMLINK_NOFOLLOW) < 0))
                r = vps_err(err, EBADMSG,
                            "refused: the images are not whole (no " VPS_CHECKPOINT_META ")");
        /* A pre-copy's chain, linked here as criu linked it there: the images' parent is the
         * last round, each round's the one before; every round must have come. */
        for (unsigned int k = rx->rounds; r == 0 && k >= 1; k--) {
                char dn[16], link[24], at[24];
                (void)snprintf(dn, sizeof(dn), "pre-%u", k);
                (void)snprintf(at, sizeof(at), "%s/parent", dn);
                (void)snprintf(link, sizeof(link), "../pre-%u", k - 1);
                struct stat st;
                if (fstatat(rx->dir, dn, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        r = vps_err(err, EBADMSG, "refused: pre-copy round %u is missing", k);
                else if (k > 1 && symlinkat(link, rx->dir, at) < 0)
                        r = vps_err_sys(err, errno, "linking round %u", k);
                else if (k == rx->rounds && symlinkat(dn, rx->dir, "parent") < 0)
                        r = vps_err_sys(err, errno, "linking round %u", k);
        }

        vps_closep(&rx->dir);
        return r;
}

/* --- the user namespace's maps ---------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
        size_t n = 0;
        do {
                p[n] = (uint8_t)(v & 0x7f);
                v >>= 7;
                if (v)
                        p[n] |= 0x80;
                n++;
        } while (v);
        return n;
}

/* One uid_gid_extent {first 0, lower_first base, count} as field `field` of userns_entry
 * (images/userns.proto: 1 uid_map, 2 gid_map). */
static size_t put_extent(uint8_t *p, unsigned int field, uint32_t base, uint32_t count)
{
        uint8_t in[32];
        size_t k = 0;
        in[k++] = (1 << 3) | 0; /* first */
        k += put_varint(in + k, 0);
        in[k++] = (2 << 3) | 0; /* lower_first */
        k += put_varint(in + k, base);
        in[k++] = (3 << 3) | 0; /* count */
        k += put_varint(in + k, count);
        size_t n = 0;
        p[n++] = (uint8_t)((field << 3) | 2);
        n += put_varint(p + n, k);
        memcpy(p + n, in, k);
        return n + k;
}

size_t vps_checkpoint_userns_entry(uint8_t *ret, bool common, uint32_t base, uint32_t count)
{
        /* header: the magics, then the entry's length (host order, as criu writes it) */
        uint32_t hdr[2] = {IMG_COMMON_MAGIC, USERNS_MAGIC};
        size_t h = common ? 8 : 4;
        memcpy(ret, common ? hdr : hdr + 1, h);
        uint8_t body[64];
        size_t n = put_extent(body, 1, base, count);
        n += put_extent(body + n, 2, base, count);
        uint32_t len = (uint32_t)n;
        memcpy(ret + h, &len, 4);
        memcpy(ret + h + 4, body, n);
        return h + 4 + n;
}

int vps_checkpoint_own_userns(int img_fd, uint32_t base, uint32_t count, vps_error *err)
{
        _cleanup_closedir_ DIR *dir = vps_opendir_fd(img_fd);
        if (!dir)
                return vps_err_sys(err, errno, "reading the checkpoint images");
        struct dirent *de;
        unsigned int seen = 0;
        while ((de = readdir(dir))) {
                if (strncmp(de->d_name, "userns-", 7) != 0 || !vps_checkpoint_name_ok(de->d_name))
                        continue;
                _cleanup_close_ int f =
                        openat(img_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                uint32_t magic[2];
                struct stat st;
                /* criu's header: the common magic and the image's, or (older) the image's */
                if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode) ||
                    vps_read_full(f, magic, sizeof(magic)) != (ssize_t)sizeof(magic) ||
                    !((magic[0] == IMG_COMMON_MAGIC && magic[1] == USERNS_MAGIC) ||
                      magic[0] == USERNS_MAGIC))
                        return vps_err(err, EBADMSG, "refused: image %s is not a user namespace's",
                                       de->d_name);
                uint8_t entry[128];
                size_t n = vps_checkpoint_userns_entry(entry, magic[0] == IMG_COMMON_MAGIC, base,
                                                       count);
                /* (its mode as criu left it: criu reads it as it reads the others) */
                int r = vps_write_file_atomic(img_fd, de->d_name, entry, n, st.st_mode & 0777, err);
                if (r < 0)
                        return vps_err_wrap(err, "rewriting image %s", de->d_name);
                seen++;
        }
        if (!seen)
                return vps_err(err, EBADMSG,
                               "refused: the images have no user namespace (userns-*.img)");
        return 0;
}

/* --- the boot id ------------------------------------------------------------------------- */

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n" (sandbox/bootid.c writes it so) */
static bool boot_id_ok(const char *t)
{
        if (strlen(t) != 37 || t[36] != '\n')
                return false;
        for (int i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? t[i] != '-'
                                                            : !strchr("0123456789abcdef", t[i]))
                        return false;
        return true;
}

void vps_checkpoint_boot_id_read(const char *run_dir, const char *id, char ret[40])
{
        char path[700];
        ret[0] = '\0';
        (void)snprintf(path, sizeof(path), "%s/boot-id-%s", run_dir, id);
        _cleanup_close_ int f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = f < 0 ? -1 : vps_read_full(f, ret, 39);
        ret[n > 0 ? n : 0] = '\0';
        if (!boot_id_ok(ret))
                ret[0] = '\0';
}

int vps_checkpoint_boot_id_ensure(const char *run_dir, const char *id, const char *text,
                                  vps_error *err)
{
        char name[96], fresh[40];
        (void)snprintf(name, sizeof(name), "boot-id-%s", id);
        _cleanup_close_ int run = open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (run < 0)
                return vps_err_sys(err, errno, "opening %s", run_dir);
        if (faccessat(run, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        if (!boot_id_ok(text)) { /* images of an older vpsd: a boot id of their own */
                unsigned char u[16];
                if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
                        return vps_err_sys(err, errno, "getrandom");
                u[6] = (u[6] & 0x0f) | 0x40;
                u[8] = (u[8] & 0x3f) | 0x80;
                char *o = fresh;
                for (int i = 0; i < 16; i++)
                        o += sprintf(o, "%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "",
                                     u[i]);
                strcpy(o, "\n");
                text = fresh;
        }
        _cleanup_close_ int f =
                openat(run, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (f < 0 || vps_write_full(f, text, 37) != 37)
                return vps_err_sys(err, errno, "writing the boot id of the restore");
        return 0;
}

int vps_checkpoint_lend_rounds(int img_fd, uid_t uid)
{
        for (unsigned int k = 1; k <= VPS_CHECKPOINT_ROUNDS_MAX; k++) {
                char dn[16];
                (void)snprintf(dn, sizeof(dn), "pre-%u", k);
                if (fchownat(img_fd, dn, uid, uid, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT ? 0 : -errno;
        }
        return 0;
}
