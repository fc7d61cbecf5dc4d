/* Unit test fixture shared by the file tests: a fresh temporary directory per test, removed
 * with everything in it afterwards. Include after <cmocka.h>. */
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct tmpdir {
        char path[256];
        int fd;
};

static inline int setup_dir(void **state)
{
        struct tmpdir *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        const char *base = getenv("TMPDIR");
        (void)snprintf(t->path, sizeof(t->path), "%s/vps-unit-XXXXXX", base ? base : "/tmp");
        assert_non_null(mkdtemp(t->path));
        t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(t->fd >= 0);
        *state = t;
        return 0;
}

static inline int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        return remove(path);
}

static inline int teardown_dir(void **state)
{
        struct tmpdir *t = *state;
        close(t->fd);
        int r = nftw(t->path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(t);
        return r;
}
