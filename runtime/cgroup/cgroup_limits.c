/* libvps: enforcing VPS limits through cgroup v2 files, and delegating controllers down to
 * the VPS cgroups. A limit the host cannot enforce is refused (or, with enforce=warn,
 * reported), never silently accepted. */
#include "cgroup/cgroup.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *const controllers[] = {"memory", "pids", "cpu", "io", "cpuset"};

static int write_at(const char *dir, const char *file, const char *value)
{
        char p[700];
        (void)snprintf(p, sizeof(p), "%s/%s", dir, file);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, value, strlen(value));
        return n == (ssize_t)strlen(value) ? 0 : -(n < 0 ? errno : EIO);
}

static bool has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
                        return true;
        return false;
}

/* Moves every process of dir (vpsd, its console keeper, whatever the service manager
 * started there) into the leaf dir/vpsd. */
static int move_into_leaf(const char *dir)
{
        char leaf[600], p[620];
        (void)snprintf(leaf, sizeof(leaf), "%s/vpsd", dir);
        (void)snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_free_ char *procs = NULL;
        vps_error e;
        int r = vps_read_file_at(AT_FDCWD, p, &procs, NULL, &e);
        if (r < 0)
                return r;
        for (char *line = procs, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                r = write_at(leaf, "cgroup.procs", line);
                if (r < 0 && r != -ESRCH)
                        return r;
        }
        return 0;
}

/* Enables every controller it can in dir's subtree. vpsd's own cgroup cannot hand out
 * controllers while processes sit in it (no internal processes): they move into a leaf. */
static void enable_in(const char *dir, bool may_move)
{
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
                char w[32];
                (void)snprintf(w, sizeof(w), "+%s", controllers[i]);
                int r = write_at(dir, "cgroup.subtree_control", w);
                if (r == -EBUSY && may_move) {
                        if (move_into_leaf(dir) == 0)
                                (void)write_at(dir, "cgroup.subtree_control", w);
                        may_move = false;
                }
        }
}

void vps_cgroup_hand_down(int dir_fd)
{
        _cleanup_close_ int fd = openat(dir_fd, "cgroup.controllers", O_RDONLY | O_CLOEXEC);
        char have[256];
        ssize_t n = fd < 0 ? -1 : read(fd, have, sizeof(have) - 1);
        if (n <= 0)
                return;
        have[n] = '\0';
        char want[128] = "";
        size_t len = 0;
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
                if (has_word(have, controllers[i]))
                        len += (size_t)snprintf(want + len, sizeof(want) - len, "%s+%s",
                                                len ? " " : "", controllers[i]);
        _cleanup_close_ int sc =
                len ? openat(dir_fd, "cgroup.subtree_control", O_WRONLY | O_CLOEXEC) : -1;
        if (sc >= 0)
                (void)!write(sc, want, len);
}

void vps_cgroups_delegate(const struct vps_cgroups *cg, const char *own)
{
        /* From vpsd's own cgroup when the parent is below it, else from the top. */
        size_t ml = strlen(cg->mount), ol = strlen(own);
        const char *rel = cg->parent + ml;
        bool below = strcmp(own, "/") != 0 && strncmp(rel, own, ol) == 0 && rel[ol] == '/';
        char path[600];
        (void)snprintf(path, sizeof(path), "%s", cg->mount);
        size_t start = below ? ol : 0;
        if (below)
                (void)snprintf(path, sizeof(path), "%s%s", cg->mount, own);
        enable_in(path, below);
        for (const char *p = rel + start; *p;) {
                const char *slash = strchr(p + 1, '/');
                size_t n = slash ? (size_t)(slash - rel) : strlen(rel);
                (void)snprintf(path, sizeof(path), "%s%.*s", cg->mount, (int)n, rel);
                if (!slash)
                        break; /* the parent itself: its subtree is enabled below */
                enable_in(path, false);
                p = slash;
        }
        enable_in(cg->parent, false);
}

/* Controllers VPS cgroups get: those enabled in the parent's subtree. */
static void available(const struct vps_cgroups *cg, char *buf, size_t size)
{
        char p[600];
        (void)snprintf(p, sizeof(p), "%s/cgroup.subtree_control", cg->parent);
        _cleanup_free_ char *text = NULL;
        vps_error e;
        buf[0] = '\0';
        if (vps_read_file_at(AT_FDCWD, p, &text, NULL, &e) == 0)
                (void)snprintf(buf, size, "%s", text);
}

void vps_cgroups_find_iodev(struct vps_cgroups *cg, int storage_fd)
{
        struct stat st;
        cg->host.iodev[0] = '\0';
        if (fstat(storage_fd, &st) < 0 || major(st.st_dev) == 0)
                return; /* tmpfs, overlayfs, btrfs subvolumes: no single block device */
        char p[128], target[256];
        (void)snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
        (void)snprintf(cg->host.iodev, sizeof(cg->host.iodev), "%u:%u", major(st.st_dev),
                       minor(st.st_dev));
        char part[160];
        (void)snprintf(part, sizeof(part), "%s/partition", p);
        if (access(part, F_OK) != 0)
                return;
        /* A partition: its disk is the parent directory in sysfs. */
        ssize_t n = readlink(p, target, sizeof(target) - 1);
        if (n <= 0) {
                cg->host.iodev[0] = '\0';
                return;
        }
        target[n] = '\0';
        char *slash = strrchr(target, '/');
        if (slash)
                *slash = '\0';
        char dev[400];
        (void)snprintf(dev, sizeof(dev), "/sys/dev/block/%s/dev", target);
        _cleanup_free_ char *text = NULL;
        vps_error e;
        cg->host.iodev[0] = '\0';
        if (vps_read_file_at(AT_FDCWD, dev, &text, NULL, &e) == 0)
                (void)snprintf(cg->host.iodev, sizeof(cg->host.iodev), "%.*s",
                               (int)strcspn(text, "\n"), text);
}

static int check_with(const struct vps_cgroups *cg, const char *avail, const struct vps_limits *l,
                      bool strict, char *warn, size_t warn_size, vps_error *err)
{
        if (warn_size)
                warn[0] = '\0';
        for (int k = 0; k < VPS_LIM_COUNT; k++) {
                const struct vps_limit_info *in = &vps_limit_info[k];
                if (!in->controller || l->v[k] == VPS_LIMIT_NONE)
                        continue; /* quotas are checked by disk.c */
                bool io_dev = k == VPS_LIM_IOLIMIT || k == VPS_LIM_IOPSLIMIT;
                if (io_dev && !cg->host.iodev[0]) {
                        if (strict)
                                return vps_err(err, EOPNOTSUPP,
                                               "cannot enforce '%s': the VPS storage is on no "
                                               "block device (io.max limits a disk)",
                                               in->name);
                        continue;
                }
                if (has_word(avail, in->controller))
                        continue;
                /* Bound to cgroup v1, a controller cannot be enabled in cgroup v2 at all. */
                bool v1 = has_word(cg->v1_bound, in->controller);
                if (strict && v1)
                        return vps_err(
                                err, EOPNOTSUPP,
                                "cannot enforce '%s': the %s controller is held by cgroup "
                                "v1 on this host, so cgroup v2 cannot have it: " VPS_CG_V1_HINT
                                ", or run vpsd with --enforce-limits warn",
                                in->name, in->controller);
                if (strict)
                        return vps_err(err, EOPNOTSUPP,
                                       "cannot enforce '%s': the %s controller is not available "
                                       "under %s (enable it for vpsd's cgroup, or run vpsd "
                                       "with --enforce-limits warn)",
                                       in->name, in->controller, cg->parent);
                size_t used = strlen(warn);
                (void)snprintf(warn + used, warn_size - used,
                               "%s'%s' not enforced (no %s controller%s)", used ? "; " : "",
                               in->name, in->controller, v1 ? ": held by cgroup v1" : "");
        }
        return 0;
}

void vps_cgroup_parse_v1(const char *text, char *ret, size_t size)
{
        /* "#subsys_name hierarchy num_cgroups enabled", then one line per controller. */
        size_t used = 0;
        ret[0] = '\0';
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                char name[32];
                unsigned int hier;
                if (*l == '#' || sscanf(l, "%31s %u", name, &hier) != 2 || hier == 0)
                        continue;
                if (strcmp(name, "blkio") == 0)
                        strcpy(name, "io"); /* v1's name for what v2 calls io */
                for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
                        if (strcmp(name, controllers[i]) == 0 && !has_word(ret, name))
                                used += (size_t)snprintf(ret + used, size - used, "%s%s",
                                                         used ? " " : "", name);
                if (used >= size)
                        used = size - 1;
        }
}

void vps_cgroup_describe(const struct vps_cgroups *cg, char *ret, size_t size)
{
        char avail[256], have[128] = "", miss[256] = "";
        size_t nh = 0, nm = 0;
        bool v1 = false;
        available(cg, avail, sizeof(avail));
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
                const char *c = controllers[i];
                if (has_word(avail, c)) {
                        nh += (size_t)snprintf(have + nh, sizeof(have) - nh, "%s%s", nh ? " " : "",
                                               c);
                        continue;
                }
                bool held = has_word(cg->v1_bound, c);
                v1 |= held;
                nm += (size_t)snprintf(miss + nm, sizeof(miss) - nm, "%s%s%s", nm ? ", " : "", c,
                                       held ? " (held by cgroup v1)" : "");
        }
        if (!miss[0])
                (void)snprintf(ret, size, "%s under %s", have, cg->parent);
        else
                (void)snprintf(ret, size,
                               "missing under %s: %s; available: %s; limits on the missing "
                               "ones are refused%s%s",
                               cg->parent, miss, have[0] ? have : "none",
                               v1 ? "; for those of cgroup v1, " : "", v1 ? VPS_CG_V1_HINT : "");
}

int vps_cgroup_check_limits(const struct vps_cgroups *cg, const struct vps_limits *l, bool strict,
                            char *warn, size_t warn_size, vps_error *err)
{
        char avail[256];
        available(cg, avail, sizeof(avail));
        return check_with(cg, avail, l, strict, warn, warn_size, err);
}

/* The top cgroup enforces every limit; LXCFS, though, draws /proc/cpuinfo and the CPU view of
 * /proc/stat from cpu.max and cpuset.cpus of the init's own cgroup (the guest leaf) alone, not
 * of its parents. Those two are copied there, where they stay host root's (not delegated):
 * they show the plan, and a guest could not widen what the top allows anyway. A VPS of the
 * older layout has no guest leaf: nothing to copy to. */
static void mirror_to_guest(const char *path, const char *file, const char *value)
{
        if (strcmp(file, "cpu.max") != 0 && strcmp(file, "cpuset.cpus") != 0)
                return;
        char guest[PATH_MAX];
        if (snprintf(guest, sizeof(guest), "%s/%s", path, VPS_CG_GUEST) < (int)sizeof(guest))
                (void)write_at(guest, file, value);
}

int vps_cgroup_apply_limits(const struct vps_cgroups *cg, const char *path,
                            const struct vps_limits *l, const struct vps_limits *old, bool strict,
                            char *warn, size_t warn_size, vps_error *err)
{
        /* One read of the parent's controllers serves the check and the writes. */
        char avail[256];
        available(cg, avail, sizeof(avail));
        int r = check_with(cg, avail, l, strict, warn, warn_size, err);
        if (r < 0)
                return r;
        const char *file[VPS_LIMIT_FILES_MAX], *ctl[VPS_LIMIT_FILES_MAX];
        char value[VPS_LIMIT_FILES_MAX][VPS_LIMIT_VALUE_MAX];
        int n = vps_limits_files(l, old, &cg->host, file, value, ctl);
        for (int i = 0; i < n; i++) {
                if (!has_word(avail, ctl[i]))
                        continue; /* refused or reported above */
                if ((r = write_at(path, file[i], value[i])) < 0)
                        return vps_err_sys(err, -r, "writing %s = %s", file[i], value[i]);
                mirror_to_guest(path, file[i], value[i]);
        }
        return 0;
}
