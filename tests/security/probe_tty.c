/* For test_host_tty.sh: a guest's attempts on terminals and io_uring, run inside a VPS (and on
 * the host, where the same attempts must work: the test's positive control). It only reports,
 * one line per attempt; the test decides what is expected where.
 *
 *   inject TEXT  pushes TEXT and a newline into the terminal behind fd 0, 1 and 2 and a fresh
 *                /dev/tty with TIOCSTI (and tries TIOCLINUX's selection paste): a host shell
 *                whose terminal reached the guest would run TEXT
 *   own-pty      in a new session, a pty of its own made its controlling terminal, where the
 *                kernel allows TIOCSTI: then only a seccomp filter refuses it; also with the
 *                request's high 32 bits set, which the kernel ignores
 *   io_uring     io_uring_setup, io_uring_enter and io_uring_register */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/tiocl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* "ok" or the errno's name, for a call that returned r. */
static const char *result(long r, int e)
{
        if (r >= 0)
                return "ok";
        const char *name = strerrorname_np(e);
        return name ? name : "E?";
}

/* Every byte of text into fd's terminal input; the first failure's errno, or 0. */
static int push(int fd, unsigned long request, const char *text)
{
        for (const char *p = text; *p; p++)
                if (ioctl(fd, request, p) < 0)
                        return errno;
        return 0;
}

static void try_fd(const char *what, int fd, const char *text)
{
        int is_tty = isatty(fd);
        int e = push(fd, TIOCSTI, text);
        const char *sti = result(e ? -1 : 0, e);
        char paste[2] = {TIOCL_PASTESEL, 0};
        long r = ioctl(fd, TIOCLINUX, paste);
        const char *linux_r = result(r, errno);
        printf("%s: tty=%s TIOCSTI=%s TIOCLINUX=%s\n", what, is_tty ? "yes" : "no", sti, linux_r);
}

static int inject(const char *arg)
{
        char text[512];
        if (snprintf(text, sizeof(text), "%s\n", arg) >= (int)sizeof(text))
                return 2;
        for (int fd = 0; fd < 3; fd++) {
                char what[16];
                snprintf(what, sizeof(what), "fd %d", fd);
                try_fd(what, fd, text);
        }
        int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (tty < 0)
                printf("/dev/tty: open=%s\n", result(-1, errno));
        else
                try_fd("/dev/tty", tty, text);
        printf("inject: done\n");
        return 0;
}

/* One byte pushed into the slave's input with request, then read back from it. */
static void sti_read_back(const char *what, int slave, unsigned long request, char c)
{
        int e = ioctl(slave, request, &c) < 0 ? errno : 0;
        char got = 0;
        ssize_t n = e ? 0 : read(slave, &got, 1);
        printf("own-pty %s: TIOCSTI=%s read-back=%s\n", what, result(e ? -1 : 0, e),
               n == 1 && got == c ? "yes" : "no");
}

static int own_pty_child(void)
{
        if (setsid() < 0) {
                printf("own-pty: setsid=%s\n", result(-1, errno));
                return 1;
        }
        int master = posix_openpt(O_RDWR | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
                printf("own-pty: ptmx=%s\n", result(-1, errno));
                return 1;
        }
        const char *name = ptsname(master);
        /* Without O_NOCTTY: a session leader without a terminal takes this one. */
        int slave = name ? open(name, O_RDWR | O_CLOEXEC | O_NONBLOCK) : -1;
        if (slave < 0) {
                printf("own-pty: open slave=%s\n", result(-1, errno));
                return 1;
        }
        (void)ioctl(slave, TIOCSCTTY, 0);
        struct termios t;
        if (tcgetattr(slave, &t) == 0) {
                cfmakeraw(&t);
                (void)tcsetattr(slave, TCSANOW, &t);
        }
        printf("own-pty: ctty=%s\n", tcgetsid(slave) == getpid() ? "yes" : "no");
        sti_read_back("plain", slave, TIOCSTI, 'A');
        sti_read_back("high-bits", slave, TIOCSTI | (1UL << 32), 'B');
        char paste[2] = {TIOCL_PASTESEL, 0};
        long r = ioctl(slave, TIOCLINUX, paste);
        printf("own-pty: TIOCLINUX=%s\n", result(r, errno));
        return 0;
}

/* In a child: the caller may lead its process group, and then cannot make a session. */
static int own_pty(void)
{
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                int rc = own_pty_child();
                fflush(stdout);
                _exit(rc);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
                return 1;
        return WEXITSTATUS(status);
}

static int io_uring(void)
{
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        long fd = syscall(SYS_io_uring_setup, 4, &p);
        printf("io_uring_setup=%s\n", result(fd, errno));
        long r = syscall(SYS_io_uring_enter, (int)fd, 0, 0, 0, NULL, 0);
        printf("io_uring_enter=%s\n", result(r, errno));
        r = syscall(SYS_io_uring_register, (int)fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
        printf("io_uring_register=%s\n", result(r, errno));
        return 0;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3 && strcmp(argv[1], "inject") == 0)
                return inject(argv[2]);
        if (argc == 2 && strcmp(argv[1], "own-pty") == 0)
                return own_pty();
        if (argc == 2 && strcmp(argv[1], "io_uring") == 0)
                return io_uring();
        fprintf(stderr, "usage: %s inject TEXT | own-pty | io_uring\n", argv[0]);
        return 2;
}
