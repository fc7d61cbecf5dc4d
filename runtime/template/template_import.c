/* libvps: a rootfs tarball (.tar, .tar.gz, .tar.xz, .tar.zst: OpenVZ precreated templates,
 * LXC image rootfs) unpacked with libarchive into a template's staging rootfs. Owners,
 * modes, times, xattrs, ACLs, hard links and device nodes are kept; an entry that would land
 * outside the tree (a ".." path, an absolute path, a write through a symlink, a hard link
 * to outside) is refused and counted, never written. */
#include "vps/cleanup.h"
#include "vps/safepath.h"
#include "template/template.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static void archive_write_freep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

/* Like tar --no-absolute-names, but refusing instead of rewriting. */
static const char *escape_of(struct archive_entry *e)
{
        const char *paths[] = {archive_entry_pathname(e), archive_entry_hardlink(e)};
        for (size_t i = 0; i < 2; i++) {
                const char *p = paths[i];
                if (!p)
                        continue;
                if (p[0] == '/')
                        return "an absolute path";
                for (const char *s = p; (s = strstr(s, "..")); s += 2)
                        if ((s == p || s[-1] == '/') && (s[2] == '/' || !s[2]))
                                return "a '..' path";
        }
        return NULL;
}

int vps_template_extract(const char *archive_path, int rootfs_fd,
                         void (*progress)(const char *path, const char *refused, void *arg),
                         void *arg, unsigned int *ret_entries, unsigned int *ret_refused,
                         vps_error *err)
{
        _cleanup_close_ int src = open(archive_path, O_RDONLY | O_CLOEXEC);
        if (src < 0)
                return vps_err_sys(err, errno, "opening %s", archive_path);
        __attribute__((cleanup(archive_freep))) struct archive *in = archive_read_new();
        __attribute__((cleanup(archive_write_freep))) struct archive *out =
                archive_write_disk_new();
        if (!in || !out)
                return vps_err(err, ENOMEM, "out of memory");
        archive_read_support_format_tar(in);
        archive_read_support_format_gnutar(in);
        archive_read_support_filter_gzip(in);
        archive_read_support_filter_xz(in);
        archive_read_support_filter_zstd(in);
        archive_read_support_filter_bzip2(in);
        archive_write_disk_set_options(
                out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                             ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_FFLAGS |
                             ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                             ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                             ARCHIVE_EXTRACT_NO_OVERWRITE_NEWER);
        archive_write_disk_set_standard_lookup(out);
        if (archive_read_open_fd(in, src, 64 * 1024) != ARCHIVE_OK)
                return vps_err(err, EINVAL, "%s: %s", archive_path, archive_error_string(in));
        /* libarchive writes relative to the working directory: the staging rootfs. */
        _cleanup_close_ int old_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (old_cwd < 0 || fchdir(rootfs_fd) < 0)
                return vps_err_sys(err, errno, "entering the staging rootfs");
        unsigned int entries = 0, refused = 0;
        int r = 0;
        struct archive_entry *e;
        for (;;) {
                int h = archive_read_next_header(in, &e);
                if (h == ARCHIVE_EOF)
                        break;
                if (h < ARCHIVE_WARN) {
                        r = vps_err(err, EINVAL, "%s: %s", archive_path, archive_error_string(in));
                        break;
                }
                const char *why = escape_of(e);
                if (!why && archive_write_header(out, e) < ARCHIVE_WARN)
                        why = archive_error_string(out);
                if (!why && archive_entry_size(e) > 0) {
                        const void *buf;
                        size_t len;
                        int64_t off;
                        int k;
                        while ((k = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
                                if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN) {
                                        why = archive_error_string(out);
                                        break;
                                }
                        if (k < ARCHIVE_WARN && !why) {
                                r = vps_err(err, EIO, "%s: %s", archive_path,
                                            archive_error_string(in));
                                break;
                        }
                }
                if (!why && archive_write_finish_entry(out) < ARCHIVE_WARN)
                        why = archive_error_string(out);
                entries++;
                refused += why != NULL;
                if (progress)
                        progress(archive_entry_pathname(e), why, arg);
        }
        /* Directory modes and times are set at close, by relative path: before leaving. */
        if (archive_write_close(out) < ARCHIVE_WARN && r == 0)
                r = vps_err(err, EIO, "finishing %s: %s", archive_path, archive_error_string(out));
        if (fchdir(old_cwd) < 0 && r == 0)
                r = vps_err_sys(err, errno, "leaving the staging rootfs");
        if (r == 0 && entries == refused)
                r = vps_err(err, EINVAL, "%s: nothing to import (%u entries, all refused)",
                            archive_path, entries);
        *ret_entries = entries;
        *ret_refused = refused;
        return r;
}

static bool is_dir_in(int rootfs_fd, const char *path)
{
        vps_error e;
        _cleanup_close_ int fd = vps_open_in_root(rootfs_fd, path, O_PATH | O_DIRECTORY, 0, &e);
        return fd >= 0;
}

static bool is_exec_in(int rootfs_fd, const char *path)
{
        vps_error e;
        struct stat st;
        _cleanup_close_ int fd = vps_open_in_root(rootfs_fd, path, O_PATH, 0, &e);
        return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* "a, b" lists: what fits of each item, in order. */
static void list_add(char *buf, size_t size, const char *item)
{
        size_t n = strlen(buf);
        (void)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", item);
}

int vps_template_rootfs_check(int rootfs_fd, const char *init_path, vps_error *err)
{
        char missing[256] = "", init[160];
        if (!is_dir_in(rootfs_fd, "/etc"))
                list_add(missing, sizeof(missing), "/etc");
        if (!is_dir_in(rootfs_fd, "/bin"))
                list_add(missing, sizeof(missing), "/bin");
        if (!is_exec_in(rootfs_fd, init_path)) {
                (void)snprintf(init, sizeof(init), "%s (an executable init)", init_path);
                list_add(missing, sizeof(missing), init);
        }
        if (missing[0])
                return vps_err(err, EINVAL, "not a root filesystem a VPS can boot: missing %s",
                               missing);
        return 0;
}
