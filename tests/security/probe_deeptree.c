/* Test tool, run as root inside a VPS: makes a chain of directories N levels deep (mkdir and
 * chdir, so no path grows) and prints how deep it got, and why it stopped if it did.
 *   vps-probe-deeptree dir DIR N      under DIR (a directory of the guest's file system)
 *   vps-probe-deeptree cgroup DIR N   cgroups under DIR (the guest's cgroup2 mount)
 * Exit 0 when all N levels were made, 1 otherwise. The "reached" line is the positive
 * control of tests/security/test_host_trees.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc != 4 || (strcmp(argv[1], "dir") != 0 && strcmp(argv[1], "cgroup") != 0)) {
                fprintf(stderr, "usage: %s dir|cgroup DIR N\n", argv[0]);
                return 2;
        }
        long n = strtol(argv[3], NULL, 10);
        if (chdir(argv[2]) < 0) {
                fprintf(stderr, "chdir %s: %s\n", argv[2], strerror(errno));
                return 2;
        }
        long depth = 0;
        int err = 0;
        while (depth < n) {
                if (mkdir("d", 0755) < 0 && errno != EEXIST) {
                        err = errno;
                        break;
                }
                if (chdir("d") < 0) {
                        err = errno;
                        break;
                }
                depth++;
        }
        /* Something at the bottom: removal must handle files as well as directories. */
        if (strcmp(argv[1], "dir") == 0 && depth == n) {
                FILE *f = fopen("bottom", "w");
                if (f)
                        fclose(f);
        }
        printf("reached %ld of %ld levels", depth, n);
        if (err)
                printf(", stopped by %s (errno %d)", strerror(err), err);
        printf("\n");
        return depth == n ? 0 : 1;
}
