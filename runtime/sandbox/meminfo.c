/* libvps: a VPS's memory figures (sandbox.h), shared by the sysinfo(2) answers and vpsd's own
 * /proc/meminfo view for a VPS that LXCFS does not serve. Busybox's free takes total, free and
 * buffers from sysinfo(2) and Cached from /proc/meminfo: both must come from one source, or
 * used = total - free - buffers - cached goes negative (the host's Cached under a 64 MiB
 * plan) and prints as a 20-digit number. */
#include "cgroup/cgroup.h"
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"
#include "inst/inst.h"
#include "vps/localsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

/* "Cached:" of the host's /proc/meminfo in bytes, 0 when unreadable. Read at most once a
 * second per thread: the refresh of every VPS's view would otherwise have the kernel print
 * the whole of /proc/meminfo once per VPS. */
static uint64_t host_cached(void)
{
        static _Thread_local struct {
                int64_t at_ms;
                uint64_t v;
        } last = {-1000000, 0};
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (now - last.at_ms < 1000)
                return last.v;
        _cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
        char line[128];
        unsigned long long kb;
        uint64_t v = 0;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Cached: %llu kB", &kb) == 1) {
                        v = (uint64_t)kb * 1024;
                        break;
                }
        last.at_ms = now;
        last.v = v;
        return v;
}

/* The least of limit (a cgroup file's value: -1 "max", -2 unreadable), the VPS's own limit
 * (used only where the cgroup file cannot be read: the host has no such controller) and the
 * host's figure. */
static uint64_t bound(long long cgroup, uint64_t own, uint64_t host)
{
        if (cgroup >= 0)
                return min_u64((uint64_t)cgroup, host);
        if (cgroup == -2 && own != VPS_LIMIT_NONE)
                return min_u64(own, host);
        return host;
}

void vps_mem_figures(const char *cg, const struct vps_limits *own, const struct sysinfo *host,
                     struct vps_mem *ret)
{
        uint64_t unit = host->mem_unit ? host->mem_unit : 1;
        struct vps_mem f = {0};
        f.total = bound(vps_cgroup_read_number(cg, "memory.max"), own->v[VPS_LIM_RAM],
                        (uint64_t)host->totalram * unit);
        long long cur = vps_cgroup_read_number(cg, "memory.current");
        if (cur >= 0) {
                uint64_t used = min_u64((uint64_t)cur, f.total);
                long long file = vps_cgroup_read_key(cg, "memory.stat", "file");
                f.free = f.total - used;
                f.cached = file > 0 ? min_u64((uint64_t)file, used) : 0;
        } else {
                /* No memory controller: the host's free memory, within the total. */
                f.free = min_u64((uint64_t)host->freeram * unit, f.total);
                f.buffers = min_u64((uint64_t)host->bufferram * unit, f.total - f.free);
                f.cached = min_u64(host_cached(), f.total - f.free - f.buffers);
        }
        f.available = f.free + f.cached;
        f.swap_total = bound(vps_cgroup_read_number(cg, "memory.swap.max"), own->v[VPS_LIM_SWAP],
                             (uint64_t)host->totalswap * unit);
        long long scur = vps_cgroup_read_number(cg, "memory.swap.current");
        f.swap_free = scur >= 0 ? f.swap_total - min_u64((uint64_t)scur, f.swap_total)
                                : min_u64((uint64_t)host->freeswap * unit, f.swap_total);
        *ret = f;
}

size_t vps_meminfo_text(const struct vps_mem *f, char *buf, size_t size)
{
        const struct {
                const char *key;
                uint64_t v;
        } rows[] = {
                {"MemTotal:", f->total},
                {"MemFree:", f->free},
                {"MemAvailable:", f->available},
                {"Buffers:", f->buffers},
                {"Cached:", f->cached},
                {"SwapCached:", 0},
                {"Active:", 0},
                {"Inactive:", f->cached},
                {"Shmem:", f->shared},
                {"SReclaimable:", 0},
                {"SwapTotal:", f->swap_total},
                {"SwapFree:", f->swap_free},
        };
        size_t n = 0;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                /* Fixed widths: every rewrite is as long as the first. */
                int w = snprintf(buf + n, size - n, "%-15s %12llu kB\n", rows[i].key,
                                 (unsigned long long)min_u64(rows[i].v / 1024, 999999999999ULL));
                if (w < 0 || (size_t)w >= size - n)
                        break;
                n += (size_t)w;
        }
        return n;
}

int vps_meminfo_update(const struct vps_inst *vi, bool create, vps_error *err)
{
        return vps_meminfo_write(vi->dir_fd, vi->st.cgroup, &vi->cfg.limits, create, err);
}

/* The views live on a tmpfs of their own, VPS_RUN_DIR/meminfo-DEV-INO (of the state root),
 * mounted once: a bind's source shows in the guest's mountinfo as its path within its
 * filesystem, and there that is "/ID", not a host path. */
static int views_dir(const struct vps_manager *m, vps_error *err)
{
        char path[sizeof(VPS_RUN_DIR) + sizeof(m->run_name) + 16];
        (void)snprintf(path, sizeof(path), "%s/meminfo-%s", VPS_RUN_DIR,
                       strncmp(m->run_name, "state-", 6) == 0 ? m->run_name + 6 : m->run_name);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s", path);
        struct stat st, parent;
        if (stat(path, &st) < 0 || stat(VPS_RUN_DIR, &parent) < 0)
                return vps_err_sys(err, errno, "reading %s", path);
        if (st.st_dev == parent.st_dev &&
            mount("vps-meminfo", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=0700,size=64m") < 0)
                return vps_err_sys(err, errno, "mounting a tmpfs on %s", path);
        int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? vps_err_sys(err, errno, "opening %s", path) : fd;
}

static void views_path(const struct vps_manager *m, char *path, size_t size)
{
        (void)snprintf(path, size, "%s/meminfo-%s", VPS_RUN_DIR,
                       strncmp(m->run_name, "state-", 6) == 0 ? m->run_name + 6 : m->run_name);
}

void vps_meminfo_views_drop(const struct vps_manager *m)
{
        char path[sizeof(VPS_RUN_DIR) + sizeof(m->run_name) + 16];
        views_path(m, path, sizeof(path));
        (void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
        (void)rmdir(path);
}

int vps_meminfo_create(const struct vps_manager *m, const struct vps_inst *vi, const char *cg,
                       vps_error *err)
{
        _cleanup_close_ int dfd = views_dir(m, err);
        if (dfd < 0)
                return dfd;
        int r = vps_meminfo_write_at(dfd, vi->cfg.id, cg, &vi->cfg.limits, true, err);
        if (r < 0)
                return r;
        /* ROOT/vps/ID/meminfo names it: the start child clones it from there (following the
         * link, in a copy of the host's mounts), vpsd rewrites it through it. */
        char target[sizeof(VPS_RUN_DIR) + sizeof(m->run_name) + 16 + VPS_ID_MAX + 2];
        (void)snprintf(target, sizeof(target), "%s/meminfo-%s/%s", VPS_RUN_DIR,
                       strncmp(m->run_name, "state-", 6) == 0 ? m->run_name + 6 : m->run_name,
                       vi->cfg.id);
        (void)unlinkat(vi->dir_fd, "meminfo", 0);
        if (symlinkat(target, vi->dir_fd, "meminfo") < 0)
                return vps_err_sys(err, errno, "linking meminfo to %s", target);
        return 0;
}

int vps_meminfo_write(int dir_fd, const char *cg, const struct vps_limits *own, bool create,
                      vps_error *err)
{
        return vps_meminfo_write_at(dir_fd, "meminfo", cg, own, create, err);
}

/* Through vpsd's own link in a directory that is host root's alone (0700); -ENOENT when the
 * VPS has no view of vpsd's (LXCFS serves it) and create is false. */
static int open_view(int dir_fd, const char *name, bool create, vps_error *err)
{
        int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | (create ? O_CREAT | O_TRUNC : 0);
        int fd = openat(dir_fd, name, flags, 0644);
        if (fd < 0)
                return errno == ENOENT && !create ? -ENOENT
                                                  : vps_err_sys(err, errno, "opening meminfo");
        return fd;
}

static int write_view(int fd, const struct vps_mem *f, vps_error *err)
{
        char text[VPS_MEMINFO_TEXT_MAX];
        size_t n = vps_meminfo_text(f, text, sizeof(text));
        if (pwrite(fd, text, n, 0) != (ssize_t)n)
                return vps_err_sys(err, errno, "writing meminfo");
        return 0;
}

int vps_meminfo_write_at(int dir_fd, const char *name, const char *cg, const struct vps_limits *own,
                         bool create, vps_error *err)
{
        /* The view first: a VPS without one costs no reads of its cgroup. */
        _cleanup_close_ int fd = open_view(dir_fd, name, create, err);
        if (fd < 0)
                return fd;
        struct sysinfo si;
        if (sysinfo(&si) < 0)
                return vps_err_sys(err, errno, "sysinfo");
        struct vps_mem f;
        vps_mem_figures(cg, own, &si, &f);
        return write_view(fd, &f, err);
}

int vps_meminfo_write_figures(int dir_fd, const char *name, const struct vps_mem *f, bool create,
                              vps_error *err)
{
        _cleanup_close_ int fd = open_view(dir_fd, name, create, err);
        return fd < 0 ? fd : write_view(fd, f, err);
}

void vps_meminfo_remove(const struct vps_inst *vi)
{
        (void)unlinkat(vi->dir_fd, "meminfo", 0);
}

void vps_meminfo_refresh_all(struct vps_manager *m)
{
        for (size_t i = 0; i < m->n; i++) {
                vps_error e;
                if (m->v[i]->status == VPS_RUNNING)
                        (void)vps_meminfo_update(m->v[i], false, &e);
        }
}
