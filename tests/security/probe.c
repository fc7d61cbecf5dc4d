/* Escape probe: run inside a VPS (vpsctl exec), tries one attack per class and prints
 * "CLASS: blocked (reason)" or "CLASS: ALLOWED". Exit status: how many were allowed.
 * With --features LIST (tun:on,fuse:off,nesting:on) it tries what each --features name
 * grants instead, and counts the outcomes that differ from the expected one.
 * Built static so it runs in any guest. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>

static int allowed;

static void report(const char *what, int ok, int err)
{
        if (ok) {
                printf("%s: ALLOWED\n", what);
                allowed++;
        } else {
                printf("%s: blocked (%s)\n", what, strerror(err));
        }
}

/* A syscall that must fail with EPERM (the seccomp filter's answer, or the kernel's). */
static void expect_eperm(const char *what, long r)
{
        int e = errno;
        if (r >= 0 || e != EPERM) {
                printf("%s: ALLOWED or not EPERM (r=%ld, %s)\n", what, r, strerror(e));
                allowed++;
                return;
        }
        report(what, 0, e);
}

/* A socket family the filter refuses: EAFNOSUPPORT, as from a kernel without it. */
static void no_family(const char *what, int family, int type)
{
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        int e = errno;
        if (fd >= 0 || e != EAFNOSUPPORT) {
                printf("%s: ALLOWED or not EAFNOSUPPORT (fd=%d, %s)\n", what, fd, strerror(e));
                allowed++;
                if (fd >= 0)
                        close(fd);
                return;
        }
        report(what, 0, e);
}

static void write_file(const char *what, const char *path, const char *data)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                report(what, 0, errno);
                return;
        }
        ssize_t n = write(fd, data, strlen(data));
        int e = errno;
        close(fd);
        report(what, n == (ssize_t)strlen(data), e);
}

static void read_nonempty(const char *what, const char *path)
{
        char buf[64];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                report(what, 0, errno);
                return;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        int e = n < 0 ? errno : ENODATA;
        close(fd);
        report(what, n > 0, e);
}

static void check_status(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long long bnd = ~0ULL, inh = ~0ULL, amb = ~0ULL;
        int seccomp = -1;
        while (f && fgets(line, sizeof(line), f)) {
                sscanf(line, "CapBnd: %llx", &bnd);
                sscanf(line, "CapInh: %llx", &inh);
                sscanf(line, "CapAmb: %llx", &amb);
                sscanf(line, "Seccomp: %d", &seccomp);
        }
        if (f)
                fclose(f);
        static const struct {
                int bit;
                const char *name;
        } dropped[] = {{16, "CAP_SYS_MODULE"},    {17, "CAP_SYS_RAWIO"},    {25, "CAP_SYS_TIME"},
                       {30, "CAP_AUDIT_CONTROL"}, {32, "CAP_MAC_OVERRIDE"}, {33, "CAP_MAC_ADMIN"},
                       {35, "CAP_WAKE_ALARM"},    {36, "CAP_BLOCK_SUSPEND"}};
        for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
                char what[80];
                (void)snprintf(what, sizeof(what), "capability %s in the bounding set",
                               dropped[i].name);
                report(what, (bnd >> dropped[i].bit) & 1, EPERM);
        }
        report("inheritable capabilities", inh != 0, EPERM);
        report("ambient capabilities", amb != 0, EPERM);
        report("no seccomp filter", seccomp != 2, EPERM);
}

/* A syscall of a foreign ABI: i386's int 0x80 (getpid, 20) and x32's getpid (39 with the x32
 * bit). The filter answers both with EPERM. A kernel without ia32 emulation kills the
 * caller before any filter runs (SIGSEGV): blocked too, by the kernel; so in a child. */
static void foreign_arch(void)
{
#if defined(__x86_64__)
        errno = 0;
        expect_eperm("x32 syscall (getpid)", syscall(0x40000000 | 39));
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                report("i386 syscall (int 0x80, getpid)", 1, errno);
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                long r = 20;
                __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
                (void)!write(p[1], &r, sizeof(r));
                _exit(0);
        }
        close(p[1]);
        long r = 0;
        ssize_t n = read(p[0], &r, sizeof(r));
        close(p[0]);
        int status = 0;
        (void)waitpid(pid, &status, 0);
        if (n == (ssize_t)sizeof(r)) {
                errno = r < 0 ? (int)-r : 0;
                expect_eperm("i386 syscall (int 0x80, getpid)", r < 0 ? -1 : r);
        } else {
                printf("i386 syscall (int 0x80, getpid): blocked (no ia32 emulation: signal %d)\n",
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
#endif
}

/* Masked: nothing to read (or write) behind /proc/kcore and friends, no entries in the
 * masked directories; read-only: /proc/sys, /proc/bus, /proc/fs, /proc/irq and /sys. */
static void masked_paths(void)
{
        write_file("write /proc/sysrq-trigger", "/proc/sysrq-trigger", "h");
        read_nonempty("read /proc/timer_list", "/proc/timer_list");
        read_nonempty("read /proc/sched_debug", "/proc/sched_debug");
        read_nonempty("read /proc/kallsyms", "/proc/kallsyms");
        static const char *const dirs[] = {"/sys/firmware", "/proc/acpi", "/proc/scsi",
                                           "/sys/kernel/debug", "/sys/kernel/security"};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                DIR *d = opendir(dirs[i]);
                int entries = 0, e = d ? ENOENT : errno;
                struct dirent *de;
                while (d && (de = readdir(d)))
                        entries += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
                if (d)
                        closedir(d);
                char what[80];
                (void)snprintf(what, sizeof(what), "list %s", dirs[i]);
                report(what, entries > 0, e);
        }
        static const char *const ro[] = {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq", "/sys"};
        for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
                struct statvfs sv;
                char what[80];
                (void)snprintf(what, sizeof(what), "%s mounted writable", ro[i]);
                if (statvfs(ro[i], &sv) < 0)
                        report(what, 0, errno);
                else
                        report(what, !(sv.f_flag & ST_RDONLY), EROFS);
        }
        write_file("write /proc/irq/default_smp_affinity", "/proc/irq/default_smp_affinity", "1");
}

/* The host's / through any fd or /proc link a guest process can see: /proc/PID/root and cwd
 * of every visible process, every directory fd of this one. The sentinel exists only on
 * the host. */
static void proc_links(void)
{
        static const char sentinel[] = "etc/vps-escape-sentinel";
        int found = 0, tried = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                int pid = atoi(de->d_name);
                if (pid <= 0)
                        continue;
                static const char *const links[] = {"root", "cwd"};
                for (size_t i = 0; i < 2; i++) {
                        char p[PATH_MAX];
                        (void)snprintf(p, sizeof(p), "/proc/%d/%s/../../../../../../%s", pid,
                                       links[i], sentinel);
                        tried++;
                        found += access(p, F_OK) == 0;
                }
        }
        if (d)
                closedir(d);
        int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        DIR *fds = opendir("/proc/self/fd");
        while (fds && (de = readdir(fds))) {
                char p[PATH_MAX];
                (void)snprintf(p, sizeof(p), "/proc/self/fd/%s/../../../../../../%s", de->d_name,
                               sentinel);
                tried++;
                found += access(p, F_OK) == 0;
        }
        if (fds)
                closedir(fds);
        if (dfd >= 0)
                close(dfd);
        char what[96];
        (void)snprintf(what, sizeof(what),
                       "host files through /proc/PID/{root,cwd} and fds (%d tried)", tried);
        report(what, found > 0 || tried == 0, ENOENT);
}

/* Last: an attempt to take the masks away (locked in the VPS's mount namespace: none should
 * go, test_host_masks.sh checks each). Were one gone, what was behind it must still be out of
 * reach: those files belong to the host's root. */
static void unmask(void)
{
        static const char *const masks[] = {"/proc/kcore", "/proc/sysrq-trigger", "/proc/kmsg",
                                            "/proc/sys", "/sys/firmware"};
        int gone = 0;
        for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
                while (umount2(masks[i], MNT_DETACH) == 0)
                        gone++;
        printf("unmask: %d mounts over the masked paths taken away\n", gone);
        read_nonempty("read /proc/kcore with its mask taken away", "/proc/kcore");
        read_nonempty("read /proc/kmsg with its mask taken away", "/proc/kmsg");
        write_file("write /proc/sysrq-trigger with its mask taken away", "/proc/sysrq-trigger",
                   "h");
        write_file("write core_pattern with /proc/sys writable", "/proc/sys/kernel/core_pattern",
                   "|/tmp/x");
        write_file("write kernel.modprobe with /proc/sys writable", "/proc/sys/kernel/modprobe",
                   "/tmp/x");
}

/* Mounting an existing v1 hierarchy is allowed in a user namespace; what matters is that
 * nothing in it can be changed: no release_agent, no new group in the host's tree. */
static void cgroup_v1(void)
{
        mkdir("/tmp/cg1", 0755);
        if (mount("cgroup", "/tmp/cg1", "cgroup", 0, "memory") < 0) {
                report("cgroup v1 mount", 0, errno);
                return;
        }
        write_file("cgroup v1 release_agent", "/tmp/cg1/release_agent", "/tmp/x");
        write_file("cgroup v1 notify_on_release", "/tmp/cg1/notify_on_release", "1");
        report("cgroup v1 mkdir in the host's hierarchy", mkdir("/tmp/cg1/vps-escape", 0755) == 0,
               errno);
        umount("/tmp/cg1");
}

/* The VPS's files are charged to its disk quota project: moving out of it (another project
 * id, or dropping the inherit flag) must fail, and the id must be unchanged afterwards. */
static void quota_project(void)
{
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct fsxattr fa, now;
        if (fd < 0 || ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0) {
                report("change the disk quota project", 0, errno);
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct fsxattr want = fa;
        want.fsx_projid = fa.fsx_projid ? 0 : 1;
        want.fsx_xflags &= ~(unsigned int)FS_XFLAG_PROJINHERIT;
        int r = ioctl(fd, FS_IOC_FSSETXATTR, &want), e = errno;
        if (ioctl(fd, FS_IOC_FSGETXATTR, &now) == 0 && now.fsx_projid != fa.fsx_projid) {
                printf("change the disk quota project: ALLOWED (%u -> %u)\n", fa.fsx_projid,
                       now.fsx_projid);
                allowed++;
        } else {
                report("change the disk quota project", r == 0 && want.fsx_xflags != fa.fsx_xflags,
                       e);
        }
        close(fd);
}

/* Host processes must not be visible at all: signal 0 and PTRACE_ATTACH on host PIDs (given
 * by the test) find nothing. */
static void host_pids(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                pid_t pid = (pid_t)atoi(argv[i]);
                char what[64];
                (void)snprintf(what, sizeof(what), "see host PID %d", (int)pid);
                int r = kill(pid, 0), e = errno;
                /* PID 1 and our own PIDs exist inside too: only an answer from a host-only
                 * number counts, so the test passes numbers above the VPS's. */
                report(what, r == 0, e);
                (void)snprintf(what, sizeof(what), "ptrace host PID %d", (int)pid);
                long pr = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
                e = errno;
                if (pr == 0)
                        (void)ptrace(PTRACE_DETACH, pid, NULL, NULL);
                report(what, pr == 0, e);
        }
}

/* --watch-exe SECONDS: while `vpsctl exec` commands enter the VPS, try to open every other
 * process's /proc/PID/exe for writing (runc's CVE-2019-5736: overwriting the runtime's
 * binary). The entering process is not dumpable until it has exec'd the guest's command. */
static int watch_exe(int seconds)
{
        time_t end = time(NULL) + seconds;
        long tries = 0, seen_foreign = 0;
        pid_t self = getpid();
        while (time(NULL) < end) {
                DIR *d = opendir("/proc");
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        pid_t pid = (pid_t)atoi(de->d_name);
                        if (pid <= 1 || pid == self)
                                continue;
                        char p[64], link[256];
                        (void)snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
                        ssize_t n = readlink(p, link, sizeof(link) - 1);
                        link[n > 0 ? n : 0] = '\0';
                        if (n > 0 && access(link, F_OK) != 0)
                                seen_foreign++; /* an exe that is not a file of this VPS */
                        int fd = open(p, O_WRONLY | O_CLOEXEC);
                        tries++;
                        if (fd >= 0) {
                                printf("overwrite /proc/%d/exe (%s): ALLOWED\n", (int)pid, link);
                                allowed++;
                                close(fd);
                        }
                }
                if (d)
                        closedir(d);
        }
        /* A readable exe link outside this VPS: a process that entered it while dumpable. */
        allowed += seen_foreign > 0;
        printf("overwrite /proc/PID/exe: %ld attempts, %ld foreign exe links seen, %s\n", tries,
               seen_foreign, allowed ? "ALLOWED" : "blocked");
        return allowed;
}

/* --features: one feature's attempts. With the feature on each must work; off, each must
 * be refused the way a VPS refuses it (no node: ENOENT; seccomp or the kernel: EPERM or
 * EACCES), never in another way and never by crashing. */
struct feature_run {
        const char *name;
        bool on;
        int attempts, unexpected;
};

static void outcome(struct feature_run *f, const char *what, bool ok, int err)
{
        bool expected = f->on ? ok : !ok && (err == EPERM || err == EACCES || err == ENOENT);
        f->attempts++;
        f->unexpected += !expected;
        if (ok)
                printf("%s: %s: works%s\n", f->name, what, expected ? "" : " UNEXPECTED");
        else
                printf("%s: %s: refused (%s)%s\n", f->name, what, strerror(err),
                       expected ? "" : " UNEXPECTED");
}

static void feature_tun(struct feature_run *f)
{
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), e = errno;
        outcome(f, "open /dev/net/tun", fd >= 0, e);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        (void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "probetun0");
        /* Without a node there is nothing to ask: the open's error stands for both. */
        int r = fd >= 0 ? ioctl(fd, TUNSETIFF, &ifr) : -1;
        if (fd >= 0)
                e = errno;
        outcome(f, "ioctl TUNSETIFF", r == 0, e);
        if (fd >= 0)
                close(fd);
}

/* mount(2) of a FUSE file system returns before the server answers INIT, so a mount with
 * nobody serving it shows whether the kernel lets this namespace mount FUSE at all. */
static void feature_fuse(struct feature_run *f)
{
        static const char dir[] = "/tmp/probe-fuse";
        int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), e = errno;
        outcome(f, "open /dev/fuse", fd >= 0, e);
        (void)mkdir(dir, 0755);
        char opts[96];
        (void)snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
        int r = fd >= 0 ? mount("probe", dir, "fuse", MS_NOSUID | MS_NODEV, opts) : -1;
        if (fd >= 0)
                e = errno;
        outcome(f, "mount -t fuse", r == 0, e);
        if (r == 0)
                (void)umount2(dir, MNT_DETACH);
        if (fd >= 0)
                close(fd); /* the last fd of the connection: it is aborted */
        (void)rmdir(dir);
}

/* In a child in new user, mount, pid and net namespaces (what a nested container runtime
 * makes): mount a fresh proc, and a sysfs (read-only, as runtimes do). The errors come back
 * over a pipe. */
static void nested_child(int out)
{
        int res[2] = {EPROTO, EPROTO};
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET) < 0) {
                res[0] = res[1] = errno;
                (void)!write(out, res, sizeof(res));
                _exit(0);
        }
        pid_t pid = fork(); /* the first child is PID 1 of the new pid namespace */
        if (pid == 0) {
                if (mount("proc", "/tmp/probe-nest/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          NULL) < 0)
                        res[0] = errno;
                else
                        res[0] = 0;
                if (mount("sysfs", "/tmp/probe-nest/sys", "sysfs",
                          MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        res[1] = errno;
                else
                        res[1] = 0;
                (void)!write(out, res, sizeof(res));
                _exit(0);
        }
        if (pid < 0) {
                res[0] = res[1] = errno;
                (void)!write(out, res, sizeof(res));
        }
        (void)waitpid(pid, NULL, 0);
        _exit(0);
}

static void feature_nesting(struct feature_run *f)
{
        long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
        outcome(f, "keyctl join a session keyring", r >= 0, errno);
        r = syscall(SYS_add_key, "user", "vps-probe", "x", 1, KEY_SPEC_SESSION_KEYRING);
        outcome(f, "add_key to the session keyring", r >= 0, errno);
        (void)mkdir("/tmp/probe-nest", 0755);
        (void)mkdir("/tmp/probe-nest/proc", 0755);
        (void)mkdir("/tmp/probe-nest/sys", 0755);
        int p[2], res[2] = {EPROTO, EPROTO};
        if (pipe2(p, O_CLOEXEC) < 0) {
                outcome(f, "nested proc mount", false, errno);
                outcome(f, "nested sysfs mount", false, errno);
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                nested_child(p[1]);
        }
        close(p[1]);
        if (pid < 0 || read(p[0], res, sizeof(res)) != (ssize_t)sizeof(res))
                res[0] = res[1] = pid < 0 ? errno : EPROTO;
        close(p[0]);
        if (pid > 0)
                (void)waitpid(pid, NULL, 0);
        outcome(f, "nested proc mount (new user+mount+pid namespaces)", res[0] == 0, res[0]);
        outcome(f, "nested sysfs mount, read-only (new user+mount+net namespaces)", res[1] == 0,
                res[1]);
}

static const struct {
        const char *name;
        void (*run)(struct feature_run *f);
} feature_tests[] = {
        {"tun", feature_tun},
        {"fuse", feature_fuse},
        {"nesting", feature_nesting},
};

#define N_FEATURE_TESTS (sizeof(feature_tests) / sizeof(feature_tests[0]))

/* LIST: NAME:on|off items, comma separated. Exit status: outcomes not as expected (or 100
 * for a bad LIST). */
static int probe_features(const char *list)
{
        int attempts = 0, unexpected = 0;
        char buf[256];
        (void)snprintf(buf, sizeof(buf), "%s", list);
        char *save = NULL;
        for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                char *value = strchr(item, ':');
                if (value)
                        *value++ = '\0';
                size_t i = 0;
                while (i < N_FEATURE_TESTS && strcmp(item, feature_tests[i].name) != 0)
                        i++;
                if (i == N_FEATURE_TESTS || !value ||
                    (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)) {
                        printf("probe: bad --features item '%s'\n", item);
                        return 100;
                }
                struct feature_run f = {feature_tests[i].name, strcmp(value, "on") == 0, 0, 0};
                feature_tests[i].run(&f);
                attempts += f.attempts;
                unexpected += f.unexpected;
        }
        printf("features: %d attempts, %d unexpected\n", attempts, unexpected);
        return unexpected;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3 && strcmp(argv[1], "--watch-exe") == 0)
                return watch_exe(atoi(argv[2]));
        if (argc == 3 && strcmp(argv[1], "--features") == 0)
                return probe_features(argv[2]);
        host_pids(argc, argv);
        expect_eperm("init_module", syscall(SYS_init_module, "", 0, ""));
        expect_eperm("finit_module", syscall(SYS_finit_module, -1, "", 0));
        expect_eperm("delete_module", syscall(SYS_delete_module, "ext4", 0));
        expect_eperm("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
        expect_eperm("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        expect_eperm("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
        struct perf_event_attr pe;
        memset(&pe, 0, sizeof(pe));
        pe.size = sizeof(pe);
        expect_eperm("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
        expect_eperm("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
        expect_eperm("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -3));
        expect_eperm("request_key", syscall(SYS_request_key, "user", "x", NULL, -3));
        expect_eperm("userfaultfd", syscall(SYS_userfaultfd, 0));
        expect_eperm("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
        expect_eperm("swapon", swapon("/dev/null", 0));
        expect_eperm("swapoff", swapoff("/dev/null"));
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        expect_eperm("clock_settime", clock_settime(CLOCK_REALTIME, &now));
        foreign_arch();
        expect_eperm("acct", syscall(SYS_acct, "/tmp/acct"));
        expect_eperm("iopl", syscall(SYS_iopl, 3));
        expect_eperm("syslog (dmesg)", syscall(SYS_syslog, 3, NULL, 0));
        no_family("socket(AF_VSOCK)", AF_VSOCK, SOCK_STREAM);
        no_family("socket(AF_ALG)", AF_ALG, SOCK_SEQPACKET);
        report("mknod of a block device", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0)) == 0,
               errno);
        cgroup_v1();
        quota_project();
        write_file("write core_pattern", "/proc/sys/kernel/core_pattern", "|/tmp/x");
        write_file("write kernel.modprobe", "/proc/sys/kernel/modprobe", "/tmp/x");
        write_file("write a /sys knob", "/sys/kernel/mm/transparent_hugepage/enabled", "never");
        read_nonempty("read /proc/kcore", "/proc/kcore");
        read_nonempty("read /proc/kmsg", "/proc/kmsg");
        read_nonempty("read /dev/mem", "/dev/mem");
        read_nonempty("read /dev/kmsg", "/dev/kmsg");
        read_nonempty("read /proc/keys", "/proc/keys");
        /* --features nesting mounts a proc and a sysfs without masks under /dev/.vps: the
         * files behind the masks must stay out of reach there too (ENOENT without it). */
        write_file("write core_pattern through /dev/.vps/proc",
                   "/dev/.vps/proc/sys/kernel/core_pattern", "|/tmp/x");
        write_file("write sysrq-trigger through /dev/.vps/proc", "/dev/.vps/proc/sysrq-trigger",
                   "h");
        read_nonempty("read kcore through /dev/.vps/proc", "/dev/.vps/proc/kcore");
        write_file("write a /sys knob through /dev/.vps/sys",
                   "/dev/.vps/sys/kernel/mm/transparent_hugepage/enabled", "never");
        /* exec'd commands get the features vpsd recorded on the VPS cgroup: the guest must
         * not be able to grant itself one there. */
        int xr = setxattr("/sys/fs/cgroup", "trusted.vps.features", "nesting", 7, 0), xe = errno;
        report("grant itself --features nesting on its cgroup", xr == 0, xe);
        report("host root through /proc/1/root/..",
               access("/proc/1/root/../../../../etc/vps-escape-sentinel", F_OK) == 0, ENOENT);
        check_status();
        masked_paths();
        proc_links();
        unmask();
        printf("%d allowed\n", allowed);
        return allowed;
}
