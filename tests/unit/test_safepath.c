/* Unit tests: path resolution inside a guest root never reaches the host (safepath.h). Every
 * case runs twice: with openat2 and with the component-by-component fallback. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "vps/safepath.h"

struct fixture {
        bool fallback;
        char top[64];   /* holds root/ and secret */
        char root[80];  /* the guest root */
        char host[128]; /* a host file name that must never be created: /vps-unit-<pid> */
        int top_fd, root_fd;
};

static bool mode_fallback = true, mode_openat2 = false;
static bool have_openat2 = true;

static void put(int dfd, const char *path, const char *text)
{
        int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->fallback = *(bool *)*state;
        if (f->fallback)
                assert_int_equal(setenv("VPS_TEST_NO_OPENAT2", "1", 1), 0);
        else
                assert_int_equal(unsetenv("VPS_TEST_NO_OPENAT2"), 0);
        (void)snprintf(f->top, sizeof(f->top), "/tmp/vps-unit-XXXXXX");
        assert_non_null(mkdtemp(f->top));
        (void)snprintf(f->root, sizeof(f->root), "%s/root", f->top);
        (void)snprintf(f->host, sizeof(f->host), "/vps-unit-escape-%d", (int)getpid());
        f->top_fd = open(f->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->top_fd >= 0);
        put(f->top_fd, "secret", "host secret");
        assert_int_equal(mkdirat(f->top_fd, "root", 0755), 0);
        f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->root_fd >= 0);
        assert_int_equal(mkdirat(f->root_fd, "etc", 0755), 0);
        assert_int_equal(mkdirat(f->root_fd, "var", 0755), 0);
        put(f->root_fd, "etc/hosts", "guest hosts");
        assert_int_equal(symlinkat("/etc/passwd", f->root_fd, "etc/evil"), 0);
        assert_int_equal(symlinkat("../../../../", f->root_fd, "up"), 0);
        assert_int_equal(symlinkat("..", f->root_fd, "out"), 0);
        char abs[128];
        (void)snprintf(abs, sizeof(abs), "%s/secret", f->top);
        assert_int_equal(symlinkat(abs, f->root_fd, "etc/secret"), 0);
        assert_int_equal(symlinkat(f->host, f->root_fd, "etc/dangling"), 0);
        *state = f;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        return remove(path);
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        close(f->root_fd);
        close(f->top_fd);
        int r = nftw(f->top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return r;
}

/* fd is -errno or an fd that must not be a host file; returns its content ("" when fd < 0). */
static void check_fd(const struct fixture *f, int fd, char *buf, size_t size)
{
        buf[0] = '\0';
        if (fd < 0)
                return;
        struct stat st, host;
        assert_int_equal(fstat(fd, &st), 0);
        if (stat("/etc/passwd", &host) == 0)
                assert_false(st.st_dev == host.st_dev && st.st_ino == host.st_ino);
        assert_int_equal(fstatat(f->top_fd, "secret", &host, 0), 0);
        assert_false(st.st_dev == host.st_dev && st.st_ino == host.st_ino);
        ssize_t n = pread(fd, buf, size - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
}

static void test_open_plain(void **state)
{
        struct fixture *f = *state;
        char buf[64];
        vps_error err = {0};
        int fd = vps_open_in_root(f->root_fd, "/etc/hosts", O_RDONLY, 0, &err);
        assert_true(fd >= 0);
        check_fd(f, fd, buf, sizeof(buf));
        assert_string_equal(buf, "guest hosts");
        assert_int_equal(vps_open_in_root(f->root_fd, "etc/nope", O_RDONLY, 0, &err), -ENOENT);
}

static void test_absolute_symlink(void **state)
{
        struct fixture *f = *state;
        char buf[64];
        vps_error err = {0};
        const char *paths[] = {"/etc/evil", "etc/evil", "/etc/secret", "up/etc/passwd"};
        /* Without a guest /etc/passwd nothing can be opened. */
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                int fd = vps_open_in_root(f->root_fd, paths[i], O_RDONLY, 0, &err);
                check_fd(f, fd, buf, sizeof(buf));
                if (fd >= 0)
                        fail_msg("%s opened: '%s'", paths[i], buf);
                assert_int_equal(err.code, -fd);
        }
        put(f->root_fd, "etc/passwd", "guest passwd");
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                if (strcmp(paths[i], "/etc/secret") == 0)
                        continue; /* resolves to <root>/<top>/secret: missing */
                int fd = vps_open_in_root(f->root_fd, paths[i], O_RDONLY, 0, &err);
                check_fd(f, fd, buf, sizeof(buf));
                assert_string_equal(buf, "guest passwd"); /* the walk resolves in the root too */
        }
}

static void test_dotdot(void **state)
{
        struct fixture *f = *state;
        char buf[64];
        vps_error err = {0};
        put(f->root_fd, "etc/passwd", "guest passwd");
        const char *paths[] = {"../../etc/passwd", "/../../../etc/passwd", "etc/../../secret",
                               "out/secret", "var/../../../../../etc/passwd"};
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                int fd = vps_open_in_root(f->root_fd, paths[i], O_RDONLY, 0, &err);
                check_fd(f, fd, buf, sizeof(buf));
                if (strstr(paths[i], "etc/passwd"))
                        assert_string_equal(buf, "guest passwd");
                else if (fd >= 0)
                        fail_msg("%s opened: '%s'", paths[i], buf);
                else
                        assert_int_equal(err.code, -fd);
        }
}

static void test_ensure_creates_inside(void **state)
{
        struct fixture *f = *state;
        vps_error err = {0};
        struct stat st;
        int fd = vps_ensure_in_root(f->root_fd, "/var/newdir", 1, &err);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(fstatat(f->root_fd, "var/newdir", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISDIR(st.st_mode));

        fd = vps_ensure_in_root(f->root_fd, "etc/newfile", 0, &err);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(fstatat(f->root_fd, "etc/newfile", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_size, 0);

        /* Existing: kept as is. */
        fd = vps_ensure_in_root(f->root_fd, "etc/hosts", 0, &err);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(fstatat(f->root_fd, "etc/hosts", &st, 0), 0);
        assert_int_equal(st.st_size, strlen("guest hosts"));
}

static void test_ensure_never_outside(void **state)
{
        struct fixture *f = *state;
        vps_error err = {0};
        struct stat st;
        int fd = vps_ensure_in_root(f->root_fd, "out/made", 1, &err);
        if (fd >= 0)
                close(fd);
        assert_int_equal(fstatat(f->top_fd, "made", &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(fstatat(f->root_fd, "made", &st, 0), 0); /* ".." of / is / */

        fd = vps_ensure_in_root(f->root_fd, f->host + 1, 0, &err); /* plain: inside */
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(unlinkat(f->root_fd, f->host + 1, 0), 0);

        const char *paths[] = {"etc/dangling", "up/vps-unit-made-here"};
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                fd = vps_ensure_in_root(f->root_fd, paths[i], (int)i, &err);
                if (fd >= 0)
                        close(fd);
                else if (i == 1)
                        fail_msg("%s: %s", paths[i], err.msg);
        }
        assert_int_equal(access(f->host, F_OK), -1);
        assert_int_equal(access("/vps-unit-made-here", F_OK), -1);
}

static void test_no_symlinks(void **state)
{
        struct fixture *f = *state;
        vps_error err = {0};
        put(f->root_fd, "etc/passwd", "guest passwd");
        assert_int_equal(symlinkat("etc", f->root_fd, "cfg"), 0);
        int fd = vps_open_in_root_how(f->root_fd, "/cfg/passwd", O_RDONLY, 0,
                                      VPS_RESOLVE_NO_SYMLINKS, &err);
        assert_int_equal(fd, -ELOOP);
        assert_non_null(strstr(err.msg, "refusing /cfg/passwd in the guest: a symlink"));
        fd = vps_open_in_root_how(f->root_fd, "etc/evil", O_RDONLY | O_NOFOLLOW, 0,
                                  VPS_RESOLVE_NO_SYMLINKS, &err);
        assert_int_equal(fd, -ELOOP);
        /* Without the flag the same paths resolve inside the root. */
        char buf[64];
        fd = vps_open_in_root(f->root_fd, "/cfg/passwd", O_RDONLY, 0, &err);
        check_fd(f, fd, buf, sizeof(buf));
        assert_string_equal(buf, "guest passwd");
        fd = vps_open_in_root_how(f->root_fd, "etc/hosts", O_RDONLY, 0,
                                  VPS_RESOLVE_NO_SYMLINKS | VPS_RESOLVE_NO_XDEV, &err);
        check_fd(f, fd, buf, sizeof(buf));
        assert_string_equal(buf, "guest hosts");
}

/* Mount crossings and magic links, with the host's / standing in for a guest root: /proc is
 * a mount below it, and its /proc/self/fd/N and exe are magic links. */
static void test_xdev_and_magic_links(void **state)
{
        struct fixture *f = *state;
        vps_error err = {0};
        int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(slash >= 0);
        int fd = vps_open_in_root_how(slash, "/proc/self/status", O_RDONLY, 0, VPS_RESOLVE_NO_XDEV,
                                      &err);
        assert_int_equal(fd, -EXDEV);
        const char *magic[] = {"/proc/self/exe", "/proc/self/fd/0", "/proc/self/cwd/etc",
                               "/proc/self/root/etc/hostname", "/proc/self/ns/net"};
        for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
                fd = vps_open_in_root(slash, magic[i], O_PATH, 0, &err);
                if (fd >= 0)
                        fail_msg("%s (%s): a magic link was followed", magic[i],
                                 f->fallback ? "fallback" : "openat2");
                assert_int_equal(fd, -ELOOP);
        }
        /* /proc/self is a plain procfs symlink ("PID"): followed. */
        fd = vps_open_in_root(slash, "/proc/self/status", O_RDONLY, 0, &err);
        assert_true(fd >= 0);
        close(fd);
        close(slash);
}

/* The walk and openat2 give the same answer for each path: the same file, or the same errno. */
static void test_walk_matches_openat2(void **state)
{
        struct fixture *f = *state;
        if (!have_openat2)
                skip();
        put(f->root_fd, "etc/passwd", "guest passwd");
        assert_int_equal(mkdirat(f->root_fd, "var/lib", 0755), 0);
        assert_int_equal(symlinkat("../etc/", f->root_fd, "var/lib/up"), 0);
        assert_int_equal(symlinkat("loop2", f->root_fd, "loop1"), 0);
        assert_int_equal(symlinkat("loop1", f->root_fd, "loop2"), 0);
        const char *paths[] = {"/",
                               "",
                               ".",
                               "..",
                               "//etc//hosts",
                               "etc/hosts/",
                               "etc/",
                               "etc/evil",
                               "etc/evil/",
                               "up",
                               "up/",
                               "out",
                               "out/etc/hosts",
                               "var/lib/up/passwd",
                               "var/lib/up/../../etc/hosts",
                               "loop1",
                               "loop1/x",
                               "etc/hosts/..",
                               "etc/secret",
                               "etc/dangling",
                               "var/lib/../../../../etc/passwd",
                               "./etc/./hosts",
                               "nope/x"};
        const int flag_sets[] = {O_RDONLY,
                                 O_PATH,
                                 O_PATH | O_NOFOLLOW,
                                 O_RDONLY | O_DIRECTORY,
                                 O_RDONLY | O_NOFOLLOW,
                                 O_PATH | O_DIRECTORY | O_NOFOLLOW};
        const unsigned resolves[] = {0, VPS_RESOLVE_NO_SYMLINKS, VPS_RESOLVE_NO_XDEV};
        for (size_t r = 0; r < 3; r++)
                for (size_t k = 0; k < sizeof(flag_sets) / sizeof(flag_sets[0]); k++)
                        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                                vps_error e1 = {0}, e2 = {0};
                                assert_int_equal(unsetenv("VPS_TEST_NO_OPENAT2"), 0);
                                int a = vps_open_in_root_how(f->root_fd, paths[i], flag_sets[k], 0,
                                                             resolves[r], &e1);
                                assert_int_equal(setenv("VPS_TEST_NO_OPENAT2", "1", 1), 0);
                                int b = vps_open_in_root_how(f->root_fd, paths[i], flag_sets[k], 0,
                                                             resolves[r], &e2);
                                struct stat sa, sb;
                                bool same = (a < 0 && b < 0 && a == b) ||
                                            (a >= 0 && b >= 0 && fstat(a, &sa) == 0 &&
                                             fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
                                             sa.st_ino == sb.st_ino);
                                if (!same)
                                        fail_msg("'%s' flags %#x resolve %u: openat2 %d (%s), "
                                                 "walk %d (%s)",
                                                 paths[i], flag_sets[k], resolves[r], a, e1.msg, b,
                                                 e2.msg);
                                if (a >= 0)
                                        close(a);
                                if (b >= 0)
                                        close(b);
                        }
}

/* Each test twice, named "<test>/openat2" and "<test>/fallback". */
// clang-format off
#define BOTH(t)                                                         \
        {#t "/openat2", t, setup, teardown, &mode_openat2},             \
        {#t "/fallback", t, setup, teardown, &mode_fallback}
// clang-format on

int main(void)
{
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", NULL, 0);
        have_openat2 = !(fd < 0 && errno == ENOSYS);
        if (fd >= 0)
                close(fd);
        const struct CMUnitTest tests[] = {
                BOTH(test_open_plain),
                BOTH(test_absolute_symlink),
                BOTH(test_dotdot),
                BOTH(test_ensure_creates_inside),
                BOTH(test_ensure_never_outside),
                BOTH(test_no_symlinks),
                BOTH(test_xdev_and_magic_links),
                {"test_walk_matches_openat2", test_walk_matches_openat2, setup, teardown,
                 &mode_openat2},
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
