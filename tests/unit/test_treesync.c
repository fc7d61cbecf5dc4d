/* Unit tests of the live tree copy (vps_tree_copy_live, then vps_tree_copy_catch_up): after
 * the catch-up the copy is exact, hard-link groups included, whatever a writer did while the
 * first pass ran, holes of sparse files kept. Root: the copy reopens hard links by file handle
 * (CAP_DAC_READ_SEARCH). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage/storage.h"
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRS  8
#define FILES 60

static void write_file(const char *path, size_t size, unsigned seed)
{
        char buf[4096];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char)(seed * 31 + i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        for (size_t left = size; left > 0;) {
                size_t n = left < sizeof(buf) ? left : sizeof(buf);
                assert_int_equal(write(fd, buf, n), (ssize_t)n);
                left -= n;
        }
        close(fd);
}

static void make_tree(const char *src)
{
        char p[512];
        assert_int_equal(mkdir(src, 0755), 0);
        for (int d = 0; d < DIRS; d++) {
                (void)snprintf(p, sizeof(p), "%s/d%d", src, d);
                assert_int_equal(mkdir(p, 0755), 0);
                for (int f = 0; f < FILES; f++) {
                        (void)snprintf(p, sizeof(p), "%s/d%d/f%d", src, d, f);
                        write_file(p, (size_t)(f % 5) * 1000 + 10, (unsigned)(d * FILES + f));
                }
        }
}

static int open_dir(const char *p)
{
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

/* Pairs of source and copy inodes met so far: each source inode has one copy and no copy
 * serves two source inodes. */
struct inomap {
        ino_t src[8192], dst[8192];
        size_t n;
};

static void ino_pair(struct inomap *m, ino_t s, ino_t d, const char *path)
{
        for (size_t i = 0; i < m->n; i++) {
                if (m->src[i] == s || m->dst[i] == d) {
                        if (m->src[i] != s || m->dst[i] != d)
                                fail_msg("%s: hard links of the source and the copy differ", path);
                        return;
                }
        }
        assert_true(m->n < 8192);
        m->src[m->n] = s;
        m->dst[m->n++] = d;
}

static void same_data(const char *a, const char *b)
{
        char x[8192], y[8192];
        int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
        assert_true(fa >= 0 && fb >= 0);
        for (;;) {
                ssize_t na = read(fa, x, sizeof(x)), nb = read(fb, y, sizeof(y));
                if (na != nb || memcmp(x, y, (size_t)na) != 0)
                        fail_msg("%s: its copy has other data", a);
                if (na <= 0)
                        break;
        }
        close(fa);
        close(fb);
}

/* Both ways: every entry of src is in dst, the same, and dst has nothing else. */
static void same_tree(const char *src, const char *dst, struct inomap *m)
{
        DIR *d = opendir(src);
        assert_non_null(d);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                char a[512], b[512];
                (void)snprintf(a, sizeof(a), "%s/%s", src, de->d_name);
                (void)snprintf(b, sizeof(b), "%s/%s", dst, de->d_name);
                struct stat sa, sb;
                assert_int_equal(lstat(a, &sa), 0);
                if (lstat(b, &sb) < 0)
                        fail_msg("%s: not in the copy", a);
                if (sa.st_mode != sb.st_mode || sa.st_size != sb.st_size ||
                    sa.st_nlink != sb.st_nlink || sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
                    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
                        fail_msg("%s: mode %o/%o size %lld/%lld links %lu/%lu", a, sa.st_mode,
                                 sb.st_mode, (long long)sa.st_size, (long long)sb.st_size,
                                 (unsigned long)sa.st_nlink, (unsigned long)sb.st_nlink);
                if (S_ISDIR(sa.st_mode)) {
                        same_tree(a, b, m);
                } else {
                        ino_pair(m, sa.st_ino, sb.st_ino, a);
                        same_data(a, b);
                }
                n++;
        }
        closedir(d);
        d = opendir(dst);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n--;
        closedir(d);
        if (n != 0)
                fail_msg("%s: the copy has entries the source has not", dst);
}

static void live_copy(const char *src, const char *dst, void (*between)(const char *, void *),
                      void *arg)
{
        assert_int_equal(mkdir(dst, 0755), 0);
        int s = open_dir(src), d = open_dir(dst);
        struct vps_copy_opts o = {.no_reflink = true};
        struct vps_live_copy *lc = NULL;
        vps_error err = {0};
        if (vps_tree_copy_live(s, d, &o, &lc, &err) < 0)
                fail_msg("live copy: %s", err.msg);
        if (between)
                between(src, arg);
        struct vps_copy_stats st;
        if (vps_tree_copy_catch_up(lc, &st, &err) < 0)
                fail_msg("catch-up: %s", err.msg);
        vps_live_copy_free(lc);
        close(s);
        close(d);
}

static void check_copy(const char *src, const char *dst)
{
        static struct inomap m;
        m.n = 0;
        same_tree(src, dst, &m);
}

/* Changes between the passes, one of each kind a guest makes to hard links. */
static void relink(const char *src, void *arg)
{
        (void)arg;
        char a[512], b[512];
        (void)snprintf(a, sizeof(a), "%s/d0/f1", src);
        (void)snprintf(b, sizeof(b), "%s/d0/l1", src); /* a second name: nlink 1 -> 2 */
        assert_int_equal(link(a, b), 0);
        (void)snprintf(b, sizeof(b), "%s/d1/l1", src); /* a third, elsewhere */
        assert_int_equal(link(a, b), 0);
        (void)snprintf(a, sizeof(a), "%s/d0/f2", src);
        (void)snprintf(b, sizeof(b), "%s/d0/f3", src); /* f3 now the inode of f2 */
        assert_int_equal(rename(a, b), 0);
        (void)snprintf(a, sizeof(a), "%s/d2/f4", src);
        (void)snprintf(b, sizeof(b), "%s/d2/f5", src);
        assert_int_equal(link(a, b) == 0 || errno == EEXIST, 1);
}

static void test_links_between_passes(void **state)
{
        struct tmpdir *t = *state;
        char src[300], dst[300], a[512], b[512];
        (void)snprintf(src, sizeof(src), "%s/src", t->path);
        (void)snprintf(dst, sizeof(dst), "%s/dst", t->path);
        make_tree(src);
        /* a group before the first pass, split and regrouped between the passes */
        (void)snprintf(a, sizeof(a), "%s/d3/f0", src);
        (void)snprintf(b, sizeof(b), "%s/d3/g0", src);
        assert_int_equal(link(a, b), 0);
        live_copy(src, dst, relink, NULL);
        check_copy(src, dst);
}

/* A writer that links, unlinks, renames, rewrites and chmods while the first pass runs. */
struct writer {
        const char *src;
        atomic_bool stop;
        unsigned seed;
        unsigned ops, linked;
        pthread_t th;
};

static void *write_loop(void *arg)
{
        struct writer *w = arg;
        char a[512], b[512];
        for (unsigned k = 0; !atomic_load(&w->stop); k++) {
                int da = (int)(rand_r(&w->seed) % DIRS), db = (int)(rand_r(&w->seed) % DIRS);
                int fa = (int)(rand_r(&w->seed) % FILES), fb = (int)(rand_r(&w->seed) % FILES);
                (void)snprintf(a, sizeof(a), "%s/d%d/f%d", w->src, da, fa);
                (void)snprintf(b, sizeof(b), "%s/d%d/f%d", w->src, db, fb);
                switch (k % 6) {
                case 0:
                        (void)unlink(b);
                        w->linked += link(a, b) == 0;
                        break;
                case 1:
                        w->linked += link(a, b) == 0;
                        break;
                case 2:
                        (void)rename(a, b);
                        break;
                case 3:
                        (void)unlink(a);
                        break;
                case 4:
                        write_file(a, (size_t)(k % 3000), k);
                        break;
                default:
                        (void)chmod(a, 0600 + k % 64);
                }
                w->ops++;
        }
        return NULL;
}

static void stop_writer(const char *src, void *arg)
{
        (void)src;
        struct writer *w = arg;
        atomic_store(&w->stop, true);
        assert_int_equal(pthread_join(w->th, NULL), 0); /* the tree is still from here on */
}

static void test_writer_during_first_pass(void **state)
{
        struct tmpdir *t = *state;
        int rounds = getenv("VPS_TEST_FULL") ? 400 : 60;
        unsigned ops = 0, linked = 0;
        for (int i = 0; i < rounds; i++) {
                char src[300], dst[300];
                (void)snprintf(src, sizeof(src), "%s/src%d", t->path, i);
                (void)snprintf(dst, sizeof(dst), "%s/dst%d", t->path, i);
                make_tree(src);
                struct writer w = {.src = src, .seed = (unsigned)i * 7919u + 1};
                assert_int_equal(pthread_create(&w.th, NULL, write_loop, &w), 0);
                live_copy(src, dst, stop_writer, &w);
                ops += w.ops;
                linked += w.linked;
                check_copy(src, dst);
        }
        print_message("%u changes during the first passes, %u of them new links\n", ops, linked);
        assert_true(linked > 0);
}

/* A sparse file: 64 MiB with 4 KiB of data at 1 MiB and at 40 MiB. */
static void make_sparse(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        char buf[4096];
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(pwrite(fd, buf, sizeof(buf), 1 << 20), (ssize_t)sizeof(buf));
        assert_int_equal(pwrite(fd, buf, sizeof(buf), 40 << 20), (ssize_t)sizeof(buf));
        assert_int_equal(ftruncate(fd, 64 << 20), 0);
        close(fd);
}

/* Its data extents (SEEK_DATA/SEEK_HOLE) as text, and its allocated blocks. */
static void extents(const char *path, char *out, size_t size, blkcnt_t *blocks)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        *blocks = st.st_blocks;
        size_t len = 0;
        out[0] = '\0';
        for (off_t pos = 0; pos < st.st_size;) {
                off_t data = lseek(fd, pos, SEEK_DATA);
                if (data < 0)
                        break;
                off_t hole = lseek(fd, data, SEEK_HOLE);
                assert_true(hole > data);
                len += (size_t)snprintf(out + len, size - len, "%lld-%lld,", (long long)data,
                                        (long long)hole);
                pos = hole;
        }
        close(fd);
}

static void same_holes(const char *a, const char *b)
{
        char ea[256], eb[256];
        blkcnt_t ba, bb;
        extents(a, ea, sizeof(ea), &ba);
        extents(b, eb, sizeof(eb), &bb);
        assert_string_equal(ea, eb);
        assert_int_equal(ba, bb);
        assert_true(bb < 1024); /* 8 KiB of data, not 64 MiB of zeros */
}

static void sparse_between(const char *src, void *arg)
{
        (void)arg;
        char p[512];
        (void)snprintf(p, sizeof(p), "%s/d1/later", src); /* copied by the catch-up */
        make_sparse(p);
}

/* A running VPS's sparse files (its backup and snapshot copy its upper layer this way):
 * holes stay holes, in the first pass and in the catch-up, without reflinks. */
static void test_holes_kept(void **state)
{
        struct tmpdir *t = *state;
        char src[300], dst[300], a[512], b[512];
        (void)snprintf(src, sizeof(src), "%s/src", t->path);
        (void)snprintf(dst, sizeof(dst), "%s/dst", t->path);
        make_tree(src);
        (void)snprintf(a, sizeof(a), "%s/d0/sparse", src);
        make_sparse(a);
        live_copy(src, dst, sparse_between, NULL);
        check_copy(src, dst);
        (void)snprintf(b, sizeof(b), "%s/d0/sparse", dst);
        same_holes(a, b);
        (void)snprintf(a, sizeof(a), "%s/d1/later", src);
        (void)snprintf(b, sizeof(b), "%s/d1/later", dst);
        same_holes(a, b);
}

/* The copy's opens go through here (linked with --wrap=openat): the name in swap_name is made
 * a fifo just before its open, as a running guest can between the walk's stat and the open. */
static const char *swap_name;
int __real_openat(int dfd, const char *path, int flags, ...);
int __wrap_openat(int dfd, const char *path, int flags, ...);
int __wrap_openat(int dfd, const char *path, int flags, ...)
{
        mode_t mode = 0;
        if (flags & (O_CREAT | O_TMPFILE)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        if (swap_name && !strcmp(path, swap_name) && !(flags & (O_PATH | O_DIRECTORY | O_CREAT))) {
                swap_name = NULL;
                assert_int_equal(unlinkat(dfd, path, 0), 0);
                assert_int_equal(mkfifoat(dfd, path, 0600), 0);
        }
        return __real_openat(dfd, path, flags, mode);
}

/* A fifo where the walk saw a file: the first pass skips it at once (O_NONBLOCK, then checked:
 * it never waits for a writer the guest never brings, which hung the snapshot, backup or
 * clone), and the catch-up copies the fifo as the fifo it now is. */
static void test_fifo_swapped_in(void **state)
{
        struct tmpdir *t = *state;
        char src[300], dst[300], a[512];
        (void)snprintf(src, sizeof(src), "%s/src", t->path);
        (void)snprintf(dst, sizeof(dst), "%s/dst", t->path);
        make_tree(src);
        (void)snprintf(a, sizeof(a), "%s/d0/victim", src);
        write_file(a, 100, 1);
        swap_name = "victim";
        alarm(10); /* the old copy waited here for ever: SIGALRM fails the test */
        live_copy(src, dst, NULL, NULL);
        alarm(0);
        assert_null(swap_name);
        struct stat st;
        (void)snprintf(a, sizeof(a), "%s/d0/victim", dst);
        assert_int_equal(lstat(a, &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
}

static int setup_root(void **state)
{
        if (geteuid() != 0) {
                print_message("the live copy reopens hard links by handle: root only\n");
                exit(77);
        }
        return setup_dir(state);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_links_between_passes, setup_root,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_writer_during_first_pass, setup_root,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_holes_kept, setup_root, teardown_dir),
                cmocka_unit_test_setup_teardown(test_fifo_swapped_in, setup_root, teardown_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
