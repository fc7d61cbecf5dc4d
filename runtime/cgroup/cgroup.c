/* libvps: cgroup v2 placement of VPSes. The cgroup2 mount is found in mountinfo, never
 * assumed; only the cgroup2 tree is ever written. */
#include "cgroup/cgroup.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

int vps_cgroup_find_mount(const char *mountinfo, char *ret, size_t size, vps_error *err)
{
        for (const char *line = mountinfo; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                char buf[4096];
                if (len < sizeof(buf)) {
                        memcpy(buf, line, len);
                        buf[len] = '\0';
                        char *sep = strstr(buf, " - ");
                        char mnt[1024];
                        if (sep && strncmp(sep + 3, "cgroup2 ", 8) == 0 &&
                            sscanf(buf, "%*s %*s %*s %*s %1023s", mnt) == 1) {
                                unescape_octal(mnt);
                                if (strlen(mnt) >= size)
                                        return vps_err(err, ENAMETOOLONG,
                                                       "cgroup2 mount path too long");
                                strcpy(ret, mnt);
                                return 0;
                        }
                }
                line = eol ? eol + 1 : NULL;
        }
        return vps_err(err, ENOENT, "no cgroup2 file system is mounted");
}

int vps_cgroup_parse_self(const char *text, char *ret, size_t size, vps_error *err)
{
        for (const char *line = text; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);
                if (len >= 3 && strncmp(line, "0::", 3) == 0) {
                        if (len - 3 >= size)
                                return vps_err(err, ENAMETOOLONG, "cgroup path too long");
                        memcpy(ret, line + 3, len - 3);
                        ret[len - 3] = '\0';
                        return 0;
                }
                line = eol ? eol + 1 : NULL;
        }
        return vps_err(err, ENOENT, "no cgroup v2 entry in /proc/self/cgroup");
}

void vps_cgroup_default_name(const char *root, char *ret, size_t size)
{
        if (!root || strcmp(root, VPS_DEFAULT_ROOT) == 0) {
                (void)snprintf(ret, size, "vps");
                return;
        }
        (void)snprintf(ret, size, "vps-%08x", vps_fnv1a(root)); /* of the root's path */
}

int vps_cgroup_parent_path(const char *parent_rel, const char *root, char *ret_mount,
                           size_t mount_size, char *ret, size_t size, char *ret_own,
                           size_t own_size, vps_error *err)
{
        _cleanup_free_ char *mi = NULL, *self = NULL;
        int r = vps_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mi, NULL, err);
        if (r < 0 || (r = vps_cgroup_find_mount(mi, ret_mount, mount_size, err)) < 0)
                return r;
        char rel[512];
        r = vps_read_file_at(AT_FDCWD, "/proc/self/cgroup", &self, NULL, err);
        if (r < 0 || (r = vps_cgroup_parse_self(self, ret_own, own_size, err)) < 0)
                return r;
        if (parent_rel && *parent_rel) {
                if (parent_rel[0] != '/' || strstr(parent_rel, "/../") ||
                    strstr(parent_rel, "/./") || strlen(parent_rel) >= 400)
                        return vps_err(err, EINVAL,
                                       "invalid cgroup parent '%.80s': it must be an absolute "
                                       "path inside the cgroup2 tree",
                                       parent_rel);
                (void)snprintf(rel, sizeof(rel), "%s", parent_rel);
        } else {
                /* One parent per state root: two vpsds with their own roots never share
                 * one, nor see each other's VPS cgroups as stale. */
                char name[16];
                vps_cgroup_default_name(root, name, sizeof(name));
                (void)snprintf(rel, sizeof(rel), "%s/%s", strcmp(ret_own, "/") == 0 ? "" : ret_own,
                               name);
        }
        if (snprintf(ret, size, "%s%s", ret_mount, rel) >= (int)size)
                return vps_err(err, ENAMETOOLONG, "cgroup parent path too long");
        return 0;
}

int vps_cgroups_init(struct vps_cgroups *cg, const char *parent_rel, const char *root,
                     vps_error *err)
{
        char own[400];
        int r = vps_cgroup_parent_path(parent_rel, root, cg->mount, sizeof(cg->mount), cg->parent,
                                       sizeof(cg->parent), own, sizeof(own), err);
        if (r < 0)
                return r;
        r = vps_mkdir_p(cg->parent, 0755, err);
        if (r < 0)
                return vps_err_wrap(err, "creating the VPS cgroup parent");
        vps_cgroups_delegate(cg, own);
        /* Which controllers cgroup v1 holds: why a limit cannot be had (a kernel without
         * cgroup v1 has no such file, or lists every controller with hierarchy 0). */
        const char *pc = getenv("VPS_TEST_PROC_CGROUPS");
        _cleanup_free_ char *v1 = NULL;
        vps_error ignored;
        if (vps_read_file_at(AT_FDCWD, pc && *pc ? pc : "/proc/cgroups", &v1, NULL, &ignored) == 0)
                vps_cgroup_parse_v1(v1, cg->v1_bound, sizeof(cg->v1_bound));
        cg->max_depth = VPS_CG_MAX_DEPTH_DEFAULT;
        cg->max_descendants = VPS_CG_MAX_DESCENDANTS_DEFAULT;
        cg->remove_ms = VPS_CG_REMOVE_MS_DEFAULT;
        return 0;
}

long long vps_cgroup_read_key(const char *path, const char *file, const char *key)
{
        char p[600];
        (void)snprintf(p, sizeof(p), "%s/%s", path, file);
        _cleanup_free_ char *text = NULL;
        vps_error e;
        if (vps_read_file_at(AT_FDCWD, p, &text, NULL, &e) < 0)
                return -1;
        size_t n = strlen(key);
        for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
                if (strncmp(l, key, n) == 0 && l[n] == ' ')
                        return strtoll(l + n + 1, NULL, 10);
        return -1;
}

long long vps_cgroup_read_number(const char *path, const char *file)
{
        char p[700], buf[32];
        (void)snprintf(p, sizeof(p), "%s/%s", path, file);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -2;
        buf[n] = '\0';
        return strncmp(buf, "max", 3) == 0 ? -1 : strtoll(buf, NULL, 10);
}

static int read_events_populated(const char *path)
{
        long long v = vps_cgroup_read_key(path, "cgroup.events", "populated");
        return v < 0 ? -1 : v == 1;
}

bool vps_cgroup_populated(const char *path)
{
        return read_events_populated(path) == 1;
}

/* What a delegated cgroup hands to its owner (the list of /sys/kernel/cgroup/delegate, less
 * memory.oom.group): the directory and these files. Limit files stay host root's. */
static const char *const delegated[] = {".", "cgroup.procs", "cgroup.threads",
                                        "cgroup.subtree_control", "memory.reclaim"};

static int write_file_at(int dfd, const char *file, long long value)
{
        char text[32];
        int n = value < 0 ? snprintf(text, sizeof(text), "max")
                          : snprintf(text, sizeof(text), "%lld", value);
        _cleanup_close_ int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text, (size_t)n) != n)
                return -errno;
        return 0;
}

/* The guest's part: its tree bounded in depth and size (each cgroup is kernel memory, and
 * vpsd removes them all when the VPS stops), then delegated to the VPS's root. */
static int make_guest(const struct vps_cgroups *cg, int top, uid_t owner, const char *path,
                      vps_error *err)
{
        if (mkdirat(top, VPS_CG_GUEST, 0755) < 0)
                return vps_err_sys(err, errno, "creating cgroup %s/%s", path, VPS_CG_GUEST);
        _cleanup_close_ int fd =
                openat(top, VPS_CG_GUEST, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening cgroup %s/%s", path, VPS_CG_GUEST);
        int r = write_file_at(fd, "cgroup.max.depth", cg->max_depth);
        if (r == 0)
                r = write_file_at(fd, "cgroup.max.descendants", cg->max_descendants);
        if (r < 0)
                return vps_err_sys(err, -r, "limiting the guest's cgroup tree in %s", path);
        for (size_t i = 0; i < sizeof(delegated) / sizeof(delegated[0]); i++)
                if (fchownat(fd, delegated[i], owner, owner, 0) < 0 && errno != ENOENT)
                        return vps_err_sys(err, errno, "delegating %s of cgroup %s/%s",
                                           delegated[i], path, VPS_CG_GUEST);
        return TAKE_FD(fd);
}

int vps_cgroup_create(const struct vps_cgroups *cg, const char *id, uid_t owner, char *ret_path,
                      size_t size, int *ret_fd, int *ret_guest_fd, vps_error *err)
{
        if (snprintf(ret_path, size, "%s/%s", cg->parent, id) >= (int)size)
                return vps_err(err, ENAMETOOLONG, "cgroup path too long");
        if (mkdir(ret_path, 0755) < 0) {
                if (errno != EEXIST)
                        return vps_err_sys(err, errno, "creating cgroup %s", ret_path);
                /* Left over from a crash (maybe in an older layout): replaced, but only when
                 * nothing runs in it. */
                if (vps_cgroup_populated(ret_path))
                        return vps_err(err, EBUSY, "cgroup %s still has processes", ret_path);
                int r = vps_cgroup_remove(cg, ret_path, err);
                if (r < 0)
                        return r;
                if (mkdir(ret_path, 0755) < 0)
                        return vps_err_sys(err, errno, "creating cgroup %s", ret_path);
        }
        _cleanup_close_ int fd = open(ret_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening cgroup %s", ret_path);
        /* The top holds no process: its controllers go down to both children, so the guest
         * can hand them on to its own cgroups. */
        vps_cgroup_hand_down(fd);
        if (mkdirat(fd, VPS_CG_EXEC, 0755) < 0)
                return vps_err_sys(err, errno, "creating cgroup %s/%s", ret_path, VPS_CG_EXEC);
        int guest = make_guest(cg, fd, owner, ret_path, err);
        if (guest < 0)
                return guest;
        *ret_fd = TAKE_FD(fd);
        *ret_guest_fd = guest;
        return 0;
}

static int kill_procs(const char *path, vps_error *err)
{
        char p[600];
        (void)snprintf(p, sizeof(p), "%s/cgroup.procs", path);
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        if (!f)
                return errno == ENOENT ? 0 : vps_err_sys(err, errno, "opening %s", p);
        int pid;
        while (fscanf(f, "%d", &pid) == 1)
                (void)kill(pid, SIGKILL);
        return 0;
}

int vps_cgroup_kill(const char *path, vps_error *err)
{
        char p[600];
        (void)snprintf(p, sizeof(p), "%s/cgroup.kill", path);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT && access(path, F_OK) == 0)
                        return kill_procs(path, err); /* kernel before 5.14 */
                return errno == ENOENT ? 0 : vps_err_sys(err, errno, "opening %s", p);
        }
        if (write(fd, "1", 1) != 1)
                return vps_err_sys(err, errno, "writing %s", p);
        return 0;
}

int vps_cgroup_remove(const struct vps_cgroups *cg, const char *path, vps_error *err)
{
        const char *slash = strrchr(path, '/');
        if (!slash || !slash[1] || slash == path)
                return vps_err(err, EINVAL, "not a cgroup path: %s", path);
        char parent[600];
        if (snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path) >=
            (int)sizeof(parent))
                return vps_err(err, ENAMETOOLONG, "cgroup path too long");
        _cleanup_close_ int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : vps_err_sys(err, errno, "opening cgroup %s", parent);
        /* Iterative, so a guest's cgroup tree of any depth goes (rmtree.c); names with a
         * leading dot included. Bounded in time: the guest chose its size, and tasks that
         * are slow to exit keep a cgroup busy. */
        int r = vps_rm_tree_until(fd, slash + 1, VPS_RM_CGROUP,
                                  vps_deadline_after_ms(cg->remove_ms), err);
        if (r == -ETIMEDOUT)
                return vps_err(err, ETIMEDOUT,
                               "removing cgroup %s: not done within %u ms, the rest is left "
                               "for later",
                               path, cg->remove_ms);
        return r < 0 ? vps_err_wrap(err, "removing cgroup %s", path) : 0;
}

bool vps_cgroup_has_pid(const struct vps_cgroups *cg, const char *path, int pid)
{
        char p[64], own[512];
        (void)snprintf(p, sizeof(p), "/proc/%d/cgroup", pid);
        _cleanup_free_ char *text = NULL;
        vps_error e;
        if (vps_read_file_at(AT_FDCWD, p, &text, NULL, &e) < 0 ||
            vps_cgroup_parse_self(text, own, sizeof(own), &e) < 0)
                return false;
        size_t ml = strlen(cg->mount);
        if (strncmp(path, cg->mount, ml) != 0)
                return false;
        const char *rel = path + ml;
        size_t rl = strlen(rel);
        return strncmp(own, rel, rl) == 0 && (own[rl] == '\0' || own[rl] == '/');
}
