/* Host-side probe for test_host_perms.sh, run as an unprivileged host user (setpriv): for
 * each path on stdin (one per line, as root listed them) it tries what such a user would
 * do with a template's or a VPS's files: stat, list a directory, read a file or device,
 * open it for writing (nothing is written), read a symlink, and check it may execute.
 * Prints one line per success ("reached PATH: what") and "tried N paths, M reached". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long reached;

static void got(const char *path, const char *what)
{
        printf("reached %s: %s\n", path, what);
        reached++;
}

static void try_open(const char *path, int flags, const char *what)
{
        int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
                got(path, what);
                close(fd);
        }
}

static void probe(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return;
        got(path, "stat");
        if (S_ISDIR(st.st_mode)) {
                DIR *d = opendir(path);
                if (d) {
                        got(path, "list");
                        closedir(d);
                }
                if (access(path, W_OK) == 0)
                        got(path, "write (create in)");
                return;
        }
        if (S_ISLNK(st.st_mode)) {
                char buf[4096];
                if (readlink(path, buf, sizeof(buf)) >= 0)
                        got(path, "readlink");
                return;
        }
        if (S_ISSOCK(st.st_mode))
                return;
        try_open(path, O_RDONLY, "read");
        try_open(path, O_WRONLY, "write");
        if (S_ISREG(st.st_mode) && access(path, X_OK) == 0)
                got(path,
                    (st.st_mode & (S_ISUID | S_ISGID)) ? "execute (setuid/setgid)" : "execute");
}

int main(void)
{
        char line[8192];
        unsigned long tried = 0;
        while (fgets(line, sizeof(line), stdin)) {
                line[strcspn(line, "\n")] = '\0';
                if (!*line)
                        continue;
                tried++;
                probe(line);
        }
        printf("tried %lu paths, %lu reached as uid %u\n", tried, reached, (unsigned)getuid());
        return 0;
}
