/* Escape probe: run inside a VPS (vpsctl exec), tries one attack per class and prints
 * "CLASS: blocked (reason)" or "CLASS: ALLOWED". Exit status: how many were allowed.
 * Built static so it runs in any guest. */

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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
        unsigned long long bnd = ~0ULL;
        int seccomp = -1;
        while (f && fgets(line, sizeof(line), f)) {
                sscanf(line, "CapBnd: %llx", &bnd);
                sscanf(line, "Seccomp: %d", &seccomp);
        }
        if (f)
                fclose(f);
        report("capability CAP_SYS_MODULE in the bounding set", (bnd >> 16) & 1, EPERM);
        report("capability CAP_SYS_RAWIO in the bounding set", (bnd >> 17) & 1, EPERM);
        report("no seccomp filter", seccomp != 2, EPERM);
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
        printf("overwrite /proc/PID/exe: %ld attempts, %ld foreign exe links seen, %s\n", tries,
               seen_foreign, allowed ? "ALLOWED" : "blocked");
        return allowed;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3 && strcmp(argv[1], "--watch-exe") == 0)
                return watch_exe(atoi(argv[2]));
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
        expect_eperm("acct", syscall(SYS_acct, "/tmp/acct"));
        expect_eperm("iopl", syscall(SYS_iopl, 3));
        expect_eperm("syslog (dmesg)", syscall(SYS_syslog, 3, NULL, 0));
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
        report("host root through /proc/1/root/..",
               access("/proc/1/root/../../../../etc/vps-escape-sentinel", F_OK) == 0, ENOENT);
        check_status();
        printf("%d allowed\n", allowed);
        return allowed;
}
