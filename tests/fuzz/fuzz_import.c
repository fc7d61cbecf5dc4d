/* libFuzzer target: the template importer (runtime/template/template_import.c, libarchive) over any
 * bytes as an archive. Whatever the archive holds ("../" and absolute paths, links out of the
 * tree, device nodes, hard links to outside), nothing may appear outside the staging root,
 * and the sentinel beside it must stay as it was, with no second link to it.
 *
 *   TMP/box/root/        the staging root, emptied after each input
 *   TMP/box/sentinel     "outside"
 *   TMP/box/in.tar       the input
 *
 * Also watched, as the hostile seed aims there: TMP itself (its "up" link is ../.., so
 * "up/sentinel" lands in TMP: no new name may appear there when $TMPDIR is set, as
 * tests/fuzz/run sets a private one), and TMP/sentinel, /tmp/through ("out" -> /tmp) and
 * /abs, which must not appear or change.
 *
 * The tree is made once per process under $TMPDIR and removed at a normal exit. */
#include "template/template.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_box.h"

static char input[PATH_MAX];
static char tmpdir[PATH_MAX];
static bool watch_tmpdir;

/* A path outside the box as it was at setup: absent, or this file. */
struct watched {
        char path[PATH_MAX];
        bool existed;
        struct stat st;
};
static struct watched watched[3];

/* The names in TMP at setup (the box included), sorted. */
static char **tmp_names;
static size_t n_tmp_names;

static int cmp_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_tmp_names(void)
{
        DIR *d = opendir(tmpdir);
        struct dirent *de;
        if (!d)
                die("opendir TMPDIR");
        while ((de = readdir(d))) {
                char **grown = realloc(tmp_names, (n_tmp_names + 1) * sizeof(*tmp_names));
                if (!grown || !(grown[n_tmp_names] = strdup(de->d_name)))
                        die("reading TMPDIR");
                tmp_names = grown;
                n_tmp_names++;
        }
        closedir(d);
        qsort(tmp_names, n_tmp_names, sizeof(*tmp_names), cmp_name);
}

static void setup(void)
{
        const char *tmp = getenv("TMPDIR");
        box_make("import");
        (void)snprintf(input, sizeof(input), "%s/in.tar", box);
        (void)snprintf(tmpdir, sizeof(tmpdir), "%s", tmp && *tmp ? tmp : "/tmp");
        watch_tmpdir = tmp && *tmp && strcmp(tmp, "/tmp") != 0;
        const char *paths[] = {"%s/sentinel", "/tmp/through", "/abs"};
        for (size_t i = 0; i < sizeof(watched) / sizeof(watched[0]); i++) {
                (void)snprintf(watched[i].path, sizeof(watched[i].path), paths[i], tmpdir);
                watched[i].existed = lstat(watched[i].path, &watched[i].st) == 0;
        }
        if (watch_tmpdir)
                read_tmp_names();
}

static void check_watched(void)
{
        for (size_t i = 0; i < sizeof(watched) / sizeof(watched[0]); i++) {
                struct stat st;
                bool exists = lstat(watched[i].path, &st) == 0;
                if (exists != watched[i].existed ||
                    (exists &&
                     (st.st_ino != watched[i].st.st_ino || st.st_size != watched[i].st.st_size ||
                      st.st_mtim.tv_sec != watched[i].st.st_mtim.tv_sec ||
                      st.st_mtim.tv_nsec != watched[i].st.st_mtim.tv_nsec))) {
                        fprintf(stderr, "fuzz_import: %s %s outside the root\n", watched[i].path,
                                !exists              ? "removed"
                                : watched[i].existed ? "changed"
                                                     : "appeared");
                        abort();
                }
        }
        DIR *d = watch_tmpdir ? opendir(tmpdir) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                const char *n = de->d_name;
                if (!bsearch(&n, tmp_names, n_tmp_names, sizeof(*tmp_names), cmp_name)) {
                        fprintf(stderr, "fuzz_import: '%s/%s' written outside the root\n", tmpdir,
                                n);
                        abort();
                }
        }
        if (d)
                closedir(d);
}

/* The box holds root/, the input and the sentinel, and nothing else. */
static void check_box(void)
{
        box_check("fuzz_import", "in.tar");
        check_watched();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!box[0])
                setup();
        FILE *f = fopen(input, "w");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
                die("writing the input");
        clear_root();
        int fd = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                die("open root");
        int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        unsigned int entries = 0, refused = 0;
        vps_error err;
        (void)vps_template_extract(input, fd, NULL, NULL, &entries, &refused, &err);
        /* The importer works from inside the root: make sure we are back. */
        if (cwd >= 0 && fchdir(cwd) < 0)
                die("fchdir");
        close(fd);
        if (cwd >= 0)
                close(cwd);
        check_box();
        return 0;
}
