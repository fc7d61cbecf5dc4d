/* vps-probe-fuse: run inside a VPS with --features fuse. Mounts a FUSE file system over DIR
 * (default /) that answers the kernel's INIT and then reads every request and never answers
 * it: whatever enters the VPS's mount namespace afterwards (a `vpsctl exec`, a helper of vpsd
 * writing /etc/hostname) finds DIR there and waits, in a request the kernel cannot take back
 * (the daemon has read it), so even SIGKILL does not end the wait. The daemon forks into the
 * background; the probe prints "mounted over DIR" once it is in place and exits 0.
 *   vps-probe-fuse [DIR]   (exit 1 with a FAIL line when the mount cannot be made) */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static char buf[1 << 20];

/* Reads the INIT request and answers it: without that, requests queue before the daemon
 * and a SIGKILL could still take them back. */
static int answer_init(int fd)
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
        return write(fd, &out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : -1;
}

int main(int argc, char **argv)
{
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
        (void)snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other",
                       fd);
        const char *fail = fd < 0                                         ? "open /dev/fuse"
                           : mount("vps-probe", dir, "fuse", 0, opts) < 0 ? "mount"
                           : answer_init(fd) < 0                          ? "answering INIT"
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
        /* Every request read, none answered: the caller waits until this process dies. */
        for (;;)
                if (read(fd, buf, sizeof(buf)) < 0 && errno != EINTR && errno != ENOENT)
                        pause();
}
