/* libFuzzer target: vps_open_in_root_how must never hand back an fd outside the root, whatever
 * path it is given, both with openat2 (RESOLVE_IN_ROOT) and with the component walk used
 * where openat2 is missing (VPS_TEST_NO_OPENAT2=1); and the two must give the same answer
 * (the same file, or the same errno).
 *
 * Input: byte 0 picks the open flags (bits 1-3) and the resolve flags (bit 0: no symlinks,
 * bit 4: no mount crossing); the rest,
 * split on '\n', are paths opened inside a fixed tree:
 *
 *   TMP/root/            TMP/outside/secret
 *     a/b/file           a/up  -> ../../outside        esc  -> ../outside
 *     f                  a/abs -> TMP/outside           etc  -> /etc
 *     rel -> a/b         a/dd  -> ../../../../..        proc -> /proc/self/root
 *     loop -> loop       a/b/home -> /                  fd   -> /proc/self/fd
 *
 * The tree is made once per process under $TMPDIR and removed at a normal exit.
 */
#include "vps/safepath.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static char top_real[PATH_MAX];
static char root[PATH_MAX];
static int root_fd = -1;

static void die(const char *what)
{
        perror(what);
        abort();
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st, (void)ftw;
        return type == FTW_DP ? rmdir(p) : unlink(p);
}

/* Removes the tree at a normal exit (-max_total_time, -runs); after a crash it stays. */
static void cleanup(void)
{
        if (root_fd >= 0)
                close(root_fd);
        if (top_real[0])
                (void)nftw(top_real, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void mk_dir(const char *base, const char *rel)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", base, rel);
        if (mkdir(p, 0755) < 0)
                die(p);
}

static void mk_file(const char *base, const char *rel)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", base, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "x\n", 2) != 2)
                die(p);
        close(fd);
}

static void mk_link(const char *target, const char *base, const char *rel)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", base, rel);
        if (symlink(target, p) < 0)
                die(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc, (void)argv;
        const char *tmp = getenv("TMPDIR");
        char top[PATH_MAX];
        snprintf(top, sizeof(top), "%s/vps-fuzz-safepath.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(top))
                die("mkdtemp");
        /* The checks compare resolved paths: resolve the temporary directory itself first. */
        char real[PATH_MAX];
        if (!realpath(top, real))
                die("realpath");
        mk_dir(real, "root");
        mk_dir(real, "outside");
        mk_file(real, "outside/secret");
        snprintf(root, sizeof(root), "%s/root", real);
        mk_dir(root, "a");
        mk_dir(root, "a/b");
        mk_file(root, "a/b/file");
        mk_file(root, "f");
        mk_link("a/b", root, "rel");
        mk_link("loop", root, "loop");
        mk_link("../../outside", root, "a/up");
        char abs[PATH_MAX + 16];
        snprintf(abs, sizeof(abs), "%s/outside", real);
        mk_link(abs, root, "a/abs");
        mk_link("../../../../..", root, "a/dd");
        mk_link("/", root, "a/b/home");
        mk_link("../outside", root, "esc");
        mk_link("/etc", root, "etc");
        mk_link("/proc/self/root", root, "proc");
        mk_link("/proc/self/fd", root, "fd");
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                die(root);
        snprintf(top_real, sizeof(top_real), "%s", real);
        atexit(cleanup);
        return 0;
}

static void check_inside(int fd, const char *path, int walk)
{
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                die(link);
        target[n] = '\0';
        size_t rl = strlen(root);
        if (strncmp(target, root, rl) == 0 && (target[rl] == '\0' || target[rl] == '/'))
                return;
        fprintf(stderr, "fuzz_safepath: '%s' (%s) opened %s, outside %s\n", path,
                walk ? "fallback walk" : "openat2", target, root);
        abort();
}

/* Opens path in one mode; checks an fd is inside the root. Returns the fd or -errno. */
static int open_one(const char *path, int flags, unsigned resolve, int walk)
{
        if (walk)
                setenv("VPS_TEST_NO_OPENAT2", "1", 1);
        else
                unsetenv("VPS_TEST_NO_OPENAT2");
        vps_error err = {0};
        int fd = vps_open_in_root_how(root_fd, path, flags, 0, resolve, &err);
        if (fd >= 0) {
                check_inside(fd, path, walk);
        } else if (err.code == 0 || err.code != -fd) {
                fprintf(stderr, "fuzz_safepath: failure without its error set\n");
                abort();
        }
        return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 4096)
                return 0;
        static const int flag_sets[8] = {
                O_RDONLY,
                O_PATH,
                O_PATH | O_NOFOLLOW,
                O_RDONLY | O_DIRECTORY,
                O_PATH | O_DIRECTORY,
                O_RDONLY | O_NOFOLLOW,
                O_PATH | O_DIRECTORY | O_NOFOLLOW,
                O_RDONLY | O_NONBLOCK,
        };
        unsigned resolve = ((data[0] & 1) ? VPS_RESOLVE_NO_SYMLINKS : 0) |
                           ((data[0] & 16) ? VPS_RESOLVE_NO_XDEV : 0);
        int flags = flag_sets[(data[0] >> 1) & 7];

        char *text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        for (char *line = text, *next; line; line = next) {
                char *nl = strchr(line, '\n');
                next = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = '\0';
                /* Both ways must agree: the same file, or the same errno. */
                int a = open_one(line, flags, resolve, 0);
                int b = open_one(line, flags, resolve, 1);
                struct stat sa, sb;
                int same = (a < 0 && b < 0 && a == b) ||
                           (a >= 0 && b >= 0 && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
                            sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
                if (!same) {
                        fprintf(stderr,
                                "fuzz_safepath: '%s' flags %#x resolve %u: openat2 %d, "
                                "walk %d\n",
                                line, flags, resolve, a, b);
                        abort();
                }
                if (a >= 0)
                        close(a);
                if (b >= 0)
                        close(b);
        }
        free(text);
        return 0;
}
