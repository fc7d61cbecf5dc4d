/* vps-probe-fuse: run inside a VPS with --features fuse. Mounts a FUSE file system over DIR
 * (default /) that answers the kernel's INIT and then reads every request and never answers
 * it: whatever enters the VPS's mount namespace afterwards (a `vpsctl exec`, a helper of vpsd
 * writing /etc/hostname) finds DIR there and waits, in a request the kernel cannot take back
 * (the daemon has read it), so even SIGKILL does not end the wait. The daemon forks into the
 * background; the probe prints "mounted over DIR" once it is in place and exits 0.
 *   vps-probe-fuse [DIR]   (exit 1 with a FAIL line when the mount cannot be made)
 * With --file, the file system over DIR answers lookups, attributes and opens (every name is
 * a 64 KiB file) and only its reads wait forever: a mapping of such a file is memory whose
 * first touch never ends. That file system is mounted with default_permissions and declares
 * FUSE_ALLOW_IDMAP, so the kernel also sends this daemon the reads of callers its user
 * namespace does not map (vpsd writing into a mapping of the file through /proc/PID/mem),
 * which it would otherwise fail at once (EOVERFLOW). --sysinfo FILE maps FILE and calls sysinfo(2)
 * with its buffer there (vpsd writes the answer into it), printing "sysinfo: OK" or "sysinfo:
 * ERRNO-NAME" and the seconds it took. vps-probe-fuse --file DIR      vps-probe-fuse --sysinfo FILE
 * --noflush DIR is --file whose FLUSH is never answered either; --exec-hold FILE PROG [ARG...]
 * opens FILE close-on-exec and execs PROG: the execve closes FILE and waits in its FLUSH, for
 * good, holding the process's exec locks (test_host_execwedge.sh).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

/* Reads the INIT request and answers it: without that, requests queue before the daemon
 * and a SIGKILL could still take them back. */
static int answer_init(int fd, bool idmap)
{
        ssize_t n = read(fd, buf, sizeof(buf));
        const struct fuse_in_header *in = (const void *)buf;
        if (n < (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) || in->opcode != FUSE_INIT)
                return -1;
        const struct fuse_init_in *init = (const void *)(buf + sizeof(*in));
        struct {
                struct fuse_out_header h;
                struct fuse_init_out o;
        } out;
        memset(&out, 0, sizeof(out));
        out.h.len = sizeof(out);
        out.h.unique = in->unique;
        out.o.major = FUSE_KERNEL_VERSION;
        out.o.minor = FUSE_KERNEL_MINOR_VERSION;
        out.o.max_readahead = init->max_readahead;
        out.o.max_write = 4096;
        out.o.max_background = 16;
        out.o.congestion_threshold = 12;
        /* FUSE_ALLOW_IDMAP (bit 40 of the flags, Linux 6.12 and later, with
         * default_permissions): the kernel then sends requests of callers whose ids the
         * mount's user namespace does not map (vpsd, host root) on to this daemon, where
         * before it failed them at once (EOVERFLOW). */
        if (idmap && (init->flags & FUSE_INIT_EXT)) {
                out.o.flags = FUSE_INIT_EXT;
                out.o.flags2 = 1u << (40 - 32);
        }
        return write(fd, &out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : -1;
}

static void reply(int fd, uint64_t unique, int error, const void *body, size_t len)
{
        char out[sizeof(struct fuse_out_header) + 256];
        struct fuse_out_header *h = (void *)out;
        h->len = (uint32_t)(sizeof(*h) + len);
        h->error = -error;
        h->unique = unique;
        memcpy(out + sizeof(*h), body, len);
        (void)!write(fd, out, h->len);
}

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
        memset(a, 0, sizeof(*a));
        a->ino = ino;
        a->mode = ino == FUSE_ROOT_ID ? 040755 : 0100644;
        a->size = ino == FUSE_ROOT_ID ? 0 : 65536;
        a->nlink = 1;
        a->blksize = 4096;
}

/* --file: answers everything but READ (never answered) and the calls it does not know.
 * --noflush: FLUSH is never answered either. */
static void serve_files(int fd, bool flush)
{
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < (ssize_t)sizeof(struct fuse_in_header)) {
                        if (n < 0 && errno != EINTR && errno != ENOENT)
                                pause();
                        continue;
                }
                const struct fuse_in_header *in = (const void *)buf;
                if (in->opcode == FUSE_LOOKUP) {
                        /* Each name its own inode: a read waiting on one locks no other. */
                        static uint64_t next = 2;
                        struct fuse_entry_out e = {
                                .nodeid = next++, .attr_valid = 3600, .entry_valid = 3600};
                        fill_attr(&e.attr, e.nodeid);
                        reply(fd, in->unique, 0, &e, sizeof(e));
                } else if (in->opcode == FUSE_GETATTR) {
                        struct fuse_attr_out a = {.attr_valid = 3600};
                        fill_attr(&a.attr, in->nodeid);
                        reply(fd, in->unique, 0, &a, sizeof(a));
                } else if (in->opcode == FUSE_OPEN || in->opcode == FUSE_OPENDIR) {
                        struct fuse_open_out o = {.fh = 1, .open_flags = FOPEN_KEEP_CACHE};
                        reply(fd, in->unique, 0, &o, sizeof(o));
                } else if (in->opcode == FUSE_READ) {
                        continue; /* never */
                } else if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET) {
                        continue; /* no reply expected */
                } else if (in->opcode == FUSE_FLUSH && !flush) {
                        continue; /* never */
                } else if (in->opcode == FUSE_FLUSH || in->opcode == FUSE_RELEASE ||
                           in->opcode == FUSE_RELEASEDIR) {
                        reply(fd, in->unique, 0, NULL, 0);
                } else {
                        reply(fd, in->unique, ENOSYS, NULL, 0);
                }
        }
}

static int call_sysinfo(const char *file)
{
        int fd = open(file, O_RDWR);
        void *p =
                fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
                printf("FAIL: mapping %s: %s\n", file, strerror(errno));
                return 1;
        }
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        long r = syscall(SYS_sysinfo, p);
        int e = errno;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        printf("sysinfo: %s %.2f\n", r == 0 ? "OK" : strerrorname_np(e), took);
        return 0;
}

/* Opens FILE close-on-exec and execs argv: the exec closes it, and waits in its FLUSH. */
static int exec_hold(char **argv)
{
        if (open(argv[0], O_RDONLY | O_CLOEXEC) < 0) {
                printf("FAIL: opening %s: %s\n", argv[0], strerror(errno));
                return 1;
        }
        execv(argv[1], argv + 1);
        printf("FAIL: exec %s: %s\n", argv[1], strerror(errno));
        return 1;
}

int main(int argc, char **argv)
{
        bool noflush = argc > 2 && strcmp(argv[1], "--noflush") == 0;
        bool files = noflush || (argc > 2 && strcmp(argv[1], "--file") == 0);
        if (argc > 2 && strcmp(argv[1], "--sysinfo") == 0)
                return call_sysinfo(argv[2]);
        if (argc > 3 && strcmp(argv[1], "--exec-hold") == 0)
                return exec_hold(argv + 2);
        if (files) {
                argv++;
                argc--;
        }
        const char *dir = argc > 1 ? argv[1] : "/";
        int ready[2];
        if (pipe(ready) < 0)
                return 1;
        pid_t pid = fork();
        if (pid < 0) {
                printf("FAIL: fork: %s\n", strerror(errno));
                return 1;
        }
        if (pid > 0) {
                close(ready[1]);
                char msg[256] = "";
                ssize_t n = read(ready[0], msg, sizeof(msg) - 1);
                if (n > 0 && msg[0] == 'R') {
                        printf("mounted over %s (pid %d)\n", dir, (int)pid);
                        return 0;
                }
                printf("FAIL: %s\n", n > 1 ? msg + 1 : "the FUSE daemon died");
                return 1;
        }
        close(ready[0]);
        (void)setsid();
        int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        int null = open("/dev/null", O_RDWR);
        char opts[128];
        (void)snprintf(opts, sizeof(opts),
                       "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other%s", fd,
                       files ? ",default_permissions" : "");
        const char *fail = fd < 0                                         ? "open /dev/fuse"
                           : mount("vps-probe", dir, "fuse", 0, opts) < 0 ? "mount"
                           : answer_init(fd, files) < 0                   ? "answering INIT"
                                                                          : NULL;
        if (fail) {
                (void)dprintf(ready[1], "E%s: %s", fail, strerror(errno));
                return 1;
        }
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
        }
        (void)!write(ready[1], "R", 1);
        close(ready[1]);
        if (files)
                serve_files(fd, !noflush);
        /* Every request read, none answered: the caller waits until this process dies. */
        for (;;)
                if (read(fd, buf, sizeof(buf)) < 0 && errno != EINTR && errno != ENOENT)
                        pause();
}
