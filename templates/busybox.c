/* templates: the offline busybox template, made from the host's busybox-static. A slow job
 * (it runs busybox once to list its applets), never on the VPS start path. */
#include "templates/templates.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const dirs[] = {
        "bin", "sbin", "usr",  "usr/bin", "usr/sbin", "etc",     "etc/init.d", "proc", "sys", "dev",
        "run", "tmp",  "root", "home",    "var",      "var/log", "var/tmp",    "mnt",  "lib", "www",
};

static const struct {
        const char *path;
        mode_t mode;
        const char *text;
} files[] = {
        {"etc/passwd", 0644,
         "root:x:0:0:root:/root:/bin/sh\n"
         "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
        {"etc/group", 0644, "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n"},
        {"etc/shadow", 0600, "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"},
        {"etc/hosts", 0644, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"},
        {"etc/hostname", 0644, "localhost\n"},
        {"etc/resolv.conf", 0644, ""},
        {"etc/os-release", 0644,
         "NAME=\"BusyBox\"\nID=busybox\nPRETTY_NAME=\"BusyBox (vpsd template)\"\n"},
        {"etc/profile", 0644,
         "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1='\\h:\\w\\$ '\n"},
        /* A shell on the console: `vpsctl console` lands in it. Poweroff and reboot from
         * inside reach vpsd through reboot(2) in the VPS's pid namespace. */
        {"etc/inittab", 0644,
         "::sysinit:/etc/init.d/rcS\n"
         "console::respawn:-/bin/sh\n"
         "::ctrlaltdel:/sbin/reboot\n"
         "::shutdown:/bin/sync\n"},
        {"etc/init.d/rcS", 0755,
         "#!/bin/sh\n"
         "# Run once at boot; the host has mounted /proc, /sys, /dev and /run already.\n"
         "[ -x /etc/rc.local ] && /etc/rc.local\n"
         "exit 0\n"},
};

static int write_text(int dfd, const char *path, const char *text, mode_t mode, vps_error *err)
{
        _cleanup_close_ int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return vps_err_sys(err, errno, "creating %s", path);
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) < 0)
                return vps_err_sys(err, errno, "writing %s", path);
        return 0;
}

static int copy_binary(int dfd, const char *src, const char *dst, vps_error *err)
{
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return vps_err_sys(err, errno, "opening %s (install busybox-static)", src);
        struct stat st;
        if (fstat(in, &st) < 0)
                return vps_err_sys(err, errno, "stat %s", src);
        _cleanup_close_ int out = openat(dfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (out < 0)
                return vps_err_sys(err, errno, "creating %s", dst);
        for (off_t off = 0; off < st.st_size;) {
                ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
                if (n <= 0)
                        return vps_err_sys(err, n < 0 ? errno : EIO, "copying %s", src);
        }
        return 0;
}

/* Runs `busybox ARG` and returns its standard output. */
static int run_busybox(const char *bb, const char *arg, char **ret, vps_error *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "pipe");
        _cleanup_close_ int rd = p[0];
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
        char *argv[] = {(char *)"busybox", (char *)arg, NULL};
        pid_t pid;
        int r = posix_spawn(&pid, bb, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        if (r != 0)
                return vps_err_sys(err, r, "running %s", bb);
        size_t cap = 65536, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        ssize_t n = 0;
        while (buf && len + 1 < cap && (n = read(rd, buf + len, cap - len - 1)) > 0)
                len += (size_t)n;
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static int link_applets(int dfd, const char *bb, vps_error *err)
{
        _cleanup_free_ char *list = NULL;
        int r = run_busybox(bb, "--list-full", &list, err);
        if (r < 0)
                return r;
        int count = 0;
        for (char *save = NULL, *line = strtok_r(list, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                if (strstr(line, "..") || line[0] == '/' || strcmp(line, "bin/busybox") == 0)
                        continue;
                if (symlinkat("/bin/busybox", dfd, line) < 0 && errno != EEXIST)
                        return vps_err_sys(err, errno, "linking applet %s", line);
                count++;
        }
        if (count < 10)
                return vps_err(err, ENOEXEC,
                               "%s --list-full listed %d applets: not a full "
                               "busybox",
                               bb, count);
        return 0;
}

static void parse_version(const char *banner, char *ret, size_t size)
{
        const char *v = strstr(banner, "BusyBox v");
        size_t n = 0;
        if (v) {
                v += 9;
                while (v[n] && v[n] != ' ' && n + 1 < size)
                        n++;
                memcpy(ret, v, n);
        }
        ret[n] = '\0';
        if (n == 0)
                (void)snprintf(ret, size, "unknown");
}

int vps_build_busybox(int dfd, const char *bb, char *ret_version, size_t size, vps_error *err)
{
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
                if (mkdirat(dfd, dirs[i], 0755) < 0 && errno != EEXIST)
                        return vps_err_sys(err, errno, "creating %s", dirs[i]);
        if (fchmodat(dfd, "tmp", 01777, 0) < 0 || fchmodat(dfd, "var/tmp", 01777, 0) < 0 ||
            fchmodat(dfd, "root", 0700, 0) < 0)
                return vps_err_sys(err, errno, "setting directory modes");
        int r = copy_binary(dfd, bb, "bin/busybox", err);
        if (r < 0 || (r = link_applets(dfd, bb, err)) < 0)
                return r;
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                if ((r = write_text(dfd, files[i].path, files[i].text, files[i].mode, err)) < 0)
                        return r;
        if (symlinkat("/proc/self/mounts", dfd, "etc/mtab") < 0)
                return vps_err_sys(err, errno, "linking etc/mtab");
        _cleanup_free_ char *banner = NULL;
        if ((r = run_busybox(bb, "--help", &banner, err)) < 0)
                return r;
        parse_version(banner, ret_version, size);
        return 0;
}
