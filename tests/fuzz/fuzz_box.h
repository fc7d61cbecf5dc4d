/* Shared by the fuzz targets that unpack into a scratch directory (fuzz_import, fuzz_backup):
 * the box (a directory of their own under TMPDIR) with the root inside it, emptied before each
 * input, and a sentinel file beside the root that no input may change or link to; all removed
 * at exit. */
#pragma once

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char box[PATH_MAX], rootdir[PATH_MAX], sentinel[PATH_MAX];

static void die(const char *what)
{
        perror(what);
        abort();
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st, (void)type;
        if (ftw->level > 0 || strcmp(p, box) != 0)
                (void)remove(p);
        return 0;
}

/* An empty root for the next input. */
static void clear_root(void)
{
        (void)nftw(rootdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        if (mkdir(rootdir, 0755) < 0)
                die("mkdir root");
}

/* At exit: the box and everything in it. */
static void cleanup(void)
{
        (void)nftw(box, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        (void)rmdir(box);
}

/* The box TMPDIR/fuzz-NAME.XXXXXX, its root's path and the sentinel "outside". */
static void box_make(const char *name)
{
        const char *tmp = getenv("TMPDIR");
        (void)snprintf(box, sizeof(box), "%s/fuzz-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
        if (!mkdtemp(box))
                die("mkdtemp");
        (void)snprintf(rootdir, sizeof(rootdir), "%s/root", box);
        (void)snprintf(sentinel, sizeof(sentinel), "%s/sentinel", box);
        FILE *f = fopen(sentinel, "w");
        if (!f || fputs("outside", f) < 0 || fclose(f) != 0)
                die("sentinel");
        atexit(cleanup);
}

/* The box holds root/, the sentinel (unchanged, one link) and the name extra (NULL: none),
 * and nothing else; target names the fuzzer in the message of an abort. */
static void box_check(const char *target, const char *extra)
{
        DIR *d = opendir(box);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                const char *n = de->d_name;
                if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "root") &&
                    strcmp(n, "sentinel") && !(extra && !strcmp(n, extra))) {
                        fprintf(stderr, "%s: '%s' written outside the root\n", target, n);
                        abort();
                }
        }
        if (d)
                closedir(d);
        char buf[16] = "";
        struct stat st;
        FILE *f = fopen(sentinel, "r");
        if (!f || !fgets(buf, sizeof(buf), f) || strcmp(buf, "outside") != 0 ||
            stat(sentinel, &st) < 0 || st.st_nlink != 1) {
                fprintf(stderr, "%s: the sentinel beside the root changed or got a link\n", target);
                abort();
        }
        fclose(f);
}
