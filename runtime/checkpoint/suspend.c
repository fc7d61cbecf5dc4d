/* libvps: a VPS's suspend to disk and its resume with criu (checkpoint.h). The options are
 * the ones proven in the qemu guest (tests/vm/test_criu.sh, docs/architecture.md "CRIU"):
 * each bind a start makes from the host (sandbox.h vps_host_binds) is an external mount,
 * the console pty an external tty, cgroups "soft"; a restore gets a root built as a start
 * builds it and the binds' sources staged where the VPS's root reaches them. */
#include "checkpoint/checkpoint.h"
#include "config/config.h"
#include "sandbox/sandbox.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MOUNTINFO_MAX (4 << 20)
#define ARGS_MAX      (2 * VPS_HOST_BINDS_MAX + 40)

/* Options of both dump and restore. */
static const char *const common_opts[] = {
        "--tcp-established", "--ext-unix-sk",         "--file-locks",
        "--link-remap",      "--manage-cgroups=soft",
};

struct argv_buf {
        char *v[ARGS_MAX + 1];
        char text[ARGS_MAX][480];
        unsigned int n;
};

__attribute__((format(printf, 2, 3))) static void arg(struct argv_buf *a, const char *fmt, ...)
{
        if (a->n >= ARGS_MAX)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(a->text[a->n], sizeof(a->text[0]), fmt, ap);
        va_end(ap);
        a->v[a->n] = a->text[a->n];
        a->v[++a->n] = NULL;
}

/* sub: "" (the images' directory) or a pre-copy round's ("pre-K", in it) */
static void args_begin(struct argv_buf *a, const struct vps_checkpoint_params *p, const char *verb,
                       const char *log, const char *sub)
{
        a->n = 0;
        arg(a, "%s", p->criu);
        arg(a, "%s", verb);
        arg(a, "%s", "-D");
        arg(a, "%s/" VPS_CHECKPOINT_DIR "%s%s", p->vps_dir, sub[0] ? "/" : "", sub);
        arg(a, "%s", "-o");
        arg(a, "%s", log);
        for (size_t i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
                arg(a, "%s", common_opts[i]);
}

/* Is target a mount point in the init's mount table whose root is not its file system's
 * own ("/"): a bind of something the VPS does not mount itself? */
static bool bound_in(const char *mountinfo, const char *target)
{
        size_t tl = strlen(target);
        for (const char *l = mountinfo; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                const char *f = l;
                for (int i = 0; i < 3 && f; i++) { /* id parent dev */
                        f = strchr(f, ' ');
                        f = f ? f + 1 : NULL;
                }
                const char *mp = f ? strchr(f, ' ') : NULL;
                if (!mp)
                        continue;
                bool root_slash = mp - f == 1 && *f == '/';
                mp++;
                if (!root_slash && strncmp(mp, target, tl) == 0 && mp[tl] == ' ')
                        return true;
        }
        return false;
}

static int read_mountinfo(pid_t pid, char **ret, vps_error *err)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "reading %s", path);
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap);
        while (buf) {
                if (len + 1 >= cap) {
                        char *n = cap < MOUNTINFO_MAX ? realloc(buf, cap * 2) : NULL;
                        if (!n) {
                                free(buf);
                                return vps_err(err, E2BIG, "%s is too large", path);
                        }
                        buf = n;
                        cap *= 2;
                }
                ssize_t r = read(fd, buf + len, cap - len - 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        free(buf);
                        return vps_err_sys(err, e, "reading %s", path);
                }
                if (r == 0)
                        break;
                len += (size_t)r;
        }
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        buf[len] = '\0';
        *ret = buf;
        return 0;
}

static void tty_key(const struct stat *st, char *ret, size_t size)
{
        (void)snprintf(ret, size, "tty[%llx:%llx]", (unsigned long long)st->st_rdev,
                       (unsigned long long)st->st_dev);
}

/* criu's log's first error line, when it failed. */
int vps_checkpoint_log_error(int vps_dir_fd, const char *log, int status, vps_error *err)
{
        char name[128];
        (void)snprintf(name, sizeof(name), VPS_CHECKPOINT_DIR "/%s", log);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        vps_error e;
        const char *last = NULL;
        /* The first: what went wrong; the later ones follow from it. */
        if (vps_read_file_at(vps_dir_fd, name, &text, &len, &e) == 0)
                for (char *l = text; !last && l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                        size_t ll = strcspn(l, "\n");
                        if (memmem(l, ll, "Error", 5) || memmem(l, ll, "BUG", 3))
                                last = l;
                }
        /* Escaped: criu names the guest's paths and processes in its errors, and a name of the
         * guest's choosing would reach the operator's terminal (vpsctl) and vpsd's log. */
        size_t n = last ? strcspn(last, "\n") : 0;
        char line[1024];
        vps_printable(last ? last : "", n > 300 ? 300 : n, line, sizeof(line));
        return vps_err(err, EIO, "criu %s (status %d)%s%s", log, status, n ? ": " : "", line);
}

static int run_wait(char *const argv[], int out_dir_fd, vps_error *err)
{
        _cleanup_close_ int out =
                openat(out_dir_fd, "criu.out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_t pid = fork();
        if (pid == 0) {
                (void)signal(SIGPIPE, SIG_DFL);         /* vpsd ignores it */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* a dump stops with its job */
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 ||
                    (out >= 0 && (dup2(out, 1) < 0 || dup2(out, 2) < 0)))
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        if (pid < 0)
                return vps_err_sys(err, errno, "fork");
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vps_err_sys(err, errno, "waiting for criu");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int dump_meta(int dir_fd, const char *tty, const char *boot_id,
                     const struct vps_host_bind *b, const bool *used, unsigned int n,
                     vps_error *err)
{
        _cleanup_json_ json_t *keys = json_array();
        for (unsigned int i = 0; keys && i < n; i++)
                if (used[i])
                        json_array_append_new(keys, json_string(b[i].key));
        _cleanup_json_ json_t *o =
                json_pack("{s:s, s:O, s:I, s:s}", "tty", tty, "externals", keys, "dumped_at",
                          (json_int_t)time(NULL), "boot_id", boot_id);
        _cleanup_free_ char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_atomic(dir_fd, VPS_CHECKPOINT_META, text, strlen(text), 0600, err);
}

/* criu pre-dump into pre-K (k > 0), or the dump (k 0): of process pid, the binds used as
 * externals, with --track-mem and the last round as parent when there are rounds. */
static int run_dump(const struct vps_checkpoint_params *p, int vd, int img, unsigned int k,
                    const char *pid, const struct vps_host_bind *b, const bool *used,
                    unsigned int n, const char *tty, vps_error *err)
{
        static struct argv_buf a;
        char sub[16] = "", log[40], prev[24] = "";
        _cleanup_close_ int out = -1;
        if (k) {
                (void)snprintf(sub, sizeof(sub), "pre-%u", k);
                if (mkdirat(img, sub, 0700) < 0 ||
                    (out = openat(img, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                        return vps_err_sys(err, errno, "creating %s", sub);
        }
        unsigned int last = k ? k - 1 : p->rounds;
        if (last)
                (void)snprintf(prev, sizeof(prev), k ? "../pre-%u" : "pre-%u", last);
        (void)snprintf(log, sizeof(log), "%s%s%s", sub, k ? "/" : "",
                       k ? "pre-dump.log" : "dump.log");
        args_begin(&a, p, k ? "pre-dump" : "dump", k ? "pre-dump.log" : "dump.log", sub);
        arg(&a, "%s", "-t");
        arg(&a, "%s", pid);
        if (!k) {
                /* (a restore ignores it: the lock goes with the restored namespace) */
                arg(&a, "%s", "--network-lock");
                arg(&a, "%s", "nftables");
        }
        for (unsigned int i = 0; i < n; i++)
                if (used[i]) {
                        arg(&a, "%s", "--external");
                        arg(&a, "mnt[%s]:%s", b[i].target, b[i].key);
                }
        arg(&a, "%s", "--external");
        arg(&a, "%s", tty);
        if (p->rounds)
                arg(&a, "%s", "--track-mem");
        if (prev[0]) {
                arg(&a, "%s", "--prev-images-dir");
                arg(&a, "%s", prev);
        }
        int st = run_wait(a.v, k ? out : img, err);
        if (st > 0)
                return vps_checkpoint_log_error(vd, log, st, err);
        return st < 0 ? st : 0;
}

int vps_checkpoint_dump(const struct vps_checkpoint_params *p, int64_t *ret_frozen_ns,
                        vps_error *err)
{
        _cleanup_close_ int vd = open(p->vps_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (vd < 0)
                return vps_err_sys(err, errno, "opening %s", p->vps_dir);
        int r = vps_rm_rf_at(vd, VPS_CHECKPOINT_DIR, err);
        if (r < 0)
                return r;
        if (mkdirat(vd, VPS_CHECKPOINT_DIR, 0700) < 0)
                return vps_err_sys(err, errno, "creating the images' directory");
        _cleanup_close_ int img =
                openat(vd, VPS_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *mi = NULL;
        struct stat tty_st;
        if (img < 0)
                r = vps_err_sys(err, errno, "opening the images' directory");
        else if (fstat(p->console, &tty_st) < 0)
                r = vps_err_sys(err, errno, "the console's tty");
        else
                r = read_mountinfo(p->pid, &mi, err);
        static struct vps_host_bind b[VPS_HOST_BINDS_MAX];
        static bool used[VPS_HOST_BINDS_MAX];
        unsigned int n = r < 0 ? 0
                               : vps_host_binds(p->cfg, p->vps_dir, p->run_dir, p->lxcfs, b,
                                                VPS_HOST_BINDS_MAX);
        char tty[80], pid[16];
        if (r == 0) {
                tty_key(&tty_st, tty, sizeof(tty));
                (void)snprintf(pid, sizeof(pid), "%d", (int)p->pid);
                for (unsigned int i = 0; i < n; i++)
                        used[i] = bound_in(mi, b[i].target);
                /* Pre-copy: rounds of memory while it runs, each of the pages dirtied since
                 * the last; then the dump proper, frozen, of what changed since the last. */
                for (unsigned int k = 1; r == 0 && k <= p->rounds; k++)
                        r = run_dump(p, vd, img, k, pid, b, used, n, tty, err);
                struct timespec ts;
                (void)clock_gettime(CLOCK_MONOTONIC, &ts);
                *ret_frozen_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                if (r == 0)
                        r = run_dump(p, vd, img, 0, pid, b, used, n, tty, err);
        }
        /* Its boot id goes with the images: a resume where the run directory lacks the file
         * (another host, a host reboot) binds the same one again. */
        char boot_id[40];
        if (r == 0)
                vps_checkpoint_boot_id_read(p->run_dir, p->cfg->id, boot_id);
        if (r == 0)
                r = dump_meta(img, tty, boot_id, b, used, n, err);
        if (r < 0) {
                vps_error e;
                (void)vps_rm_rf_at(vd, VPS_CHECKPOINT_DIR, &e);
        }
        return r;
}

/* The tty and the external mounts' keys the dump recorded. */
static int read_meta(int vd, char *tty, size_t size, char boot_id[40], json_t **ret_keys,
                     vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = vps_read_file_at(vd, VPS_CHECKPOINT_DIR "/" VPS_CHECKPOINT_META, &text, &len, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = json_loads(text, 0, NULL);
        const char *t = json_string_value(json_object_get(o, "tty"));
        json_t *keys = json_object_get(o, "externals");
        if (!t || strncmp(t, "tty[", 4) != 0 || strlen(t) >= size || !json_is_array(keys))
                return vps_err(err, EBADMSG, "the images' " VPS_CHECKPOINT_META " is damaged");
        strcpy(tty, t);
        (void)snprintf(boot_id, 40, "%s", json_string_value(json_object_get(o, "boot_id")) ?: "");
        *ret_keys = json_incref(keys);
        return 0;
}

static bool has_key(json_t *keys, const char *key)
{
        size_t i;
        json_t *k;
        json_array_foreach(keys, i, k) if (json_is_string(k) &&
                                           !strcmp(json_string_value(k), key)) return true;
        return false;
}

int vps_checkpoint_restore_exec(const struct vps_checkpoint_params *p, vps_error *err)
{
        _cleanup_close_ int vd = open(p->vps_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (vd < 0)
                return vps_err_sys(err, errno, "opening %s", p->vps_dir);
        char tty[80], boot_id[40];
        _cleanup_json_ json_t *keys = NULL;
        int r = read_meta(vd, tty, sizeof(tty), boot_id, &keys, err);
        if (r < 0 || (r = vps_checkpoint_boot_id_ensure(p->run_dir, p->cfg->id, boot_id, err)) < 0)
                return r;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return vps_err_sys(err, errno, "a mount namespace for the restore");
        if ((r = vps_restore_root(p->vps_dir, p->lower, p->cfg->uid_base, p->cfg->uid_count, p->cfg,
                                  err)) < 0)
                return vps_err_wrap(err, "building the root");
        static struct vps_host_bind all[VPS_HOST_BINDS_MAX], b[VPS_HOST_BINDS_MAX];
        unsigned int na = vps_host_binds(p->cfg, p->vps_dir, p->run_dir, p->lxcfs, all,
                                         VPS_HOST_BINDS_MAX),
                     n = 0;
        for (unsigned int i = 0; i < na; i++)
                if (has_key(keys, all[i].key))
                        b[n++] = all[i];
        if ((r = vps_restore_stage(VPS_CHECKPOINT_STAGE, b, n, p->console, err)) < 0)
                return r;
        /* The namespace criu makes is the range vpsd gave the VPS, whatever the images say
         * (a migration's came from another host). */
        _cleanup_close_ int img =
                openat(vd, VPS_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (img < 0)
                return vps_err_sys(err, errno, "opening the images");
        if ((r = vps_checkpoint_own_userns(img, p->cfg->uid_base, p->cfg->uid_count, err)) < 0)
                return r;
        /* criu reads the images as the VPS's root, inside its user namespace (a pre-copy's
         * rounds too: the pages are read by the restored tasks). */
        if (fchownat(vd, VPS_CHECKPOINT_DIR, p->cfg->uid_base, p->cfg->uid_base, 0) < 0 ||
            vps_checkpoint_lend_rounds(img, p->cfg->uid_base) < 0)
                return vps_err_sys(err, errno, "lending the images to the VPS's root");
        int tfd = fcntl(p->console, F_DUPFD, 100); /* inherited by criu */
        _cleanup_close_ int out = openat(vd, VPS_CHECKPOINT_DIR "/criu.out",
                                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (tfd < 0 || out < 0 || null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(out, 2) < 0)
                return vps_err_sys(err, errno, "preparing criu's fds");
        static struct argv_buf a;
        char fdarg[120], pidfile[600], root[600];
        (void)snprintf(fdarg, sizeof(fdarg), "fd[%d]:%s", tfd, tty);
        (void)snprintf(pidfile, sizeof(pidfile), "%s/" VPS_CHECKPOINT_DIR "/restored.pid",
                       p->vps_dir);
        (void)snprintf(root, sizeof(root), "%s/rootfs", p->vps_dir);
        args_begin(&a, p, "restore", "restore.log", "");
        const char *const fixed[] = {"--restore-detached",
                                     "--restore-sibling",
                                     "--pidfile",
                                     pidfile,
                                     "--root",
                                     root,
                                     "--inherit-fd",
                                     fdarg};
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                arg(&a, "%s", fixed[i]);
        for (unsigned int i = 0; i < n; i++) {
                arg(&a, "%s", "--external");
                arg(&a, "mnt[%s]:" VPS_CHECKPOINT_STAGE "/%s", b[i].key, b[i].key);
        }
        if (p->cgroup_root[0]) {
                arg(&a, "%s", "--cgroup-root");
                arg(&a, "%s", p->cgroup_root);
        }
        /* The VPS's eth0 comes back as one end of a new veth pair; the other, in our network
         * namespace (the host's), is named as vpsd names it and adopted once restored. */
        if (p->veth[0]) {
                arg(&a, "%s", "--external");
                arg(&a, "veth[eth0]:%s", p->veth);
        }
        /* Its /proc and /sys locked once criu has made them, before any task runs
         * (lockmounts.c): the helper by an fd criu keeps (its child closes its own). */
        if (p->lock_helper) {
                int exe = open(p->lock_helper, O_PATH | O_CLOEXEC);
                int keep = exe < 0 ? -1 : fcntl(exe, F_DUPFD, 100); /* inherited by criu */
                if (exe >= 0)
                        close(exe);
                if (keep < 0 || !p->cgroup_dir[0] ||
                    setenv(VPS_CHECKPOINT_LOCK_ENV, p->cgroup_dir, 1) < 0)
                        return vps_err_sys(err, keep < 0 ? errno : EINVAL,
                                           "preparing the lock of the VPS's mounts");
                arg(&a, "%s", "--action-script");
                arg(&a, "/proc/%d/fd/%d", (int)getpid(), keep);
        }
        (void)signal(SIGPIPE, SIG_DFL); /* vpsd ignores it */
        execv(a.v[0], a.v);
        return vps_err_sys(err, errno, "running %s", a.v[0]);
}

pid_t vps_checkpoint_restored_pid(int vps_dir_fd, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = vps_read_file_at(vps_dir_fd, VPS_CHECKPOINT_DIR "/restored.pid", &text, &len, err);
        if (r < 0)
                return r;
        char *end;
        long pid = strtol(text, &end, 10);
        if (pid <= 1 || pid > (1 << 22) || (*end && *end != '\n'))
                return vps_err(err, EBADMSG, "criu's pidfile says '%.20s'", text);
        return (pid_t)pid;
}

bool vps_checkpoint_exists(int vps_dir_fd)
{
        return faccessat(vps_dir_fd, VPS_CHECKPOINT_DIR "/" VPS_CHECKPOINT_META, F_OK,
                         AT_SYMLINK_NOFOLLOW) == 0;
}

void vps_checkpoint_reclaim(int vps_dir_fd)
{
        if (fchownat(vps_dir_fd, VPS_CHECKPOINT_DIR, 0, 0, 0) < 0 && errno != ENOENT)
                return; /* left to the VPS's root, in host root's 0700 directory */
        _cleanup_close_ int img = openat(vps_dir_fd, VPS_CHECKPOINT_DIR,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (img >= 0)
                (void)vps_checkpoint_lend_rounds(img, 0);
        (void)unlinkat(vps_dir_fd, VPS_CHECKPOINT_DIR "/restored.pid", 0);
}
