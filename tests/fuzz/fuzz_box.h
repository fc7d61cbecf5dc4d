/* Shared by the fuzz targets that unpack into a scratch directory (fuzz_import, fuzz_backup):
 * the box (a directory of their own under TMPDIR) and the root inside it, emptied before each
 * input, and removed at exit. The target fills in box and rootdir. */
#pragma once

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char box[PATH_MAX], rootdir[PATH_MAX];

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
