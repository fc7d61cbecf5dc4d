/* Unit tests: the file helpers of util.h: atomic writes, whole-file reads, rm -rf. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vps/util.h"

#include "tmpdir.h"

/* A plain file below t (vps_write_file_atomic takes a name, not a path). */
static void put(int dfd, const char *path, const char *text, mode_t mode)
{
        int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void test_write_atomic_replaces(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        const char *old = "old content, longer than the new one\n";
        assert_int_equal(vps_write_file_atomic(t->fd, "f", old, strlen(old), 0644, &err), 0);
        /* A hard link to the old file keeps the old content: the file was replaced, not
         * rewritten in place. */
        assert_int_equal(linkat(t->fd, "f", t->fd, "old", 0), 0);
        assert_int_equal(vps_write_file_atomic(t->fd, "f", "new", 3, 0644, &err), 0);

        char *text = NULL;
        size_t len = 0;
        assert_int_equal(vps_read_file_at(t->fd, "f", &text, &len, &err), 0);
        assert_int_equal(len, 3);
        assert_string_equal(text, "new");
        free(text);
        assert_int_equal(vps_read_file_at(t->fd, "old", &text, NULL, &err), 0);
        assert_string_equal(text, old);
        free(text);

        /* Larger than the first read buffer. */
        char big[10000];
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char)('a' + i % 26);
        assert_int_equal(vps_write_file_atomic(t->fd, "big", big, sizeof(big), 0600, &err), 0);
        assert_int_equal(vps_read_file_at(t->fd, "big", &text, &len, &err), 0);
        assert_int_equal(len, sizeof(big));
        assert_memory_equal(text, big, sizeof(big));
        assert_int_equal(text[len], '\0');
        free(text);
}

/* The mode is exactly the one asked for, whatever the umask. */
static void test_write_atomic_mode(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        struct stat st;
        mode_t old = umask(077);
        int r = vps_write_file_atomic(t->fd, "m", "x", 1, 0644, &err);
        umask(old);
        assert_int_equal(r, 0);
        assert_int_equal(fstatat(t->fd, "m", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(vps_write_file_atomic(t->fd, "m", "x", 1, 0600, &err), 0);
        assert_int_equal(fstatat(t->fd, "m", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_read_missing(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        char *text = NULL;
        assert_int_equal(vps_read_file_at(t->fd, "missing.json", &text, NULL, &err), -ENOENT);
        assert_int_equal(err.code, ENOENT);
        assert_null(text);
        assert_non_null(strstr(err.msg, "missing.json"));
}

static void test_rm_rf_keeps_symlink_target(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        assert_int_equal(mkdirat(t->fd, "outside", 0755), 0);
        put(t->fd, "outside/keep", "precious", 0644);
        assert_int_equal(mkdirat(t->fd, "tree", 0755), 0);
        assert_int_equal(mkdirat(t->fd, "tree/a", 0755), 0);
        assert_int_equal(mkdirat(t->fd, "tree/a/b", 0700), 0);
        put(t->fd, "tree/a/b/f", "x", 0600);
        put(t->fd, "tree/top", "y", 0000);
        assert_int_equal(symlinkat("../../outside", t->fd, "tree/a/dirlink"), 0);
        char abs[320];
        (void)snprintf(abs, sizeof(abs), "%s/outside/keep", t->path);
        assert_int_equal(symlinkat(abs, t->fd, "tree/a/b/filelink"), 0);

        assert_int_equal(vps_rm_rf_at(t->fd, "tree", &err), 0);
        struct stat st;
        assert_int_equal(fstatat(t->fd, "tree", &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(errno, ENOENT);
        char *text = NULL;
        assert_int_equal(vps_read_file_at(t->fd, "outside/keep", &text, NULL, &err), 0);
        assert_string_equal(text, "precious");
        free(text);
        /* A missing tree is not an error. */
        assert_int_equal(vps_rm_rf_at(t->fd, "tree", &err), 0);
}

/* A new directory "d" in fd, entered: its fd (fd is closed). */
static int down(int fd)
{
        assert_int_equal(mkdirat(fd, "d", 0755), 0);
        int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        close(fd);
        return next;
}

/* A guest's tree can be any shape: a chain far deeper than the fd limit (each level with a
 * file and an empty directory beside the way down), and a wide directory whose entries each
 * hold a subtree, removed with a handful of fds. */
static void test_rm_rf_deep_and_wide(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        enum { DEPTH = 3000, WIDE = 300 };
        assert_int_equal(mkdirat(t->fd, "tree", 0755), 0);
        int fd = openat(t->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (int i = 0; i < WIDE; i++) {
                char name[32];
                (void)snprintf(name, sizeof(name), "w%03d", i);
                assert_int_equal(mkdirat(fd, name, 0755), 0);
                (void)snprintf(name, sizeof(name), "w%03d/sub", i);
                assert_int_equal(mkdirat(fd, name, 0700), 0);
                (void)snprintf(name, sizeof(name), "w%03d/sub/f", i);
                put(fd, name, "x", 0600);
        }
        for (int i = 0; i < DEPTH; i++) {
                put(fd, "file", "x", 0000);
                assert_int_equal(mkdirat(fd, "empty", 0755), 0);
                fd = down(fd);
        }
        close(fd);
        struct rlimit old, low = {32, 32};
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        low.rlim_max = old.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        int r = vps_rm_rf_at(t->fd, "tree", &err);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        if (r < 0)
                fail_msg("%s", err.msg);
        struct stat st;
        assert_int_equal(fstatat(t->fd, "tree", &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(errno, ENOENT);
}

/* A trash rename: .del-TAG, then .del-TAG.1 while the first is still there, the content
 * moved whole; a missing name is -ENOENT, a name too long for ret refused before any rename. */
static void test_trash_rename(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        char got[64];
        assert_int_equal(mkdirat(t->fd, "a", 0700), 0);
        put(t->fd, "a/f", "x", 0600);
        assert_int_equal(vps_trash_rename(t->fd, "a", "upper", got, sizeof(got), &err), 0);
        assert_string_equal(got, VPS_TRASH_PREFIX "upper");
        struct stat st;
        assert_int_equal(fstatat(t->fd, ".del-upper/f", &st, 0), 0);
        assert_int_equal(fstatat(t->fd, "a", &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(mkdirat(t->fd, "a", 0700), 0);
        assert_int_equal(vps_trash_rename(t->fd, "a", "upper", got, sizeof(got), &err), 0);
        assert_string_equal(got, VPS_TRASH_PREFIX "upper.1");
        assert_int_equal(fstatat(t->fd, ".del-upper/f", &st, 0), 0); /* the first untouched */
        assert_int_equal(vps_trash_rename(t->fd, "a", "upper", got, sizeof(got), &err), -ENOENT);
        assert_int_equal(mkdirat(t->fd, "b", 0700), 0);
        char small[8];
        assert_int_equal(vps_trash_rename(t->fd, "b", "upper", small, sizeof(small), &err),
                         -ENAMETOOLONG);
        assert_int_equal(fstatat(t->fd, "b", &st, AT_SYMLINK_NOFOLLOW), 0);
}

/* A deadline stops the walk where it is (-ETIMEDOUT, the rest left in place) and a later
 * call finishes it; one in the future changes nothing. The caller is a loop: a guest's
 * tree must not hold it longer than it allows. */
static void test_rm_tree_deadline(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        assert_int_equal(mkdirat(t->fd, "tree", 0755), 0);
        int fd = openat(t->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (int i = 0; i < 500; i++) {
                put(fd, "file", "x", 0600);
                fd = down(fd);
        }
        close(fd);
        assert_int_equal(vps_deadline_after_ms(0), 0);
        /* Passed already (1 ns after the clock's start). */
        assert_int_equal(vps_rm_tree_until(t->fd, "tree", 0, 1, &err), -ETIMEDOUT);
        assert_int_equal(err.code, ETIMEDOUT);
        struct stat st;
        assert_int_equal(fstatat(t->fd, "tree/d", &st, AT_SYMLINK_NOFOLLOW), 0);
        int r = vps_rm_tree_until(t->fd, "tree", 0, vps_deadline_after_ms(60000), &err);
        if (r < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(fstatat(t->fd, "tree", &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(errno, ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_atomic_replaces, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_write_atomic_mode, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_read_missing, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_rm_rf_keeps_symlink_target, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_rm_rf_deep_and_wide, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_trash_rename, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_rm_tree_deadline, setup_dir, teardown_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
