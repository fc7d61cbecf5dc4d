/* libFuzzer target: the backup reader (runtime/storage/backup_read.c, backup_manifest.c)
 * over any bytes. The first byte chooses:
 *   even: the bytes after it are a MANIFEST: parsed; what parses must format back to text
 *         that parses to the same entries (paths are any bytes but NUL)
 *   odd:  the bytes after it are an archive restored into TMP/box/root (a staging
 *         directory): whatever it holds, nothing may appear outside the root, the sentinel
 *         beside it must stay as it was (no second link to it), and vps_backup_peek and
 *         vps_backup_peek_fd (vpsctl's, without libarchive) must not crash on it either.
 * The tree is made once per process under $TMPDIR and removed at a normal exit. */
#include "storage/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_box.h"

static void setup(void)
{
        box_make("backup");
}

/* The box holds root/ and the sentinel, unchanged, and nothing else. */
static void check_box(void)
{
        box_check("fuzz_backup", NULL);
        if (access("/tmp/vps-backup-through", F_OK) == 0 || access("/abs", F_OK) == 0) {
                fprintf(stderr, "fuzz_backup: a file written through a link to outside\n");
                abort();
        }
}

struct mem {
        const uint8_t *p;
        size_t len, off;
};

static ssize_t mem_read(void *arg, void *buf, size_t len)
{
        struct mem *m = arg;
        size_t n = m->len - m->off < len ? m->len - m->off : len;
        if (n > 7919)
                n = 7919; /* odd pieces: entries straddle reads */
        memcpy(buf, m->p + m->off, n);
        m->off += n;
        return (ssize_t)n;
}

static void manifest_roundtrip(const uint8_t *data, size_t size)
{
        struct vps_manifest a, b;
        vps_error err;
        if (vps_manifest_parse((const char *)data, size, &a, &err) < 0)
                return;
        char *text = NULL;
        size_t len = 0;
        if (vps_manifest_format(&a, &text, &len, &err) < 0)
                die("formatting a manifest that parsed");
        if (vps_manifest_parse(text, len, &b, &err) < 0 || a.n != b.n) {
                fprintf(stderr, "fuzz_backup: a formatted manifest does not parse back: %s\n",
                        err.msg);
                abort();
        }
        for (size_t i = 0; i < a.n; i++)
                if (strcmp(a.e[i].path, b.e[i].path) || a.e[i].kind != b.e[i].kind ||
                    a.e[i].size != b.e[i].size || a.e[i].mtime_ns != b.e[i].mtime_ns ||
                    strcmp(a.e[i].hash, b.e[i].hash)) {
                        fprintf(stderr, "fuzz_backup: manifest entry %zu changed\n", i);
                        abort();
                }
        (void)vps_manifest_find(&a, "upper/x");
        free(text);
        vps_manifest_free(&a);
        vps_manifest_free(&b);
}

static const unsigned int devs[][2] = {{1, 3}, {1, 5}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!box[0])
                setup();
        if (size < 1)
                return 0;
        if (!(data[0] & 1)) {
                manifest_roundtrip(data + 1, size - 1);
                return 0;
        }
        clear_root();
        int fd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                die("open root");
        int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct mem m = {.p = data + 1, .len = size - 1};
        struct vps_restore_opts o = {.staging_fd = fd,
                                     .uid_base = 0,
                                     .uid_count = 65536,
                                     .want_root = (data[0] & 2) != 0,
                                     .max_file_size = 1 << 20,
                                     .devs = devs,
                                     .n_devs = 2,
                                     .expect_base = ""};
        struct vps_backup_info info;
        char *config = NULL;
        vps_error err;
        (void)vps_restore_apply(mem_read, &m, &o, &info, &config, &err);
        free(config);
        if (cwd >= 0 && fchdir(cwd) < 0)
                die("fchdir");
        close(fd);
        if (cwd >= 0)
                close(cwd);
        check_box();
        char *mf = NULL;
        size_t mlen = 0;
        m.off = 0;
        (void)vps_backup_peek(mem_read, &m, &info, &mf, &mlen, &err);
        free(mf);
        /* vpsctl's reader of a backup file (backup_peek.c: zstd and tar headers by hand). */
        int mfd = memfd_create("fuzz-backup", MFD_CLOEXEC);
        if (mfd >= 0 && write(mfd, data + 1, size - 1) == (ssize_t)(size - 1)) {
                mf = NULL;
                (void)vps_backup_peek_fd(mfd, &info, &mf, &mlen, &err);
                free(mf);
        }
        if (mfd >= 0)
                close(mfd);
        return 0;
}
