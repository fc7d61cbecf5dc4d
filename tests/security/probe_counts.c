/* In-VPS probe for test_host_counts.sh: takes per-user kernel objects until the kernel says
 * no, reports how many it got and why it stopped, and holds them.
 *   vps-probe-counts inotify [MAX]   inotify instances (inotify_init1)
 *   vps-probe-counts ptys [MAX]      ptys (/dev/ptmx)
 *   vps-probe-counts hold            both, without a maximum, then "holding" and sleeps
 * Each count is printed as "KIND N errno=E" (E 0 when MAX was reached). Its fd limit is raised
 * to the hard limit first, so EMFILE means the kernel's count, not this process's table. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

static void take(const char *kind, long max)
{
        long n = 0;
        int e = 0;
        while (max <= 0 || n < max) {
                int fd = strcmp(kind, "inotify") == 0
                                 ? inotify_init1(IN_CLOEXEC)
                                 : open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (fd < 0) {
                        e = errno;
                        break;
                }
                n++;
        }
        printf("%s %ld errno=%d\n", kind, n, e);
        fflush(stdout);
}

int main(int argc, char **argv)
{
        if (argc < 2)
                return 2;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        long max = argc > 2 ? atol(argv[2]) : 0;
        if (strcmp(argv[1], "hold") == 0) {
                take("inotify", 0);
                take("ptys", 0);
                printf("holding (fd limit %llu)\n", (unsigned long long)rl.rlim_cur);
                fflush(stdout);
                for (;;)
                        pause();
        }
        if (strcmp(argv[1], "inotify") != 0 && strcmp(argv[1], "ptys") != 0)
                return 2;
        take(argv[1], max);
        return 0;
}
