/* libvps: whether this host can checkpoint VPSes. criu is found (scripts/install-criu's
 * backport first), then a child of the caller runs `criu --version` and `criu check`, each
 * with a deadline, and reports what they said on a pipe; the caller (vpsd, off its loop)
 * reads the report when the child has ended and parses it here. */
#include "checkpoint/checkpoint.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK_TIMEOUT_MS 30000

/* The deadline of each probe step: VPS_CRIU_CHECK_TIMEOUT seconds (1 to 3600) when set, for a
 * slow machine (`criu check` takes over a minute in an emulated qemu guest), else 30 s. */
static int check_timeout_ms(void)
{
        const char *e = getenv("VPS_CRIU_CHECK_TIMEOUT");
        char *end;
        long s = e ? strtol(e, &end, 10) : 0;
        return e && *e && !*end && s >= 1 && s <= 3600 ? (int)s * 1000 : CHECK_TIMEOUT_MS;
}

int vps_criu_find(char *ret, size_t size, vps_error *err)
{
        const char *env = getenv("VPS_CRIU");
        if (env) {
                if (!*env || access(env, X_OK) < 0)
                        return vps_err(err, ENOENT, "no criu at %s (VPS_CRIU)",
                                       *env ? env : "\"\"");
                (void)snprintf(ret, size, "%s", env);
                return 0;
        }
        static const char *const paths[] = {VPS_CRIU_PATHS};
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                if (access(paths[i], X_OK) == 0) {
                        (void)snprintf(ret, size, "%s", paths[i]);
                        return 0;
                }
        return vps_err(err, ENOENT,
                       "no criu in /usr/local/sbin, /usr/sbin, /usr/local/bin or /usr/bin "
                       "(scripts/install-criu builds one for Debian 12)");
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv with stdout and stderr into buf (bounded, NUL-terminated); its exit status, or
 * -1 when killed at the deadline, -2 when it could not run. */
static int run_capture(char *const argv[], char *buf, size_t size, int timeout_ms)
{
        int p[2];
        buf[0] = '\0';
        if (pipe2(p, O_CLOEXEC) < 0)
                return -2;
        pid_t pid = fork();
        if (pid == 0) {
                if (dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
                        _exit(127);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        (void)dup2(null, 0);
                execv(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return -2;
        }
        size_t len = 0;
        int64_t deadline = now_ms() + timeout_ms;
        bool killed = false;
        for (;;) {
                int64_t left = deadline - now_ms();
                struct pollfd pf = {.fd = p[0], .events = POLLIN};
                if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
                        (void)kill(pid, SIGKILL);
                        killed = true;
                        break;
                }
                char tmp[1024];
                ssize_t n = read(p[0], tmp, sizeof(tmp));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                size_t take = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
                memcpy(buf + len, tmp, take);
                len += take;
        }
        buf[len] = '\0';
        close(p[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (killed)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The capabilities criu's dump and restore need of the process that runs it (vpsd's): a
 * criu whose check passes may still fail on every VPS without one of them (a service or
 * container sandbox that dropped CAP_SYS_RESOURCE: criu cannot read a VPS's rlimits, whose
 * uids are not root's). */
static const struct {
        int cap;
        const char *name;
} needed[] = {
        {CAP_DAC_OVERRIDE, "cap_dac_override"},
        {CAP_FOWNER, "cap_fowner"},
        {CAP_KILL, "cap_kill"},
        {CAP_SETGID, "cap_setgid"},
        {CAP_SETUID, "cap_setuid"},
        {CAP_NET_ADMIN, "cap_net_admin"},
        {CAP_SYS_CHROOT, "cap_sys_chroot"},
        {CAP_SYS_PTRACE, "cap_sys_ptrace"},
        {CAP_SYS_ADMIN, "cap_sys_admin"},
        {CAP_SYS_RESOURCE, "cap_sys_resource"},
};

void vps_criu_missing_caps(unsigned long long capeff, char *ret, size_t size)
{
        size_t len = 0;
        ret[0] = '\0';
        for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
                if (!(capeff & (1ull << needed[i].cap)) && len < size) {
                        int n = snprintf(ret + len, size - len, "%s%s", len ? "," : "",
                                         needed[i].name);
                        len += n > 0 ? (size_t)n : 0;
                }
}

/* This process's effective capabilities (/proc/self/status CapEff); all when unreadable. */
static unsigned long long cap_eff(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long long v;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "CapEff: %llx", &v) == 1)
                        return v;
        return ~0ull;
}

/* The child: both commands, then the report on out. */
static void probe_child(const char *criu, int out)
{
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        char ver[512], check[VPS_CRIU_REPORT_MAX - 600];
        char *const vargv[] = {(char *)criu, "--version", NULL};
        char *const cargv[] = {(char *)criu, "check", NULL};
        int timeout_ms = check_timeout_ms();
        int vs = run_capture(vargv, ver, sizeof(ver), timeout_ms);
        const char *v = strstr(ver, "Version:");
        char version[32] = "";
        if (vs == 0 && v)
                (void)sscanf(v, "Version: %31s", version);
        int cs = run_capture(cargv, check, sizeof(check), timeout_ms);
        char report[VPS_CRIU_REPORT_MAX], missing[256];
        vps_criu_missing_caps(cap_eff(), missing, sizeof(missing));
        int n = snprintf(report, sizeof(report), "version %s\nmissing %s\ncheck %d %d\n%s", version,
                         missing, cs, timeout_ms / 1000, check);
        if (n > 0)
                (void)vps_write_full(out, report,
                                     (size_t)n < sizeof(report) ? (size_t)n : sizeof(report) - 1);
        _exit(0);
}

int vps_criu_probe_start(struct vps_criu_status *st, pid_t *ret_pid, int *ret_pidfd, int *ret_out,
                         vps_error *err)
{
        *st = (struct vps_criu_status){.state = VPS_CRIU_PROBING};
        *ret_pid = 0;
        *ret_pidfd = *ret_out = -1;
        vps_error e;
        if (vps_criu_find(st->path, sizeof(st->path), &e) < 0) {
                st->path[0] = '\0';
                st->state = VPS_CRIU_UNAVAILABLE;
                (void)snprintf(st->why, sizeof(st->why), "%.500s", e.msg);
                return 0;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "pipe");
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                probe_child(st->path, p[1]);
        }
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return vps_err_sys(err, errno, "fork");
        }
        int pidfd = vps_sys_pidfd_open(pid, 0);
        if (pidfd < 0) {
                int e2 = errno;
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                close(p[0]);
                return vps_err_sys(err, e2, "pidfd_open");
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        *ret_out = p[0];
        return 0;
}

/* The last line of text that starts with "Error", else its last line. */
static void last_error(const char *text, char *ret, size_t size)
{
        const char *best = NULL, *last = NULL;
        for (const char *l = text; *l;) {
                const char *eol = strchr(l, '\n');
                size_t len = eol ? (size_t)(eol - l) : strlen(l);
                if (len > 0) {
                        last = l;
                        if (strncmp(l, "Error", 5) == 0)
                                best = l;
                }
                l += len + (eol ? 1 : 0);
        }
        const char *pick = best ? best : last;
        if (!pick) {
                (void)snprintf(ret, size, "it said nothing");
                return;
        }
        size_t len = strcspn(pick, "\n");
        (void)snprintf(ret, size, "%.*s", (int)(len < size ? len : size - 1), pick);
}

void vps_criu_parse_report(const char *report, struct vps_criu_status *st)
{
        int cs = -3, secs = 0;
        const char *nl = strchr(report, '\n');
        st->version[0] = '\0';
        if (strncmp(report, "version ", 8) == 0 && nl) {
                size_t len = (size_t)(nl - report) - 8;
                if (len < sizeof(st->version) && !memchr(report + 8, ' ', len))
                        (void)snprintf(st->version, sizeof(st->version), "%.*s", (int)len,
                                       report + 8);
        }
        const char *check = nl ? strstr(nl, "\ncheck ") : NULL;
        const char *output = "";
        if (!check && nl && strncmp(nl + 1, "check ", 6) == 0)
                check = nl;
        if (check && sscanf(check + 1, "check %d %d", &cs, &secs) == 2) {
                const char *eol = strchr(check + 1, '\n');
                output = eol ? eol + 1 : "";
        }
        st->why[0] = '\0';
        char missing[256] = "";
        const char *m = strstr(report, "\nmissing ");
        if (m && (!check || m < check)) {
                m += strlen("\nmissing ");
                size_t len = strspn(m, "abcdefghijklmnopqrstuvwxyz_,");
                (void)snprintf(missing, sizeof(missing), "%.*s", (int)len, m);
        }
        if (cs == 0 && !missing[0]) {
                st->state = VPS_CRIU_AVAILABLE;
                return;
        }
        if (cs == 0) {
                st->state = VPS_CRIU_UNAVAILABLE;
                (void)snprintf(st->why, sizeof(st->why),
                               "vpsd lacks %s (not in its capability bounding set: a sandbox "
                               "dropped it), which criu needs to dump and restore a VPS (its "
                               "check passes)",
                               missing);
                return;
        }
        st->state = VPS_CRIU_UNAVAILABLE;
        char line[300];
        last_error(output, line, sizeof(line));
        const char *ver = st->version[0] ? st->version : "of unknown version";
        if (cs == -3)
                (void)snprintf(st->why, sizeof(st->why), "the criu probe gave no report");
        else if (cs == -2)
                (void)snprintf(st->why, sizeof(st->why), "%s could not be run", st->path);
        else if (cs == -1)
                (void)snprintf(st->why, sizeof(st->why), "`%s check` did not finish within %d s",
                               st->path, secs);
        else
                (void)snprintf(st->why, sizeof(st->why),
                               "criu %.31s (%.200s) fails its check on this kernel: %.200s", ver,
                               st->path, line);
}

void vps_criu_describe(const struct vps_criu_status *st, char *ret, size_t size)
{
        if (st->state == VPS_CRIU_PROBING)
                (void)snprintf(ret, size, "being probed (criu check)");
        else if (st->state == VPS_CRIU_AVAILABLE)
                (void)snprintf(ret, size, "available (criu %s, %s)",
                               st->version[0] ? st->version : "?", st->path);
        else
                (void)snprintf(ret, size, "not available: %s", st->why);
}

json_t *vps_criu_status_json(const struct vps_criu_status *st)
{
        static const char *const names[] = {"probing", "available", "unavailable"};
        return json_pack("{s:s, s:b, s:s?, s:s?, s:s?}", "state", names[st->state], "available",
                         st->state == VPS_CRIU_AVAILABLE, "criu", st->path[0] ? st->path : NULL,
                         "version", st->version[0] ? st->version : NULL, "why",
                         st->state == VPS_CRIU_UNAVAILABLE ? st->why : NULL);
}
