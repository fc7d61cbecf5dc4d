/* Unit tests: a migration's checkpoint images (checkpoint/images.c): the names taken, the
 * receiver's refusals (a hostile stream), a send into a receive, and the user namespace image
 * written with vpsd's range (its bytes checked against protoc --decode of criu's userns.proto). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint/checkpoint.h"
#include "vps/util.h"

static void test_names(void **state)
{
        (void)state;
        assert_true(vps_checkpoint_name_ok("pages-1.img"));
        assert_true(vps_checkpoint_name_ok("userns-11.img"));
        assert_true(vps_checkpoint_name_ok(VPS_CHECKPOINT_META));
        const char *bad[] = {
                "",       ".img",   "../x.img",     "a/b.img", "dump.log",     "criu.out",
                ".x.img", "x.img/", "restored.pid", "x y.img", "pages-1.img\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(vps_checkpoint_name_ok(bad[i]));
        char longname[80];
        memset(longname, 'a', 70);
        strcpy(longname + 70, ".img");
        assert_false(vps_checkpoint_name_ok(longname));
}

static int tmpdir(char *path)
{
        strcpy(path, "/tmp/vps-unit-ckpt.XXXXXX");
        assert_non_null(mkdtemp(path));
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void rm_tree(const char *path)
{
        char cmd[300];
        (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        assert_int_equal(system(cmd), 0);
}

static int put(struct vps_checkpoint_rx *rx, const char *name, const char *data, vps_error *err)
{
        char piece[256];
        size_t nl = strlen(name) + 1;
        memcpy(piece, name, nl);
        memcpy(piece + nl, data, strlen(data));
        return vps_checkpoint_rx_put(rx, piece, nl + strlen(data), err);
}

static void test_receive_refusals(void **state)
{
        (void)state;
        char path[64];
        int dfd = tmpdir(path);
        struct vps_checkpoint_rx rx;
        vps_error err = {0};
        assert_int_equal(vps_checkpoint_rx_begin(&rx, dfd, &err), 0);
        struct stat st;
        assert_int_equal(fstatat(dfd, VPS_CHECKPOINT_DIR, &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        /* a bad name, a piece without a name's end */
        assert_int_equal(put(&rx, "../evil.img", "x", &err), -EPERM);
        assert_int_equal(vps_checkpoint_rx_put(&rx, "abc", 3, &err), -EPERM);
        assert_int_equal(put(&rx, "a.img", "12", &err), 0);
        assert_int_equal(put(&rx, "a.img", "34", &err), 0); /* the same file goes on */
        assert_int_equal(put(&rx, "b.img", "", &err), 0);
        /* a name closed before: refused (O_EXCL), not overwritten */
        assert_int_equal(put(&rx, "a.img", "zz", &err), -EEXIST);
        /* a symlink planted in the directory is not followed */
        assert_int_equal(symlinkat("/etc/passwd", rx.dir, "c.img"), 0);
        assert_int_equal(put(&rx, "c.img", "x", &err), -EEXIST);
        int img = openat(dfd, VPS_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char buf[16] = "";
        int f = openat(img, "a.img", O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(f, buf, sizeof(buf)), 4);
        assert_string_equal(buf, "1234");
        assert_int_equal(fstat(f, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644); /* criu's CR_FD_PERM, in a 0700 dir */
        close(f);
        /* not whole without vpsd's meta */
        assert_int_equal(vps_checkpoint_rx_end(&rx, &err), -EBADMSG);
        close(img);
        close(dfd);
        rm_tree(path);
        /* a directory that exists already is refused */
        dfd = tmpdir(path);
        assert_int_equal(mkdirat(dfd, VPS_CHECKPOINT_DIR, 0755), 0);
        assert_int_equal(vps_checkpoint_rx_begin(&rx, dfd, &err), -EEXIST);
        close(dfd);
        rm_tree(path);
}

struct pass {
        struct vps_checkpoint_rx *rx;
        unsigned int pieces;
};

static int into_rx(void *arg, const void *piece, size_t len, vps_error *err)
{
        struct pass *p = arg;
        p->pieces++;
        return vps_checkpoint_rx_put(p->rx, piece, len, err);
}

/* A source directory with an empty images' directory (its fd returned) and a destination. */
static int two_dirs(char *src, char *dst, int *ret_sfd, int *ret_dfd)
{
        *ret_sfd = tmpdir(src);
        *ret_dfd = tmpdir(dst);
        assert_int_equal(mkdirat(*ret_sfd, VPS_CHECKPOINT_DIR, 0700), 0);
        int img = openat(*ret_sfd, VPS_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(img >= 0);
        return img;
}

static void test_send_receive(void **state)
{
        (void)state;
        char src[64], dst[64];
        int sfd, dfd, img = two_dirs(src, dst, &sfd, &dfd);
        vps_error err = {0};
        size_t big = 3 * VPS_CHECKPOINT_CHUNK + 5;
        char *data = malloc(big);
        assert_non_null(data);
        for (size_t i = 0; i < big; i++)
                data[i] = (char)(i * 7);
        assert_int_equal(vps_write_file_atomic(img, "pages-1.img", data, big, 0600, &err), 0);
        assert_int_equal(vps_write_file_atomic(img, "empty.img", "", 0, 0600, &err), 0);
        assert_int_equal(vps_write_file_atomic(img, VPS_CHECKPOINT_META, "{}", 2, 0600, &err), 0);
        /* criu's log and the pidfile stay behind */
        assert_int_equal(vps_write_file_atomic(img, "dump.log", "log", 3, 0600, &err), 0);
        assert_int_equal(vps_write_file_atomic(img, "restored.pid", "1", 1, 0600, &err), 0);
        struct vps_checkpoint_rx rx;
        assert_int_equal(vps_checkpoint_rx_begin(&rx, dfd, &err), 0);
        struct pass p = {.rx = &rx};
        uint64_t bytes = 0;
        assert_int_equal(vps_checkpoint_send(sfd, into_rx, &p, &bytes, &err), 0);
        assert_int_equal(bytes, big + 2);
        assert_int_equal(p.pieces, 4 + 1 + 1);
        assert_int_equal(vps_checkpoint_rx_end(&rx, &err), 0);
        char *got = NULL;
        size_t len = 0;
        assert_int_equal(vps_read_file_at(dfd, VPS_CHECKPOINT_DIR "/pages-1.img", &got, &len, &err),
                         0);
        assert_int_equal(len, big);
        assert_memory_equal(got, data, big);
        free(got);
        assert_int_not_equal(faccessat(dfd, VPS_CHECKPOINT_DIR "/empty.img", F_OK, 0), -1);
        assert_int_equal(faccessat(dfd, VPS_CHECKPOINT_DIR "/dump.log", F_OK, 0), -1);
        assert_int_equal(faccessat(dfd, VPS_CHECKPOINT_DIR "/restored.pid", F_OK, 0), -1);
        free(data);
        close(img);
        close(sfd);
        close(dfd);
        rm_tree(src);
        rm_tree(dst);
}

/* A pre-copy's rounds go as "pre-K/NAME" and come back linked as criu linked them. */
static void test_rounds(void **state)
{
        (void)state;
        char src[64], dst[64];
        int sfd, dfd, img = two_dirs(src, dst, &sfd, &dfd);
        vps_error err = {0};
        assert_int_equal(mkdirat(img, "pre-1", 0700), 0);
        assert_int_equal(mkdirat(img, "pre-2", 0700), 0);
        int p1 = openat(img, "pre-1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int p2 = openat(img, "pre-2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(vps_write_file_atomic(p1, "pages-1.img", "one", 3, 0644, &err), 0);
        assert_int_equal(vps_write_file_atomic(p2, "pages-1.img", "two", 3, 0644, &err), 0);
        close(p1);
        close(p2);
        assert_int_equal(symlinkat("../pre-1", img, "pre-2/parent"), 0);
        assert_int_equal(symlinkat("pre-2", img, "parent"), 0);
        assert_int_equal(vps_write_file_atomic(img, VPS_CHECKPOINT_META, "{}", 2, 0600, &err), 0);
        struct vps_checkpoint_rx rx;
        assert_int_equal(vps_checkpoint_rx_begin(&rx, dfd, &err), 0);
        struct pass p = {.rx = &rx};
        uint64_t bytes = 0;
        assert_int_equal(vps_checkpoint_send(sfd, into_rx, &p, &bytes, &err), 0);
        assert_int_equal(p.pieces, 3);
        assert_int_equal(vps_checkpoint_rx_end(&rx, &err), 0);
        char link[32] = "";
        assert_true(readlinkat(dfd, VPS_CHECKPOINT_DIR "/parent", link, sizeof(link) - 1) > 0);
        assert_string_equal(link, "pre-2");
        memset(link, 0, sizeof(link));
        assert_true(readlinkat(dfd, VPS_CHECKPOINT_DIR "/pre-2/parent", link, sizeof(link) - 1) >
                    0);
        assert_string_equal(link, "../pre-1");
        char *got = NULL;
        size_t len = 0;
        assert_int_equal(
                vps_read_file_at(dfd, VPS_CHECKPOINT_DIR "/pre-1/pages-1.img", &got, &len, &err),
                0);
        assert_memory_equal(got, "one", 3);
        free(got);
        close(img);
        close(sfd);
        close(dfd);
        rm_tree(src);
        rm_tree(dst);
        /* Names a round may not have; a round missing from the chain. */
        dfd = tmpdir(dst);
        assert_int_equal(vps_checkpoint_rx_begin(&rx, dfd, &err), 0);
        const char *bad[] = {"pre-9/a.img",  "pre-0/a.img", "pre-1/../a.img", "pre-1/s/a.img",
                             "pre-1/parent", "pre-x/a.img", "pre-1a.img"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(put(&rx, bad[i], "x", &err), -EPERM);
        assert_int_equal(put(&rx, "pre-2/a.img", "x", &err), 0);
        assert_int_equal(put(&rx, VPS_CHECKPOINT_META, "{}", &err), 0);
        assert_int_equal(vps_checkpoint_rx_end(&rx, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "round 1 is missing"));
        close(dfd);
        rm_tree(dst);
}

/* userns_entry {uid_map {0 165536 65536} gid_map {0 165536 65536}}, as protoc encodes it. */
static const uint8_t want_body[] = {0x0a, 0x0a, 0x08, 0x00, 0x10, 0xa0, 0x8d, 0x0a,
                                    0x18, 0x80, 0x80, 0x04, 0x12, 0x0a, 0x08, 0x00,
                                    0x10, 0xa0, 0x8d, 0x0a, 0x18, 0x80, 0x80, 0x04};

static void test_userns(void **state)
{
        (void)state;
        uint8_t buf[128];
        size_t n = vps_checkpoint_userns_entry(buf, true, 165536, 65536);
        assert_int_equal(n, 8 + 4 + sizeof(want_body));
        const uint32_t magic[2] = {0x54564319u, 0x55474906u};
        assert_memory_equal(buf, magic, 8);
        uint32_t len;
        memcpy(&len, buf + 8, 4);
        assert_int_equal(len, sizeof(want_body));
        assert_memory_equal(buf + 12, want_body, sizeof(want_body));
        /* An image that maps the VPS's root to host root is rewritten to vpsd's range. */
        char path[64];
        int dfd = tmpdir(path);
        vps_error err = {0};
        uint8_t hostile[128];
        size_t hn = vps_checkpoint_userns_entry(hostile, true, 0, 65536);
        assert_int_equal(vps_write_file_atomic(dfd, "userns-11.img", hostile, hn, 0600, &err), 0);
        assert_int_equal(vps_checkpoint_own_userns(dfd, 165536, 65536, &err), 0);
        char *got = NULL;
        size_t glen = 0;
        assert_int_equal(vps_read_file_at(dfd, "userns-11.img", &got, &glen, &err), 0);
        assert_int_equal(glen, n);
        assert_memory_equal(got, buf, n);
        free(got);
        struct stat st;
        assert_int_equal(fstatat(dfd, "userns-11.img", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        /* not criu's image: refused */
        assert_int_equal(vps_write_file_atomic(dfd, "userns-12.img", "nonsense", 8, 0600, &err), 0);
        assert_int_equal(vps_checkpoint_own_userns(dfd, 165536, 65536, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "userns-12.img"));
        close(dfd);
        rm_tree(path);
        /* none at all: refused */
        dfd = tmpdir(path);
        assert_int_equal(vps_checkpoint_own_userns(dfd, 165536, 65536, &err), -EBADMSG);
        close(dfd);
        rm_tree(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),        cmocka_unit_test(test_receive_refusals),
                cmocka_unit_test(test_send_receive), cmocka_unit_test(test_rounds),
                cmocka_unit_test(test_userns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
