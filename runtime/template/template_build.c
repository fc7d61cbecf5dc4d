/* libvps: building a template from its recipe in a child process. The child runs debootstrap
 * into ROOT/templates/.build-NAME-PID/rootfs, applies the distro's fix-ups, writes meta.json
 * and publishes the template with one rename; it reports progress on its output as
 * "P: phase" lines (debootstrap's own "I:" lines pass through) and "E: message" on failure,
 * after removing its staging dir. vpsd reads that output and reaps the child from its loop. */
#include "templates/templates.h"
#include "vps/cleanup.h"
#include "inst/inst.h"
#include "vps/safepath.h"
#include "vps/syscalls.h"
#include "template/template.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void stage_name(char *buf, size_t size, const char *name, pid_t pid)
{
        (void)snprintf(buf, size, ".build-%s-%d", name, (int)pid);
}

static int run_debootstrap(const struct vps_recipe *rc, const char *target, const char *mirror,
                           vps_error *err)
{
        char include[512];
        (void)snprintf(include, sizeof(include), "--include=%s", rc->include);
        char *argv[] = {"debootstrap",  "--variant=minbase", include, (char *)rc->suite,
                        (char *)target, (char *)mirror,      NULL};
        /* dpkg without an fsync per file (the build's child only): the tree is synced once
         * before it is published (build_into), and a build cut short leaves nothing. The
         * defaults stay forced as dpkg's own, which DPKG_FORCE replaces. */
        if (setenv("DPKG_FORCE", "unsafe-io,security-mac,downgrade", 1) < 0)
                return vps_err_sys(err, errno, "setting DPKG_FORCE");
        pid_t pid;
        int r = posix_spawnp(&pid, "debootstrap", NULL, NULL, argv, environ);
        if (r != 0)
                return vps_err_sys(err, r, "running debootstrap (is it installed?)");
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vps_err_sys(err, errno, "waiting for debootstrap");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        return vps_err(err, EIO, "debootstrap %s from %s failed (%s %d)", rc->suite, mirror,
                       WIFEXITED(status) ? "exit" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void print_entry(const char *path, const char *refused, void *arg)
{
        if (refused)
                printf("W: refused %.300s: %.200s\n", path, refused);
        else
                printf("I: Extracting %.300s\n", path);
}

/* The distro of an imported tree, from its /etc/os-release (ID=): its halt signal and
 * fix-ups follow. Unknown ones are taken for systemd systems. */
static const char *detect_distro(int rfd, int (**fixup)(int, vps_error *))
{
        char text[4096] = "";
        for (size_t i = 0; i < 2 && !text[0]; i++) {
                const char *p = i == 0 ? "/etc/os-release" : "/usr/lib/os-release";
                vps_error e = {0};
                _cleanup_close_ int fd = vps_open_in_root(rfd, p, O_RDONLY, 0, &e);
                ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
                text[n > 0 ? n : 0] = '\0';
        }
        *fixup = NULL;
        for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, "ID=", 3) != 0)
                        continue;
                const char *id = l + 3 + (l[3] == '"');
                if (strncmp(id, "debian", 6) == 0 || strncmp(id, "ubuntu", 6) == 0) {
                        *fixup = vps_debian_fixup;
                        return "debian";
                }
                if (strncmp(id, "alpine", 6) == 0 || strncmp(id, "busybox", 7) == 0)
                        return "busybox";
        }
        return "linux";
}

static int build_into(const char *tpl_dir, int tpl_fd, const char *stage, const char *name,
                      const struct vps_build_source *src, vps_error *err)
{
        _cleanup_close_ int sfd = openat(tpl_fd, stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
                return vps_err_sys(err, errno, "opening %s", stage);
        /* A real path: debootstrap's own children (chroot, dpkg) must reach it too. */
        char target[1024];
        if (snprintf(target, sizeof(target), "%s/%s/rootfs", tpl_dir, stage) >= (int)sizeof(target))
                return vps_err(err, ENAMETOOLONG, "template path too long");
        if (mkdirat(sfd, "rootfs", 0755) < 0)
                return vps_err_sys(err, errno, "creating rootfs");
        _cleanup_close_ int rfd = openat(sfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return vps_err_sys(err, errno, "opening rootfs");
        const struct vps_recipe *rc = vps_recipe_find(name);
        const char *distro = rc ? rc->distro : NULL, *kind = rc ? rc->suite : "import";
        int (*fixup)(int, vps_error *) = rc ? rc->fixup : NULL;
        int r;
        if (src->import_path) {
                printf("P: extracting %s\n", src->import_path);
                unsigned int entries, refused;
                r = vps_template_extract(src->import_path, rfd, print_entry, NULL, &entries,
                                         &refused, err);
                if (r < 0)
                        return r;
                distro = detect_distro(rfd, &fixup);
                const struct vps_distro *d = vps_distro_find(distro);
                if ((r = vps_template_rootfs_check(rfd, d ? d->init : "/sbin/init", err)) < 0)
                        return vps_err_wrap(err, "%s", src->import_path);
                printf("P: imported %u entries, refused %u, distro %s\n", entries, refused, distro);
        } else {
                printf("P: resolving %s from %s\n", rc->suite, src->mirror);
                fflush(stdout);
                if ((r = run_debootstrap(rc, target, src->mirror, err)) < 0)
                        return r;
        }
        printf("P: fix-ups\n");
        fflush(stdout);
        if (fixup && (r = fixup(rfd, err)) < 0)
                return vps_err_wrap(err, "fix-ups");
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char version[64];
        (void)snprintf(version, sizeof(version), "%s-", kind);
        (void)strftime(version + strlen(version), sizeof(version) - strlen(version),
                       "%Y%m%dT%H%M%SZ", &tm);
        printf("P: publishing\n");
        fflush(stdout);
        if (syncfs(rfd) < 0)
                return vps_err_sys(err, errno, "syncing the template's files");
        if ((r = vps_template_write_meta(sfd, name, version, distro, vps_template_tree_size(rfd),
                                         err)) < 0)
                return r;
        if (renameat2(tpl_fd, stage, tpl_fd, name, RENAME_NOREPLACE) < 0)
                return errno == EEXIST ? vps_err(err, EEXIST, "template '%s' already exists", name)
                                       : vps_err_sys(err, errno, "publishing template %s", name);
        (void)fsync(tpl_fd);
        return 0;
}

/* The child: never returns. */
_Noreturn static void builder_main(const char *tpl_dir, const char *name,
                                   const struct vps_build_source *src, int out)
{
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL); /* vpsd blocks some for its signalfd */
        signal(SIGPIPE, SIG_DFL);
        int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); /* not vpsd's -500 */
        if (oom >= 0 && write(oom, "0", 1) == 1)
                close(oom);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                _exit(127);
        (void)vps_sys_close_range(3, ~0U, 0);
        setvbuf(stdout, NULL, _IOLBF, 0);
        vps_error err = {0};
        int tpl_fd = open(tpl_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tpl_fd < 0) {
                printf("E: opening %s: %s\n", tpl_dir, strerror(errno));
                _exit(1);
        }
        char stage[128];
        stage_name(stage, sizeof(stage), name, getpid());
        int r = mkdirat(tpl_fd, stage, 0700) < 0
                        ? vps_err_sys(&err, errno, "creating %s", stage)
                        : build_into(tpl_dir, tpl_fd, stage, name, src, &err);
        if (r < 0) {
                vps_error ignored;
                (void)vps_rm_rf_at(tpl_fd, stage, &ignored);
                printf("E: %s\n", err.msg);
                _exit(1);
        }
        _exit(0);
}

int vps_template_build_start(struct vps_manager *m, const char *name,
                             const struct vps_build_source *src, struct vps_build *b,
                             vps_error *err)
{
        int r = vps_template_name_check(name, err);
        if (r < 0)
                return r;
        if (!src->import_path && !vps_recipe_find(name))
                return vps_err(err, EINVAL, "cannot build template '%s': this vpsd builds: %s",
                               name, vps_recipe_names());
        if (src->import_path) {
                struct stat st;
                if (src->import_path[0] != '/')
                        return vps_err(err, EINVAL, "import: '%s' is not an absolute path",
                                       src->import_path);
                if (stat(src->import_path, &st) < 0)
                        return vps_err_sys(err, errno, "import: %s", src->import_path);
                if (!S_ISREG(st.st_mode))
                        return vps_err(err, EINVAL, "import: %s is not a file", src->import_path);
        }
        if (faccessat(m->tpl_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return vps_err(err, EEXIST, "template '%s' already exists", name);
        char tpl_dir[600];
        (void)snprintf(tpl_dir, sizeof(tpl_dir), "%s/templates", m->root);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "pipe");
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return vps_err_sys(err, e, "fork");
        }
        if (pid == 0)
                builder_main(tpl_dir, name, src, p[1]);
        close(p[1]);
        *b = (struct vps_build){.pid = pid, .out_fd = p[0], .started_at = time(NULL)};
        (void)snprintf(b->name, sizeof(b->name), "%s", name);
        (void)snprintf(b->phase, sizeof(b->phase), "starting");
        (void)fcntl(b->out_fd, F_SETFL, O_NONBLOCK);
        b->pidfd = vps_sys_pidfd_open(pid, 0);
        if (b->pidfd < 0) {
                int e = errno;
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                vps_closep(&b->out_fd);
                return vps_err_sys(err, e, "pidfd_open");
        }
        return 0;
}

static void set_phase(struct vps_build *b, const char *phase)
{
        if (strcmp(b->phase, phase) != 0) {
                (void)snprintf(b->phase, sizeof(b->phase), "%s", phase);
                b->done = 0;
                b->total = 0;
        }
}

/* debootstrap's "I: Retrieving libc6 2.36-9" (a package, not "I: Retrieving Packages"). */
static bool names_package(const char *rest)
{
        const char *sp = strchr(rest, ' ');
        return sp && sp[1] && !strchr(sp + 1, ' ');
}

/* debootstrap's "I: Unpacking libc6..." (one package), not "I: Unpacking required
 * packages..." that opens a round. */
static bool one_package(const char *rest)
{
        return *rest && !strchr(rest, ' ');
}

static void on_line(struct vps_build *b, const char *l)
{
        static const struct {
                const char *prefix, *phase;
        } steps[] = {
                {"I: Resolving dependencies", "resolving"}, {"I: Retrieving ", "downloading"},
                {"I: Extracting ", "extracting"},           {"I: Unpacking ", "installing"},
                {"I: Configuring ", "installing"},
        };
        if (strncmp(l, "P: ", 3) == 0) {
                char word[32];
                (void)snprintf(word, sizeof(word), "%.*s", (int)strcspn(l + 3, " "), l + 3);
                set_phase(b, word);
        } else if (strncmp(l, "W: refused ", 11) == 0) {
                b->refused++;
        } else if (strncmp(l, "E: ", 3) == 0) {
                /* debootstrap's own E: line says why; the builder's last one what failed. */
                size_t n = strlen(b->error);
                (void)snprintf(b->error + n, sizeof(b->error) - n, "%s%.400s", n ? "; " : "",
                               l + 3);
        }
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                size_t n = strlen(steps[i].prefix);
                if (strncmp(l, steps[i].prefix, n) != 0)
                        continue;
                if (i == 1 && !names_package(l + n))
                        break; /* an index file, not a package */
                if (i >= 3 && !one_package(l + n))
                        break; /* a round of debootstrap's, not a step */
                set_phase(b, steps[i].phase);
                if (i == 1)
                        b->packages++;
                if (i == 2 && strcmp(b->phase, "extracting") == 0 && !b->packages)
                        b->files++; /* an import: debootstrap's extracting counts packages */
                if (i == 2)
                        b->total = b->packages;
                if (i >= 3) {
                        /* debootstrap unpacks, then configures, in two rounds (required, then
                         * base): one count over all four, each package unpacked and configured
                         * once. Core packages are installed without a line, so the count may
                         * end below the total, never above it. */
                        b->total = 2 * b->packages;
                        if (b->done < b->total)
                                b->done++;
                } else if (i != 0) {
                        b->done++;
                }
                break;
        }
        if (*l)
                (void)snprintf(b->last, sizeof(b->last), "%.199s", l);
}

void vps_template_build_read(struct vps_build *b)
{
        for (;;) {
                if (b->out_fd < 0)
                        return;
                if (b->len == sizeof(b->buf))
                        b->len = 0; /* a line longer than the buffer: drop it */
                ssize_t n = read(b->out_fd, b->buf + b->len, sizeof(b->buf) - b->len);
                if (n <= 0)
                        return;
                b->len += (size_t)n;
                char *start = b->buf, *nl;
                while ((nl = memchr(start, '\n', b->len - (size_t)(start - b->buf)))) {
                        *nl = '\0';
                        on_line(b, start);
                        start = nl + 1;
                }
                b->len -= (size_t)(start - b->buf);
                memmove(b->buf, start, b->len);
        }
}

int vps_template_build_end(struct vps_manager *m, struct vps_build *b, vps_error *err)
{
        vps_template_build_read(b);
        int status = 0;
        while (waitpid(b->pid, &status, 0) < 0 && errno == EINTR)
                ;
        vps_closep(&b->pidfd);
        vps_closep(&b->out_fd);
        b->ended_at = time(NULL);
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
                set_phase(b, "done");
                return 0;
        }
        /* A builder killed before it could clean up leaves its staging dir: remove it here. */
        char stage[128];
        stage_name(stage, sizeof(stage), b->name, b->pid);
        vps_error ignored;
        (void)vps_rm_rf_at(m->tpl_fd, stage, &ignored);
        set_phase(b, "failed");
        if (!b->error[0])
                (void)snprintf(b->error, sizeof(b->error), "the builder %s %d",
                               WIFEXITED(status) ? "exited with" : "was killed by signal",
                               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return vps_err(err, EIO, "building template %s: %s", b->name, b->error);
}

json_t *vps_template_build_json(const struct vps_build *b)
{
        bool running = b->pidfd >= 0;
        const char *status = running ? "building" : b->error[0] ? "failed" : "ready";
        int64_t end = running ? (int64_t)time(NULL) : b->ended_at;
        json_t *o =
                json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "name", b->name,
                          "status", status, "phase", b->phase, "packages", (json_int_t)b->packages,
                          "done", (json_int_t)b->done, "total", (json_int_t)b->total, "files",
                          (json_int_t)b->files, "refused", (json_int_t)b->refused, "elapsed",
                          (json_int_t)(end - b->started_at), "last", b->last);
        if (o)
                json_object_set_new(o, "error", b->error[0] ? json_string(b->error) : json_null());
        return o;
}

void vps_template_build_sweep(struct vps_manager *m)
{
        _cleanup_closedir_ DIR *d = vps_opendir_fd(m->tpl_fd);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, ".build-", 7) != 0)
                        continue;
                const char *dash = strrchr(de->d_name, '-');
                long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
                if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
                        continue; /* its builder still runs */
                vps_error ignored;
                (void)vps_rm_rf_at(m->tpl_fd, de->d_name, &ignored);
        }
}
