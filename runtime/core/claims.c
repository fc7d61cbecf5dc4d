/* libvps: the claims of a live vpsd on its cgroup parent, bridge and subnet (core.h). A
 * claim file, KIND-HASH, holds "KIND VALUE\npid PID\nroot ROOT\n"; it is taken by a write lock
 * on the whole file, and checked under dir/.lock so two vpsds starting at once cannot both
 * pass the scan. */
#include "core/core.h"

#include "vps/cleanup.h"
#include "vps/util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_name[VPS_CLAIM_N] = {"cgroup", "bridge", "subnet"};
static const char *const kind_what[VPS_CLAIM_N] = {"cgroup parent", "bridge", "subnet"};

static bool parse_subnet(const char *s, uint32_t *ret_net, unsigned int *ret_prefix)
{
        char a[INET_ADDRSTRLEN];
        unsigned int p;
        struct in_addr in;
        if (sscanf(s, "%15[0-9.]/%u", a, &p) != 2 || p > 32 || inet_pton(AF_INET, a, &in) != 1)
                return false;
        *ret_net = ntohl(in.s_addr);
        *ret_prefix = p;
        return true;
}

bool vps_claim_conflicts(int kind, const char *a, const char *b)
{
        if (kind == VPS_CLAIM_BRIDGE)
                return strcmp(a, b) == 0;
        if (kind == VPS_CLAIM_SUBNET) {
                uint32_t na, nb;
                unsigned int pa, pb;
                if (!parse_subnet(a, &na, &pa) || !parse_subnet(b, &nb, &pb))
                        return strcmp(a, b) == 0;
                unsigned int p = pa < pb ? pa : pb;
                uint32_t mask = p ? ~0u << (32 - p) : 0;
                return (na & mask) == (nb & mask);
        }
        /* Cgroup parents: one inside the other shares VPS cgroups just as much. */
        size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
        return strncmp(a, b, l) == 0 && (a[l] == '\0' || a[l] == '/') &&
               (b[l] == '\0' || b[l] == '/');
}

static void file_name(int kind, const char *value, char *ret, size_t size)
{
        (void)snprintf(ret, size, "%s-%08x", kind_name[kind], vps_fnv1a(value));
}

/* The PID of the process holding fd's file, 0 when none does (or only this process). */
static pid_t holder(int fd)
{
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
                return 0;
        return fl.l_pid > 0 ? fl.l_pid : -1;
}

struct claim_text {
        int kind; /* -1: not a claim */
        char value[600], root[600];
};

static void parse_text(const char *text, struct claim_text *ret)
{
        ret->kind = -1;
        ret->value[0] = ret->root[0] = '\0';
        for (int k = 0; k < VPS_CLAIM_N; k++) {
                size_t n = strlen(kind_name[k]);
                if (strncmp(text, kind_name[k], n) == 0 && text[n] == ' ') {
                        ret->kind = k;
                        (void)sscanf(text + n + 1, "%599[^\n]", ret->value);
                }
        }
        const char *r = strstr(text, "\nroot ");
        if (r)
                (void)sscanf(r + 6, "%599[^\n]", ret->root);
}

/* A conflicting claim of a live vpsd: the error naming it. Dead ones' files are removed (and
 * this process's own, after a re-exec: its lock does not show, and goes with this close). */
static int check_one(int dfd, const char *name, const char *const want[VPS_CLAIM_N], vps_error *err)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return 0;
        char text[1400];
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        text[n > 0 ? n : 0] = '\0';
        struct claim_text c;
        parse_text(text, &c);
        pid_t pid = holder(fd);
        if (pid == 0) {
                (void)unlinkat(dfd, name, 0); /* its vpsd is gone */
                return 0;
        }
        if (c.kind < 0 || !vps_claim_conflicts(c.kind, c.value, want[c.kind]))
                return 0;
        const char *root = c.root[0] ? c.root : "unknown";
        if (strcmp(c.value, want[c.kind]) == 0)
                return vps_err(err, EADDRINUSE, "%s %s is held by another vpsd (pid %d, root %s)",
                               kind_what[c.kind], c.value, (int)pid, root);
        return vps_err(err, EADDRINUSE,
                       "%s %s overlaps %s, which is held by another vpsd (pid %d, root %s)",
                       kind_what[c.kind], want[c.kind], c.value, (int)pid, root);
}

static int open_dir(const char *dir, vps_error *err)
{
        int r = vps_mkdir_p(dir, 0700, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "opening %s", dir);
        /* Root's alone: another user's file there could hold a claim forever. */
        if (st.st_uid != 0 || (st.st_mode & 077))
                return vps_err(err, EPERM,
                               "%s must be root's and private (owner uid %u, mode %04o)", dir,
                               (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
        return TAKE_FD(fd);
}

static int take_one(int dfd, int kind, const char *value, const char *root, vps_error *err)
{
        char name[32];
        file_name(kind, value, name, sizeof(name));
        /* Moved up before the lock: a record lock goes with the close of any fd of the file. */
        _cleanup_close_ int fd =
                vps_fd_high(openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd < 0)
                return vps_err_sys(err, errno, "creating the claim on %s %s", kind_what[kind],
                                   value);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_SETLK, &fl) < 0)
                return vps_err(err, EADDRINUSE, "%s %s is held by another vpsd (pid %d)",
                               kind_what[kind], value, (int)holder(fd));
        char text[1400];
        int n = snprintf(text, sizeof(text), "%s %s\npid %d\nroot %s\n", kind_name[kind], value,
                         (int)getpid(), root);
        if (n >= (int)sizeof(text))
                return vps_err(err, ENAMETOOLONG, "claim on %s %.80s: too long", kind_what[kind],
                               value);
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n)
                return vps_err_sys(err, errno, "writing the claim on %s %s", kind_what[kind],
                                   value);
        return TAKE_FD(fd);
}

int vps_claims_take(struct vps_claims *c, const char *dir, const char *root, const char *cgroup,
                    const char *bridge, const char *subnet, vps_error *err)
{
        for (int k = 0; k < VPS_CLAIM_N; k++)
                c->fd[k] = -1;
        const char *const want[VPS_CLAIM_N] = {cgroup, bridge, subnet};
        for (int k = 0; k < VPS_CLAIM_N; k++)
                if (strchr(want[k], '\n') || strchr(root, '\n'))
                        return vps_err(err, EINVAL, "a newline in %s", kind_what[k]);
        _cleanup_close_ int dfd = open_dir(dir, err);
        if (dfd < 0)
                return dfd;
        _cleanup_close_ int lock =
                openat(dfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return vps_err_sys(err, errno, "locking %s/.lock", dir);
        _cleanup_closedir_ DIR *d = vps_opendir_fd(dfd);
        if (!d)
                return vps_err_sys(err, errno, "reading %s", dir);
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(d)))
                if (de->d_name[0] != '.')
                        r = check_one(dfd, de->d_name, want, err);
        for (int k = 0; r == 0 && k < VPS_CLAIM_N; k++) {
                r = take_one(dfd, k, want[k], root, err);
                if (r >= 0) {
                        c->fd[k] = r;
                        char name[32];
                        file_name(k, want[k], name, sizeof(name));
                        (void)snprintf(c->path[k], sizeof(c->path[k]), "%s/%s", dir, name);
                        r = 0;
                }
        }
        if (r < 0)
                vps_claims_release(c);
        return r;
}

void vps_claims_keep_across_exec(struct vps_claims *c)
{
        for (int k = 0; k < VPS_CLAIM_N; k++) {
                int fl = c->fd[k] < 0 ? -1 : fcntl(c->fd[k], F_GETFD);
                if (fl >= 0)
                        (void)fcntl(c->fd[k], F_SETFD, fl & ~FD_CLOEXEC);
        }
}

void vps_claims_release(struct vps_claims *c)
{
        /* Unlinked while still locked: no other vpsd takes the file for a free one before. */
        for (int k = 0; k < VPS_CLAIM_N; k++)
                if (c->fd[k] >= 0) {
                        (void)unlink(c->path[k]);
                        vps_closep(&c->fd[k]);
                }
}
