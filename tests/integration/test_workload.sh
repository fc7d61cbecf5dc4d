#!/usr/bin/env bash
# A normal workload under the default security profile, in a Debian 12 VPS started as a
# customer gets it (systemd as init) and with no network at all:
# - apt: `apt-get update` and `apt-get install` of gcc, libc6-dev and uuid-runtime from a local
#   repository. The .deb files are resolved on the host against the template's own dpkg status
#   (the host is bookworm on the same mirror), fetched once with `apt-get download` into
#   VPS_TEST_CACHE/workload-debs (reruns are offline), indexed with dpkg-scanpackages (localrepo.sh) and
#   copied in through `vpsctl exec ... tar -x`. That runs apt's methods as _apt (setgroups,
#   setresgid, setresuid), dpkg's maintainer scripts, update-alternatives, adduser and chown
#   to a new system user, and a systemd unit started from a postinst. Then `apt-get remove`,
#   and an install of a package the repository lacks failing cleanly.
# - a compiler: gcc builds a program (threads, fork, a file write) that runs.
# - denied syscalls: that program, dynamically linked against the guest's glibc, calls eight
#   denied syscalls in its main thread, four threads and a forked child, and gets EPERM each
#   time and carries on; run by `vpsctl exec` and as a service of the VPS's systemd (which has
#   the init's filter, not the one exec applies). The static escape probe's full list of
#   denied syscalls is asserted in a busybox VPS by tests/security/test_escape.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/localrepo.sh"
for tool in apt-get dpkg-scanpackages gcc; do # dpkg-dev and gcc come with build-essential
        command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps)"; exit 1; }
done
PKGS=(gcc libc6-dev uuid-runtime)
ABSENT=make # a real Debian package that the local repository does not have
DEBS=$DEBIAN_CACHE/workload-debs
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
info() { echo "info: $*"; }
not() { ! "$@"; }

start_vpsd
debian_template || { fail "template build debian-12: $(tail -n3 "$T/debian-build.out")"; finish; }
R=$ROOT/templates/debian-12/rootfs

# The local repository: what apt in the VPS will install, resolved against the template's
# dpkg status and fetched once into the cache (localrepo.sh).
local_repo "$R" "$DEBS" "$T/repo" "${PKGS[@]}" || { fail "$REPO_ERR"; finish; }
n_debs=$REPO_N
check "the host resolves ${PKGS[*]} to packages the template lacks ($n_debs)" test "$n_debs" -ge 10
if [ "$REPO_FETCHED" -gt 0 ]; then info "downloaded $REPO_FETCHED packages on the host"
else pass "the $n_debs packages come from the cache ($DEBS)"; fi
expect_eq "the repository indexes every package" "$n_debs" "$(grep -c '^Package: ' "$T/repo/Packages")"

quiet() { "$@" >/dev/null; }
in_vps() { vpsctl exec 701 -- "$@"; }
check "create 701 (no --ipadd: no network)" quiet vpsctl create 701 --ostemplate debian-12 --hostname work701
check "start 701" quiet vpsctl start 701
# is-system-running --wait prints nothing until systemd answers on its bus.
st=
for _ in $(seq 100); do
        st=$(in_vps timeout 60 systemctl is-system-running --wait 2>/dev/null || true)
        [ -n "$st" ] && break
        sleep 0.1
done
expect_eq "systemd in 701 reaches running" running "$st"
expect_eq "no default route in the VPS (nothing reaches the internet)" "" \
        "$(in_vps sh -c 'ip route show default; ip -6 route show default')"
check "the default profile: the VPS init has a seccomp filter" \
        grep -q '^Seccomp:[[:space:]]*2' "/proc/$(vps_field 701 pid)/status"

tar -C "$T/repo" -cf - . | in_vps sh -c 'mkdir -p /srv/localrepo && tar -x --no-same-owner -C /srv/localrepo'
expect_eq "the repository is in the VPS" "$n_debs" "$(in_vps sh -c 'ls /srv/localrepo/*.deb | wc -l')"
check "only the local repository in apt's sources" in_vps sh -c \
        'mv /etc/apt/sources.list /etc/apt/sources.list.orig &&
         echo "deb [trusted=yes] file:/srv/localrepo ./" >/etc/apt/sources.list.d/localrepo.list'
expect_eq "_apt (apt's sandbox user) can switch to itself in the VPS" _apt \
        "$(in_vps setpriv --reuid=_apt --regid=nogroup --clear-groups id -un 2>&1)"

apt_in() { in_vps env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get "$@"; }
rc=0
t0=$(date +%s%N)
apt_in update >"$T/update.out" 2>&1 || rc=$?
info "apt-get update: $(ms_since "$t0") ms"
expect_eq "apt-get update exits 0" 0 "$rc"
check "it read the local repository" grep -q 'file:/srv/localrepo ./ Release' "$T/update.out"
check "and nothing else" not grep -qE 'https?:' "$T/update.out"
check "no warning or error (apt's download sandbox worked)" not grep -qE '^(W|E):|unsandboxed' "$T/update.out"
[ "$rc" = 0 ] || cat "$T/update.out"

rc=0
t0=$(date +%s%N)
apt_in install -y --no-install-recommends "${PKGS[@]}" >"$T/install.out" 2>&1 || rc=$?
info "apt-get install ${PKGS[*]} ($n_debs packages): $(ms_since "$t0") ms"
expect_eq "apt-get install ${PKGS[*]} exits 0" 0 "$rc"
expect_eq "dpkg set up every package of the repository" "$n_debs" "$(grep -c '^Setting up ' "$T/install.out")"
check "no error, no failed maintainer script" \
        not grep -qE '^E:|^dpkg: error|returned error exit status|Sub-process' "$T/install.out"
if [ "$rc" != 0 ]; then # dpkg's errors by cause, and the VPS's root mount
        grep -A1 '^dpkg: error processing' "$T/install.out" | sed -n 's/^ .*: //p' | sort | uniq -c
        grep -A1 '^dpkg: error processing' "$T/install.out" | grep '^ ' | head -n3
        in_vps awk '$5 == "/"' /proc/self/mountinfo || true
fi
for p in "${PKGS[@]}"; do
        expect_eq "dpkg -s $p: installed" "install ok installed" \
                "$(in_vps dpkg-query -W -f='${Status}' "$p" 2>&1)"
done
expect_eq "dpkg --audit finds nothing" "" "$(in_vps dpkg --audit 2>&1)"
check "apt-get check" quiet apt_in check
expect_eq "update-alternatives made cc gcc (gcc's postinst)" /usr/bin/gcc \
        "$(in_vps update-alternatives --query cc 2>&1 | sed -n 's/^Value: //p')"
expect_eq "adduser made the uuidd system user (uuid-runtime's postinst)" uuidd \
        "$(in_vps id -un uuidd 2>&1)"
expect_eq "and chown gave it /var/lib/libuuid" "uuidd:uuidd 2775" \
        "$(in_vps stat -c '%U:%G %a' /var/lib/libuuid 2>&1)"
expect_eq "the postinst started uuidd.socket through systemd" active \
        "$(in_vps systemctl is-active uuidd.socket 2>&1)"
out=$(in_vps uuidd -t 2>&1 || true)
check "uuidd (socket-activated, systemd's sandboxing) hands out a time-based UUID: $out" \
        grep -qxE '[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}' <<<"$out"
expect_eq "and runs as uuidd" uuidd "$(in_vps ps -C uuidd -o user= 2>&1)"

# The compiler: threads, fork and a file write, and the denied syscalls from each of them.
cat >"$T/work.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCALLS 8
#define NTHREADS 4
#define N 1000000L

/* Eight syscalls of the profile's denied list: each must fail with EPERM. The arguments are
 * ones an unfiltered process may use (a session keyring id, a user-mode userfaultfd, a
 * self-monitoring software counter), so EPERM there is the filter's answer. */
static int denied(const char *who)
{
        static const char *const names[NCALLS] = {
                "kexec_load", "init_module", "bpf", "perf_event_open",
                "keyctl", "userfaultfd", "swapon", "open_by_handle_at",
        };
        union bpf_attr ba;
        struct perf_event_attr pe;
        long r[NCALLS];
        int e[NCALLS], ok = 0;
        memset(&ba, 0, sizeof(ba));
        memset(&pe, 0, sizeof(pe));
        pe.size = sizeof(pe);
        pe.type = PERF_TYPE_SOFTWARE;
        pe.config = PERF_COUNT_SW_TASK_CLOCK;
        pe.exclude_kernel = 1;
        pe.exclude_hv = 1;
#define TRY(i, ...) (errno = 0, r[i] = syscall(__VA_ARGS__), e[i] = errno)
        TRY(0, SYS_kexec_load, 0L, 0L, NULL, 0L);
        TRY(1, SYS_init_module, "", 0L, "");
        TRY(2, SYS_bpf, (long)BPF_MAP_CREATE, &ba, (long)sizeof(ba));
        TRY(3, SYS_perf_event_open, &pe, 0L, -1L, -1L, 0L);
        TRY(4, SYS_keyctl, 0L /* KEYCTL_GET_KEYRING_ID */, -3L /* session */, 0L);
        TRY(5, SYS_userfaultfd, (long)(O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */));
        TRY(6, SYS_swapon, "/nonexistent", 0L);
        TRY(7, SYS_open_by_handle_at, (long)AT_FDCWD, NULL, 0L);
        for (int i = 0; i < NCALLS; i++) {
                if (r[i] == -1 && e[i] == EPERM)
                        ok++;
                else
                        printf("%s: %s returned %ld (%s)\n", who, names[i], r[i], strerror(e[i]));
        }
        return ok;
}

struct job {
        int k, ok;
        long sum;
};

static void *work(void *arg)
{
        struct job *j = arg;
        char who[32];
        for (long i = j->k * (N / NTHREADS) + 1; i <= (j->k + 1) * (N / NTHREADS); i++)
                j->sum += i;
        snprintf(who, sizeof(who), "thread %d", j->k);
        j->ok = denied(who);
        return NULL;
}

int main(int argc, char **argv)
{
        char line[256];
        int seccomp = -1, total, status;
        long sum = 0;
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc != 2)
                return 2;
        FILE *f = fopen("/proc/self/status", "re");
        while (f && fgets(line, sizeof(line), f))
                sscanf(line, "Seccomp: %d", &seccomp);
        if (f)
                fclose(f);
        printf("seccomp mode %d\n", seccomp);
        total = denied("main");
        pthread_t t[NTHREADS];
        struct job jobs[NTHREADS];
        for (int k = 0; k < NTHREADS; k++) {
                jobs[k] = (struct job){ .k = k };
                if (pthread_create(&t[k], NULL, work, &jobs[k]) != 0)
                        return 3;
        }
        for (int k = 0; k < NTHREADS; k++) {
                pthread_join(t[k], NULL);
                sum += jobs[k].sum;
                total += jobs[k].ok;
        }
        pid_t pid = fork();
        if (pid == 0)
                _exit(denied("child"));
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return 4;
        if (WIFEXITED(status))
                total += WEXITSTATUS(status);
        else
                printf("child killed by signal %d\n", WTERMSIG(status));
        f = fopen(argv[1], "we");
        if (!f || fprintf(f, "sum=%ld eperm=%d\n", sum, total) < 0 || fclose(f) != 0)
                return 5;
        printf("denied syscalls returning EPERM: %d of %d\n", total, NCALLS * (NTHREADS + 2));
        printf("sum=%ld, wrote %s\n", sum, argv[1]);
        return total == NCALLS * (NTHREADS + 2) ? 0 : 1;
}
EOF
in_vps sh -c 'cat >/root/work.c' <"$T/work.c"
if in_vps test -x /usr/bin/gcc; then
        rc=0
        t0=$(date +%s%N)
        out=$(in_vps gcc -O2 -Wall -Werror -pthread -o /root/work /root/work.c 2>&1) || rc=$?
        info "gcc -O2 work.c: $(ms_since "$t0") ms"
        expect_eq "gcc compiles the program without a diagnostic" "0 " "$rc $out"
else # still try the denied syscalls: the host (bookworm too) builds the program
        fail "no gcc in the VPS (its install failed): the program is built on the host instead"
        gcc -O2 -Wall -Werror -pthread -o "$T/work" "$T/work.c" &&
                in_vps sh -c 'cat >/root/work && chmod 755 /root/work' <"$T/work"
fi
check "and links it against the guest's glibc" grep -q 'libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6' \
        <<<"$(in_vps ldd /root/work 2>&1)"

check_work() { # check_work HOW EXIT-STATUS OUTPUT FILE: what the program printed and wrote
        printf '%s\n' "$3" | sed "s/^/  $1: /"
        expect_eq "$1: the program exits 0 (not killed by a denied syscall)" 0 "$2"
        check "$1: under the seccomp filter" grep -qx 'seccomp mode 2' <<<"$3"
        check "$1: 48 denied syscalls (main, 4 threads, a forked child) returned EPERM" \
                grep -qx 'denied syscalls returning EPERM: 48 of 48' <<<"$3"
        expect_eq "$1: and it went on to write its file" "sum=500000500000 eperm=48" \
                "$(in_vps cat "$4" 2>&1)"
}
rc=0
out=$(in_vps /root/work /root/out-exec 2>&1) || rc=$?
check_work "vpsctl exec" "$rc" "$out" /root/out-exec
# A service: forked by the VPS's systemd, so under the filter the init got at start.
in_vps sh -c 'cat >/etc/systemd/system/work.service' <<'EOF'
[Service]
Type=oneshot
ExecStart=/root/work /root/out-service
StandardOutput=file:/root/out-service.log
StandardError=inherit
EOF
rc=0
in_vps sh -c 'systemctl daemon-reload && systemctl start work.service' || rc=$?
check_work "a service of the VPS's systemd" "$rc" "$(in_vps cat /root/out-service.log 2>&1)" /root/out-service

# apt-get remove: less (its prerm drops the pager alternative) and uuid-runtime (its prerm
# stops uuidd through systemd).
check "less is the pager alternative before" grep -qx /usr/bin/less <<<"$(in_vps update-alternatives --list pager 2>&1)"
rc=0
apt_in remove -y less uuid-runtime >"$T/remove.out" 2>&1 || rc=$?
expect_eq "apt-get remove -y less uuid-runtime exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 20 "$T/remove.out"
expect_eq "less is removed" not-installed "$(in_vps dpkg-query -W -f='${db:Status-Status}' less 2>&1)"
check "its binary is gone" in_vps test ! -e /usr/bin/less
check "and the pager alternative no longer names it" not grep -qx /usr/bin/less \
        <<<"$(in_vps update-alternatives --list pager 2>&1)"
expect_eq "uuidd.socket is stopped" inactive "$(in_vps systemctl is-active uuidd.socket 2>&1)"

# A package the repository lacks: apt refuses it with its own error, nothing is half-done.
rc=0
out=$(apt_in install -y "$ABSENT" 2>&1) || rc=$?
expect_eq "apt-get install $ABSENT (not in the repository) exits 100" 100 "$rc"
check "saying it has none" \
        grep -qE "^E: (Unable to locate package |Package '?)$ABSENT('? has no installation candidate)?$" <<<"$out"
expect_eq "dpkg --audit still finds nothing" "" "$(in_vps dpkg --audit 2>&1)"
expect_eq "gcc is still installed" "install ok installed" "$(in_vps dpkg-query -W -f='${Status}' gcc 2>&1)"
expect_eq "no failed units in the VPS" "" "$(in_vps systemctl --failed --no-legend --plain 2>&1)"
finish
