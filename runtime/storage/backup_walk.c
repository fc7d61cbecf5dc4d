/* libvps: an incremental backup's walk of a tree, lstat only, by several threads. An
 * incremental of a tree that hardly changed spends most of its time in one fstatat per file
 * (the path lookup, in the kernel); the threads take directories from a shared stack, each
 * listing one (getdents, fstatat of each name, readlinkat of a symlink) and pushing the
 * subdirectories it finds. The caller then visits the result depth first: each entry in the
 * order its directory listed it, a directory's entries right after it. (libarchive's walk
 * lists a directory's entries before it enters any of its subdirectories: the MANIFEST of an
 * incremental lists the same entries in another order, which nothing depends on.)
 *
 * Directories are reached from their parent's fd (openat, O_NOFOLLOW), never by a path,
 * while fewer than FD_BUDGET are open and queued; past that a queued directory keeps no fd and
 * is reopened from the top with openat2 (beneath it, no symlink, no mount point crossed).
 * Such a reopen of a path too long for the kernel (PATH_MAX) fails (ENAMETOOLONG) and the
 * caller walks as before, one thread, in time linear in the tree (a reopen of each queued
 * directory by pieces would cost its depth each). A deep chain needs no reopen: paths of any
 * length are walked (their changed entries read through their directory, backup_src.c).
 * Mount points are listed, not entered.
 *
 * Memory: about 100 bytes a file plus its name, the buffers of each directory cut to fit once
 * it is listed; past WALK_MEM_MAX in all (a guest's millions of empty directories) the walk
 * gives up and the caller walks with libarchive, which holds one directory at a time. */
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FD_BUDGET    128
#define THREADS_MAX  4
#define WALK_MEM_MAX (256u << 20)

struct vps_bk_wnode {
        struct vps_bk_wnode *parent; /* NULL for the top */
        char *name;                  /* its own name (a copy), for a reopen by path */
        int fd;                      /* until listed; -1 when queued without one */
        char *names;                 /* the entries' names, each NUL-terminated */
        size_t names_len, names_cap;
        struct vps_bk_went *e;
        size_t n, cap;
        struct vps_bk_wnode *qnext;
};

static void entry_fill(struct vps_bk_went *e, const struct stat *st)
{
        e->mode = st->st_mode;
        e->uid = st->st_uid;
        e->gid = st->st_gid;
        e->size = (uint64_t)st->st_size;
        e->ino = st->st_ino;
        e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
        e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static void node_free(struct vps_bk_wnode *n)
{
        /* Iterative: a tree's depth is the guest's choice. Each node's subdirectories are
         * queued on a list through qnext before the node goes. */
        struct vps_bk_wnode *todo = n;
        if (n)
                n->qnext = NULL;
        while (todo) {
                struct vps_bk_wnode *cur = todo;
                todo = cur->qnext;
                for (size_t i = 0; i < cur->n; i++) {
                        free(cur->e[i].link);
                        if (cur->e[i].sub) {
                                cur->e[i].sub->qnext = todo;
                                todo = cur->e[i].sub;
                        }
                }
                if (cur->fd >= 0)
                        close(cur->fd);
                free(cur->names);
                free(cur->e);
                free(cur->name);
                free(cur);
        }
}

/* The queue: a stack (depth first keeps few directories queued), and how many are queued
 * or being listed. */
static void push(struct vps_bk_walk *w, struct vps_bk_wnode *n)
{
        pthread_mutex_lock(&w->mu);
        n->qnext = w->stack;
        w->stack = n;
        w->pending++;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
}

/* dir's path from the top, for a reopen: its names up the chain. */
static int reopen(struct vps_bk_walk *w, struct vps_bk_wnode *dir)
{
        char path[PATH_MAX];
        size_t len = 0;
        for (struct vps_bk_wnode *n = dir; n->parent; n = n->parent)
                len += strlen(n->name) + 1;
        if (len == 0 || len >= sizeof(path))
                return len == 0 ? -EINVAL : -ENAMETOOLONG;
        size_t at = len - 1; /* "a/b/c" and its NUL: len bytes */
        path[at] = '\0';
        for (struct vps_bk_wnode *n = dir; n->parent; n = n->parent) {
                size_t k = strlen(n->name);
                at -= k;
                memcpy(path + at, n->name, k);
                if (at > 0)
                        path[--at] = '/';
        }
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV |
                           RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int)vps_sys_openat2(w->top_fd, path, &how);
        return fd < 0 ? -errno : fd;
}

/* n more bytes held by the walk: -E2BIG past WALK_MEM_MAX. */
static int charge(struct vps_bk_walk *w, size_t n)
{
        return __atomic_add_fetch(&w->mem, n, __ATOMIC_RELAXED) > WALK_MEM_MAX ? -E2BIG : 0;
}

static int add_name(struct vps_bk_wnode *dir, const char *name, size_t len, size_t *ret_off)
{
        if (dir->names_len + len + 1 > dir->names_cap) {
                size_t cap = dir->names_cap ? dir->names_cap * 2 : 256;
                while (cap < dir->names_len + len + 1)
                        cap *= 2;
                char *p = realloc(dir->names, cap);
                if (!p)
                        return -ENOMEM;
                dir->names = p;
                dir->names_cap = cap;
        }
        memcpy(dir->names + dir->names_len, name, len + 1);
        *ret_off = dir->names_len;
        dir->names_len += len + 1;
        return 0;
}

static int add_entry(struct vps_bk_wnode *dir, struct vps_bk_went **ret)
{
        if (dir->n == dir->cap) {
                size_t cap = dir->cap ? dir->cap * 2 : 4;
                struct vps_bk_went *p = realloc(dir->e, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                dir->e = p;
                dir->cap = cap;
        }
        *ret = &dir->e[dir->n++];
        **ret = (struct vps_bk_went){0};
        return 0;
}

static int read_link(int dfd, const char *name, size_t size_hint, char **ret)
{
        size_t cap = size_hint + 1 > 64 ? size_hint + 1 : 64;
        for (;;) {
                char *buf = malloc(cap);
                if (!buf)
                        return -ENOMEM;
                ssize_t n = readlinkat(dfd, name, buf, cap);
                if (n < 0) {
                        int e = -errno;
                        free(buf);
                        return e;
                }
                if ((size_t)n < cap) {
                        buf[n] = '\0';
                        *ret = buf;
                        return 0;
                }
                free(buf);
                cap *= 2;
        }
}

/* A subdirectory found in dir: queued with an fd of its own while the budget lasts. */
static int queue_sub(struct vps_bk_walk *w, struct vps_bk_wnode *dir, int dfd, const char *name,
                     struct vps_bk_went *e)
{
        struct vps_bk_wnode *sub = calloc(1, sizeof(*sub));
        if (!sub)
                return -ENOMEM;
        sub->parent = dir;
        sub->fd = -1;
        sub->name = strdup(name);
        if (!sub->name) {
                free(sub);
                return -ENOMEM;
        }
        if (__atomic_add_fetch(&w->open_fds, 1, __ATOMIC_RELAXED) <= FD_BUDGET) {
                sub->fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub->fd < 0) {
                        int r = -errno;
                        __atomic_sub_fetch(&w->open_fds, 1, __ATOMIC_RELAXED);
                        free(sub->name);
                        free(sub);
                        return r;
                }
        } else {
                __atomic_sub_fetch(&w->open_fds, 1, __ATOMIC_RELAXED);
        }
        e->sub = sub;
        push(w, sub);
        return 0;
}

/* Lists dir: an entry per name, its subdirectories queued. */
static int list(struct vps_bk_walk *w, struct vps_bk_wnode *dir)
{
        int fd = dir->fd;
        dir->fd = -1;
        if (fd < 0)
                fd = reopen(w, dir);
        else
                __atomic_sub_fetch(&w->open_fds, 1, __ATOMIC_RELAXED);
        if (fd < 0)
                return fd;
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = 0;
        struct dirent *de;
        errno = 0;
        while (r == 0 && (de = readdir(d))) {
                const char *nm = de->d_name;
                if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        /* The merged root lists a whiteout of a directory with no lower
                         * part, which it cannot stat: not a file of the VPS. */
                        if (w->skip_unstatable)
                                continue;
                        r = -errno;
                        break;
                }
                struct vps_bk_went *e;
                size_t off, len = strlen(nm);
                if ((r = charge(w, sizeof(*e) + len + 1 + (S_ISDIR(st.st_mode) ? 160 : 0))) < 0 ||
                    (r = add_name(dir, nm, len, &off)) < 0 || (r = add_entry(dir, &e)) < 0)
                        break;
                e->name = off;
                entry_fill(e, &st);
                if (S_ISLNK(st.st_mode))
                        r = read_link(dirfd(d), nm, (size_t)st.st_size, &e->link);
                else if (S_ISDIR(st.st_mode) && st.st_dev == w->dev)
                        r = queue_sub(w, dir, dirfd(d), nm, e);
                errno = 0;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        /* Cut to fit: the tree is held until it is visited. */
        if (r == 0 && dir->names_cap > dir->names_len) {
                char *p = realloc(dir->names, dir->names_len ? dir->names_len : 1);
                if (p) {
                        dir->names = p;
                        dir->names_cap = dir->names_len;
                }
        }
        if (r == 0 && dir->cap > dir->n) {
                struct vps_bk_went *p = realloc(dir->e, (dir->n ? dir->n : 1) * sizeof(*p));
                if (p) {
                        dir->e = p;
                        dir->cap = dir->n;
                }
        }
        return r;
}

static void *worker(void *arg)
{
        struct vps_bk_walk *w = arg;
        pthread_mutex_lock(&w->mu);
        for (;;) {
                while (!w->stack && w->pending > 0 && w->error == 0)
                        pthread_cond_wait(&w->cv, &w->mu);
                if (!w->stack || w->error != 0)
                        break;
                struct vps_bk_wnode *dir = w->stack;
                w->stack = dir->qnext;
                dir->qnext = NULL;
                pthread_mutex_unlock(&w->mu);
                int r = list(w, dir);
                pthread_mutex_lock(&w->mu);
                if (r < 0 && w->error == 0)
                        w->error = r;
                if (--w->pending == 0 || r < 0)
                        pthread_cond_broadcast(&w->cv);
        }
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

int vps_bk_walk_start(struct vps_bk_walk *w, const char *top, bool skip_unstatable)
{
        *w = (struct vps_bk_walk){.top_fd = -1, .skip_unstatable = skip_unstatable};
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->started = true;
        w->top_fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (w->top_fd < 0 || fstat(w->top_fd, &st) < 0)
                return w->error = -errno;
        w->dev = st.st_dev;
        entry_fill(&w->top, &st);
        w->root = calloc(1, sizeof(*w->root));
        if (!w->root)
                return w->error = -ENOMEM;
        w->root->fd = fcntl(w->top_fd, F_DUPFD_CLOEXEC, 0);
        if (w->root->fd < 0)
                return w->error = -errno;
        w->open_fds = 1;
        w->top.sub = w->root;
        push(w, w->root);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int want = cpus < 1 ? 1 : cpus > THREADS_MAX ? THREADS_MAX : (int)cpus;
        for (int i = 0; i < want; i++) {
                if (pthread_create(&w->threads[w->nthreads], NULL, worker, w) != 0)
                        break;
                w->nthreads++;
        }
        return 0;
}

int vps_bk_walk_finish(struct vps_bk_walk *w)
{
        if (w->nthreads == 0 && w->error == 0)
                (void)worker(w); /* no thread could be made: this one walks */
        for (int i = 0; i < w->nthreads; i++)
                pthread_join(w->threads[i], NULL);
        w->nthreads = 0;
        return w->error;
}

void vps_bk_walk_free(struct vps_bk_walk *w)
{
        if (!w->started)
                return;
        (void)vps_bk_walk_finish(w);
        node_free(w->root);
        w->root = NULL;
        if (w->top_fd >= 0)
                close(w->top_fd);
        w->top_fd = -1;
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        w->started = false;
}

struct vps_bk_walk *vps_backup_walk_begin(const char *upper_path)
{
        struct vps_bk_walk *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->top_fd = -1;
        (void)vps_bk_walk_start(w, upper_path, false); /* not started: walked later, as before */
        return w;
}

void vps_backup_walk_free(struct vps_bk_walk *w)
{
        if (!w)
                return;
        vps_bk_walk_free(w);
        free(w);
}

const char *vps_bk_wnode_name(const struct vps_bk_wnode *n, const struct vps_bk_went *e)
{
        return n->names + e->name;
}

size_t vps_bk_wnode_count(const struct vps_bk_wnode *n)
{
        return n->n;
}

const struct vps_bk_went *vps_bk_wnode_entry(const struct vps_bk_wnode *n, size_t i)
{
        return &n->e[i];
}
