/* libvps: removing a tree of any depth (a destroyed VPS's directory, a VPS's cgroup subtree)
 * without recursion. A guest chooses the shape of both: a 100,000-level tree must cost vpsd
 * neither its stack nor its fd table. One directory is open at a time besides the caller's;
 * the way back up goes through ".." and is checked against the inode it came from, so a tree
 * moved under the walk is never followed out of it. Memory: 16 bytes a level. A deadline
 * bounds the time a caller in a loop spends (a stop, on a guest's cgroups). */
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GETDENTS_BUF (32 * 1024)

struct level {
        ino_t ino; /* the directory at this level */
        off_t pos; /* where the scan of its parent resumes: just before its entry */
};

struct walk {
        int fd; /* the directory being emptied */
        dev_t dev;
        int mnt;
        unsigned int flags;
        uint64_t deadline; /* CLOCK_MONOTONIC ns, 0: none */
        ino_t emptied;     /* a child just emptied: removed (waiting if busy) when met again */
        struct level *v;
        size_t n, cap;
        char *buf;
};

struct linux_dirent64 {
        ino64_t d_ino;
        off64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
};

static int mnt_id(int fd)
{
        struct statx stx;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
                return 0;
        return (int)stx.stx_mnt_id;
}

static int push(struct walk *w, ino_t ino, off_t pos, vps_error *err)
{
        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 64;
                struct level *v = realloc(w->v, cap * sizeof(*v));
                if (!v)
                        return vps_err(err, ENOMEM, "out of memory at depth %zu", w->n);
                w->v = v;
                w->cap = cap;
        }
        w->v[w->n++] = (struct level){ino, pos};
        return 0;
}

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool past(uint64_t deadline)
{
        return deadline && now_ns() >= deadline;
}

/* rmdir; a cgroup whose last tasks are still exiting stays busy for a moment (up to a
 * second, and never past the deadline: -ETIMEDOUT). */
static int remove_dir(int dfd, const char *name, unsigned int flags, uint64_t deadline)
{
        for (int i = 0; i < 200; i++) {
                if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY || !(flags & VPS_RM_CGROUP))
                        break;
                if (past(deadline))
                        return -ETIMEDOUT;
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return -errno;
}

/* Enters the directory name of the current one, checked to be on the same mount. */
static int descend(struct walk *w, const char *name, off_t pos, vps_error *err)
{
        _cleanup_close_ int fd =
                openat(w->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : vps_err_sys(err, errno, "opening %s", name);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "stat %s", name);
        if (st.st_dev != w->dev || (w->mnt && mnt_id(fd) != w->mnt))
                return vps_err(err, EBUSY, "%s is a mount point, not removing it", name);
        int r = push(w, st.st_ino, pos, err);
        if (r < 0)
                return r;
        close(w->fd);
        w->fd = TAKE_FD(fd);
        w->emptied = 0;
        return 1;
}

/* One entry of the current directory: removed, or (a non-empty directory) entered. */
static int entry(struct walk *w, const struct linux_dirent64 *de, off_t pos, vps_error *err)
{
        const char *name = de->d_name;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
                struct stat st;
                if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT ? 0 : vps_err_sys(err, errno, "stat %s", name);
                type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
        }
        if (type != DT_DIR) {
                if (w->flags & VPS_RM_CGROUP)
                        return 0; /* a cgroup's files go with it */
                if (unlinkat(w->fd, name, 0) < 0 && errno != ENOENT)
                        return vps_err_sys(err, errno, "removing %s", name);
                return 0;
        }
        if (w->emptied && de->d_ino == w->emptied) {
                w->emptied = 0;
                int r = remove_dir(w->fd, name, w->flags, w->deadline);
                if (r == -ETIMEDOUT)
                        return vps_err(err, ETIMEDOUT, "out of time");
                /* Not empty after all (an entry its scan did not see): once more from the
                 * start of it. */
                if (r < 0 && r != -ENOTEMPTY && r != -EEXIST)
                        return vps_err_sys(err, -r, "removing %s", name);
                if (r == 0)
                        return 0;
        }
        /* An empty directory goes at once, without being opened. */
        if (unlinkat(w->fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                return 0;
        if (errno != ENOTEMPTY && errno != EEXIST && errno != EBUSY)
                return vps_err_sys(err, errno, "removing %s", name);
        return descend(w, name, pos, err);
}

/* Scans the current directory from pos: 0 when it is empty, 1 when the walk went down. */
static int scan(struct walk *w, off_t pos, vps_error *err)
{
        if (lseek(w->fd, pos, SEEK_SET) < 0)
                return vps_err_sys(err, errno, "seeking in a directory at depth %zu", w->n);
        for (;;) {
                long n = syscall(SYS_getdents64, w->fd, w->buf, GETDENTS_BUF);
                if (n < 0)
                        return vps_err_sys(err, errno, "reading a directory at depth %zu", w->n);
                if (n == 0)
                        return 0;
                for (long off = 0; off < n;) {
                        const struct linux_dirent64 *de = (void *)(w->buf + off);
                        off += de->d_reclen;
                        if (past(w->deadline))
                                return vps_err(err, ETIMEDOUT, "out of time");
                        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                                int r = entry(w, de, pos, err);
                                if (r != 0)
                                        return r;
                        }
                        pos = de->d_off;
                }
        }
}

/* Back to the parent of the current directory, which must be the one the walk came from. */
static int ascend(struct walk *w, off_t *ret_pos, vps_error *err)
{
        _cleanup_close_ int fd = openat(w->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "going up at depth %zu", w->n);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "stat .. at depth %zu", w->n);
        if (st.st_dev != w->dev || st.st_ino != w->v[w->n - 2].ino)
                return vps_err(err, ESTALE,
                               "the tree changed while it was being removed (depth %zu)", w->n);
        w->emptied = w->v[w->n - 1].ino;
        *ret_pos = w->v[w->n - 1].pos;
        w->n--;
        close(w->fd);
        w->fd = TAKE_FD(fd);
        return 0;
}

static int walk(struct walk *w, vps_error *err)
{
        off_t pos = 0;
        for (;;) {
                int r = scan(w, pos, err);
                if (r < 0)
                        return r;
                if (r == 1) {
                        pos = 0;
                        continue;
                }
                if (w->n == 1)
                        return 0;
                if ((r = ascend(w, &pos, err)) < 0)
                        return r;
        }
}

int vps_rm_tree_until(int dir_fd, const char *name, unsigned int flags, uint64_t deadline,
                      vps_error *err)
{
        struct stat st, parent;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vps_err_sys(err, errno, "stat %s", name);
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                        return vps_err_sys(err, errno, "removing %s", name);
                return 0;
        }
        if (fstatat(dir_fd, ".", &parent, 0) < 0)
                return vps_err_sys(err, errno, "stat the directory of %s", name);
        if (st.st_dev != parent.st_dev)
                return vps_err(err, EBUSY, "%s is a mount point, not removing it", name);
        struct walk w = {.fd = -1, .flags = flags, .deadline = deadline, .dev = st.st_dev};
        w.fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (w.fd < 0)
                return errno == ENOENT ? 0 : vps_err_sys(err, errno, "opening %s", name);
        w.mnt = mnt_id(w.fd);
        w.buf = malloc(GETDENTS_BUF);
        int r = w.buf ? push(&w, st.st_ino, 0, err) : vps_err(err, ENOMEM, "out of memory");
        /* A scan resumed part-way (after each subtree) trusts the directory's offsets; if an
         * entry was missed the rmdir says so, and the walk goes again. */
        for (int pass = 0; r == 0; pass++) {
                if ((r = walk(&w, err)) < 0)
                        break;
                r = remove_dir(dir_fd, name, flags, deadline);
                if (r == 0 || (r != -ENOTEMPTY && r != -EEXIST) || pass == 2) {
                        if (r == -ETIMEDOUT)
                                vps_err(err, ETIMEDOUT, "out of time");
                        else if (r < 0)
                                vps_err_sys(err, -r, "removing %s", name);
                        break;
                }
                r = 0;
        }
        size_t depth = w.n;
        close(w.fd);
        free(w.buf);
        free(w.v);
        if (r < 0 && depth > 1)
                return vps_err_wrap(err, "removing %s (%zu levels down)", name, depth);
        return r;
}

int vps_rm_tree_at(int dir_fd, const char *name, unsigned int flags, vps_error *err)
{
        return vps_rm_tree_until(dir_fd, name, flags, 0, err);
}

uint64_t vps_deadline_after_ms(unsigned int ms)
{
        return ms ? now_ns() + (uint64_t)ms * 1000000u : 0;
}

int vps_rm_rf_at(int dir_fd, const char *name, vps_error *err)
{
        return vps_rm_tree_at(dir_fd, name, 0, err);
}

/* The child of vps_rm_start: fd 3 the directory, fd 4 the pipe for its error. It dies with
 * vpsd (the next one resumes the removal). */
static _Noreturn void rm_child(pid_t parent, int dir_fd, int out, const char *name,
                               unsigned int flags)
{
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);
        (void)prctl(PR_SET_NAME, "vpsd-remove");
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Nothing of vpsd's (API socket, consoles, pidfds) stays open here. */
        int a = fcntl(dir_fd, F_DUPFD_CLOEXEC, 5), b = fcntl(out, F_DUPFD_CLOEXEC, 5);
        if (a >= 0 && b >= 0 && dup2(a, 3) == 3 && dup2(b, 4) == 4) {
                (void)vps_sys_close_range(5, ~0U, 0);
                dir_fd = 3;
                out = 4;
        }
        vps_error e;
        if (vps_rm_tree_at(dir_fd, name, flags, &e) == 0)
                _exit(0);
        (void)!write(out, e.msg, strnlen(e.msg, sizeof(e.msg)));
        _exit(1);
}

int vps_rm_start(int dir_fd, const char *name, unsigned int flags, struct vps_rm_job *ret,
                 vps_error *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return vps_err_sys(err, errno, "pipe");
        _cleanup_close_ int rd = p[0];
        _cleanup_close_ int wr = p[1];
        pid_t parent = getpid();
        int pidfd = -1;
        struct clone_args args = {
                .flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd, .exit_signal = SIGCHLD};
        pid_t pid = vps_sys_clone3(&args);
        if (pid < 0)
                return vps_err_sys(err, errno, "starting the removal of %s", name);
        if (pid == 0)
                rm_child(parent, dir_fd, wr, name, flags);
        ret->pid = pid;
        ret->pidfd = pidfd;
        ret->err_fd = TAKE_FD(rd);
        return 0;
}

int vps_rm_finish(struct vps_rm_job *job, vps_error *err)
{
        siginfo_t si = {0};
        int r = 0;
        while ((r = waitid(P_PIDFD, (id_t)job->pidfd, &si, WEXITED)) < 0 && errno == EINTR)
                ;
        char msg[VPS_ERROR_MSG_MAX] = "";
        ssize_t n = read(job->err_fd, msg, sizeof(msg) - 1);
        msg[n > 0 ? n : 0] = '\0';
        vps_closep(&job->pidfd);
        vps_closep(&job->err_fd);
        if (r < 0)
                return vps_err_sys(err, errno, "waiting for the removal");
        if (si.si_code == CLD_EXITED && si.si_status == 0)
                return 0;
        if (msg[0])
                return vps_err(err, EIO, "%s", msg);
        return vps_err(err, EINTR, "the removal was stopped (%s %d)",
                       si.si_code == CLD_EXITED ? "exit" : "signal", si.si_status);
}
