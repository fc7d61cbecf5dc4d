/* libvps: the eBPF device program of a VPS's cgroup (config.h). The program is a short
 * list of compares on the device's type, major and minor, built here instruction by
 * instruction (no compiler, no object file), loaded and attached with bpf(2). */
#include "vps/cleanup.h"
#include "config/config.h"
#include "vps/util.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const struct vps_devnode devnodes[] = {
        {"tun", "net/tun", 10, 200, VPS_FEAT_TUN},
        {"fuse", "fuse", 10, 229, VPS_FEAT_FUSE},
};

const struct vps_devnode *vps_devnode_find(const char *name)
{
        for (size_t i = 0; i < sizeof(devnodes) / sizeof(devnodes[0]); i++)
                if (strcmp(devnodes[i].name, name) == 0)
                        return &devnodes[i];
        return NULL;
}

int vps_devnodes_parse(const char *text, char names[VPS_MAX_DEVNODES][8], vps_error *err)
{
        if (!text || strcmp(text, "none") == 0)
                return 0;
        unsigned int n = 0;
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, ",");
                char name[16];
                if (len == 0 || len >= sizeof(name))
                        return vps_err(err, EINVAL, "invalid 'devnodes' '%.40s'", text);
                memcpy(name, p, len);
                name[len] = '\0';
                const struct vps_devnode *d = vps_devnode_find(name);
                if (!d)
                        return vps_err(err, EINVAL,
                                       "unknown device '%.20s' in 'devnodes' (known: tun, fuse)",
                                       name);
                bool dup = false;
                for (unsigned int i = 0; i < n; i++)
                        dup |= strcmp(names[i], d->name) == 0;
                if (!dup && n < VPS_MAX_DEVNODES)
                        (void)snprintf(names[n++], 8, "%s", d->name);
                p += len;
                if (*p == ',' && !*++p)
                        return vps_err(err, EINVAL, "invalid 'devnodes' '%.40s'", text);
        }
        return (int)n;
}

unsigned int vps_devnodes_effective(const struct vps_config *cfg, char names[VPS_MAX_DEVNODES][8])
{
        unsigned int n = 0;
        for (size_t i = 0; i < sizeof(devnodes) / sizeof(devnodes[0]); i++) {
                bool granted = (cfg->features & devnodes[i].feature) != 0;
                for (unsigned int k = 0; !granted && k < cfg->n_dev && k < VPS_MAX_DEVNODES; k++)
                        granted = strcmp(cfg->devnodes[k], devnodes[i].name) == 0;
                if (granted && n < VPS_MAX_DEVNODES)
                        (void)snprintf(names[n++], 8, "%s", devnodes[i].name);
        }
        return n;
}

/* Char devices every VPS has; minor -1 is any minor. */
static const struct {
        uint32_t major;
        int32_t minor;
} base[] = {
        {1, 3},    {1, 5},    {1, 7},    {1, 8},    {1, 9}, /* null zero full random urandom */
        {5, 0},    {5, 1},    {5, 2},                       /* tty console ptmx */
        {136, -1}, {137, -1}, {138, -1}, {139, -1},         /* pty slaves (devpts) */
        {140, -1}, {141, -1}, {142, -1}, {143, -1},
};

size_t vps_devices_every_vps(unsigned int out[][2], size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < sizeof(base) / sizeof(base[0]) && n < max; i++)
                if (base[i].minor >= 0) {
                        out[n][0] = base[i].major;
                        out[n++][1] = (unsigned int)base[i].minor;
                }
        return n;
}

struct prog {
        struct bpf_insn insn[128];
        unsigned int n;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        if (p->n < sizeof(p->insn) / sizeof(p->insn[0]))
                p->insn[p->n++] = (struct bpf_insn){
                        .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

/* r0 = 1 (allow) when major (and minor, unless any) match; else fall through. */
static void allow_if(struct prog *p, uint32_t major, int32_t minor)
{
        emit(p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, minor < 0 ? 2 : 3, (int32_t)major);
        if (minor >= 0)
                emit(p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 2, minor);
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static void build(struct prog *p, char names[][8], unsigned int n)
{
        /* r2 = ctx->access_type & 0xffff (the device type), r4 = major, r5 = minor */
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
        emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
        unsigned int type_check = p->n;
        emit(p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, BPF_DEVCG_DEV_CHAR);
        for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
                allow_if(p, base[i].major, base[i].minor);
        for (unsigned int i = 0; i < n; i++) {
                const struct vps_devnode *d = vps_devnode_find(names[i]);
                if (d)
                        allow_if(p, d->major, (int32_t)d->minor);
        }
        /* Block devices and everything else: denied. */
        p->insn[type_check].off = (int16_t)(p->n - type_check - 1);
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* Loaded programs, by their instructions: most VPSes share a few device sets, and a load
 * (verifier included) costs about half a millisecond of every start. An attached program
 * holds its own reference, so an entry that is replaced is only closed here. vpsd is
 * single-threaded; the cache belongs to its process. */
#define PROG_CACHE 8
static struct {
        struct prog p;
        int fd;
} cache[PROG_CACHE];
static unsigned int cache_next;

static int cached_prog(const struct prog *p)
{
        for (unsigned int i = 0; i < PROG_CACHE; i++)
                if (cache[i].fd > 0 && cache[i].p.n == p->n &&
                    memcmp(cache[i].p.insn, p->insn, p->n * sizeof(p->insn[0])) == 0)
                        return cache[i].fd;
        return -1;
}

/* Keeps fd (moved above the low fds) for p; returns it. */
static int cache_prog(const struct prog *p, int fd)
{
        unsigned int i = cache_next++ % PROG_CACHE;
        if (cache[i].fd > 0)
                close(cache[i].fd);
        cache[i].p = *p;
        cache[i].fd = vps_fd_high(fd); /* bpf(2) fds are close-on-exec */
        return cache[i].fd;
}

static int load_prog(const struct prog *p, vps_error *err)
{
        int fd = cached_prog(p);
        if (fd >= 0)
                return fd;
        char log[4096] = "";
        union bpf_attr load;
        memset(&load, 0, sizeof(load));
        load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        load.insns = (uint64_t)(uintptr_t)p->insn;
        load.insn_cnt = p->n;
        load.license = (uint64_t)(uintptr_t) "GPL";
        load.log_buf = (uint64_t)(uintptr_t)log;
        load.log_size = sizeof(log);
        load.log_level = 1;
        fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &load, sizeof(load));
        if (fd < 0)
                return vps_err_sys(err, errno, "loading the device program%s%.200s",
                                   log[0] ? ": " : "", log);
        return cache_prog(p, fd);
}

int vps_devices_attach(int cgroup_fd, char names[][8], unsigned int n, vps_error *err)
{
        struct prog p = {0};
        build(&p, names, n);
        int prog = load_prog(&p, err);
        if (prog < 0)
                return prog;
        union bpf_attr at;
        memset(&at, 0, sizeof(at));
        at.target_fd = (uint32_t)cgroup_fd;
        at.attach_bpf_fd = (uint32_t)prog;
        at.attach_type = BPF_CGROUP_DEVICE;
        if (syscall(__NR_bpf, BPF_PROG_ATTACH, &at, sizeof(at)) < 0)
                return vps_err_sys(err, errno, "attaching the device program");
        return 0;
}

int vps_devnodes_prepare(int vps_dir_fd, const struct vps_config *cfg, vps_error *err)
{
        char names[VPS_MAX_DEVNODES][8];
        unsigned int n = vps_devnodes_effective(cfg, names);
        if (n == 0)
                return 0;
        if (mkdirat(vps_dir_fd, "devnodes", 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating devnodes/");
        _cleanup_close_ int dir =
                openat(vps_dir_fd, "devnodes", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return vps_err_sys(err, errno, "opening devnodes/");
        for (unsigned int i = 0; i < n; i++) {
                const struct vps_devnode *d = vps_devnode_find(names[i]);
                if (!d)
                        continue;
                (void)unlinkat(dir, d->name, 0);
                if (mknodat(dir, d->name, S_IFCHR | 0666, makedev(d->major, d->minor)) < 0 ||
                    fchownat(dir, d->name, cfg->uid_base, cfg->uid_base, AT_SYMLINK_NOFOLLOW) < 0 ||
                    fchmodat(dir, d->name, 0666, 0) < 0)
                        return vps_err_sys(err, errno, "creating the %s device node", d->name);
        }
        return 0;
}
