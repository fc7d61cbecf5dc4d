#!/usr/bin/env bash
# The escape probe, run as root inside a VPS: every attempt must fail, and from the host
# nothing may have changed.
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE:-$BUILD/tests/vps-escape-probe}
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
start_vpsd
make_running_vps 601

sentinel=/etc/vps-escape-sentinel
echo "host" >"$sentinel"
core_before=$(cat /proc/sys/kernel/core_pattern)
# The modules the probe's attempts concern: ext4, which it tries to unload (delete_module), and
# tun and fuse, which opening /dev/net/tun and /dev/fuse could have the kernel load. Only
# these: other modules come and go with whatever else runs on the host (loop devices...).
# A host without loadable modules (no /proc/modules) shows every one "absent" throughout.
probe_modules() {
        local m
        for m in ext4 tun fuse; do
                if grep -q "^$m " /proc/modules 2>/dev/null; then echo "$m loaded"; else echo "$m absent"; fi
        done
}
modules_before=$(probe_modules)
# Host knobs a VPS root would want to change, read from the host before and after.
HOST_SYSCTLS="kernel/core_pattern kernel/modprobe kernel/sysrq kernel/hostname kernel/domainname
        net/ipv4/ip_forward vm/overcommit_memory kernel/randomize_va_space fs/suid_dumpable"
host_sysctls() { local k; for k in $HOST_SYSCTLS; do echo "$k=$(cat "/proc/sys/$k" 2>/dev/null)"; done; }
sysctls_before=$(host_sysctls)
# A neighbour: a second VPS with a file of its own, which must come through untouched.
make_running_vps 602
vpsctl exec 602 -- sh -c 'echo neighbour > /root/mine'
neighbour_pid=$(vps_field 602 pid)

vpsctl exec 601 -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"
# What --features would grant (a tun device, a FUSE mount, the keyring, proc and sysfs in
# nested namespaces) is refused to a VPS without them, as ENOENT or EPERM, never otherwise.
# First, while the VPS is as vpsd made it: the probe below ends by trying to take away the
# masks (locked now: test_host_masks.sh), and a /sys with nothing covered would let a nested
# sysfs mount through, as --features nesting does.
fout=$(vpsctl exec 601 -- /probe --features tun:off,fuse:off,nesting:off 2>&1) && frc=0 || frc=$?
echo "$fout"
expect_eq "without --features nothing they grant works" 0 "$frc"
check "the feature attempts ran" sh -c "printf '%s\n' \"\$1\" | grep -q '^features: 8 attempts, 0 unexpected'" _ "$fout"
rc=0
# Host PIDs for the visibility and ptrace classes: vpsd's and this shell's (both far above
# any PID inside the VPS's own pid namespace).
out=$(vpsctl exec 601 -- /probe "$VPSD_PID" "$$" 2>&1) || rc=$?
echo "$out"
expect_eq "the probe found nothing allowed" 0 "$rc"
check "the probe ran every class" test "$(printf '%s\n' "$out" | grep -c ': blocked')" -ge 75
check "host PIDs are invisible (ESRCH), not merely refused" sh -c "printf '%s\n' \"\$1\" | grep -q 'ptrace host PID $VPSD_PID: blocked (No such process)'" _ "$out"

# runc's CVE-2019-5736: a guest process opening the exe of a process that vpsctl puts into the
# VPS, to overwrite the runtime's binary. The probe watches for 4 s while commands enter.
# Commands keep entering until the watcher is done (at least 40), so that they overlap its
# 4 s however slowly either starts.
vpsctl exec 601 -- /probe --watch-exe 4 >"$T/watch.out" 2>&1 &
watch=$!
entered=0 enter_end=$((SECONDS + 120))
while [ "$entered" -lt 40 ] || { ! proc_gone "$watch" && [ "$SECONDS" -lt "$enter_end" ]; }; do
        vpsctl exec 601 -- true
        entered=$((entered + 1))
done
wait "$watch" && wrc=0 || wrc=$?
echo "commands entered while the watcher ran: $entered"
cat "$T/watch.out"
expect_eq "no /proc/PID/exe of an entering process could be opened for writing" 0 "$wrc"
check "the watcher tried" sh -c "grep -q 'overwrite /proc/PID/exe: [1-9][0-9]* attempts' '$T/watch.out'"
# Non-dumpable until exec, shown on the syscalls themselves (the window before exec is too
# short for the watcher to be sure to hit): the process that joins the VPS drops its dumpable
# flag before it enters the namespaces, and the start child before it execs the init.
# (LeakSanitizer cannot run under ptrace: off for this one traced command of an ASan build.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        timeout -s KILL 120 strace -f -qq -b execve -e trace=prctl,setns -o "$T/attach.trace" \
        "$VPSCTL_BIN" --socket "$SOCK" exec 601 -- true
first_setns_pid=$(awk '/setns\(/ { print $1; exit }' "$T/attach.trace")
check "exec: the joining process enters the VPS's namespaces" test -n "$first_setns_pid"
check "exec: and drops its dumpable flag before it does" awk -v pid="$first_setns_pid" '
        $1 == pid && /PR_SET_DUMPABLE, SUID_DUMP_DISABLE/ { dump = 1 }
        $1 == pid && /setns\(/ { exit !dump }' "$T/attach.trace"
vpsctl stop 601 --fast >/dev/null
trace_vpsd "$T/start.trace" prctl,execve
vpsctl start 601 >/dev/null
untrace_vpsd
init_pid=$(awk '/execve\("\/sbin\/init"/ { print $1; exit }' "$T/start.trace")
check "start: the child execs the init" test -n "$init_pid"
check "start: and is not dumpable before it does" awk -v pid="$init_pid" '
        $1 == pid && /PR_SET_DUMPABLE, SUID_DUMP_DISABLE/ { dump = 1 }
        $1 == pid && /execve\(/ { exit !dump }' "$T/start.trace"

expect_eq "core_pattern unchanged" "$core_before" "$(cat /proc/sys/kernel/core_pattern)"
expect_eq "the probe's modules neither unloaded nor loaded" "$modules_before" "$(probe_modules)"
expect_eq "host sentinel untouched" host "$(cat "$sentinel")"
expect_eq "host sysctls unchanged ($(echo $HOST_SYSCTLS | wc -w) read)" "$sysctls_before" "$(host_sysctls)"
check "vpsd (a host process the probe aimed at) still runs" kill -0 "$VPSD_PID"
expect_eq "the neighbour VPS runs the same init" "$neighbour_pid" "$(vps_field 602 pid)"
expect_eq "and its file is untouched" neighbour "$(vpsctl exec 602 -- cat /root/mine)"
rm -f "$sentinel"

# The same profile holds for the VPS init itself, not only for exec'd processes.
check "init has a seccomp filter" grep -q '^Seccomp:[[:space:]]*2' "/proc/$(vps_field 601 pid)/status"
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$(vps_field 601 pid)/status")
check "init lacks CAP_SYS_MODULE" test $(((0x$bnd >> 16) & 1)) = 0
init_fds=$(ls "/proc/$(vps_field 601 pid)/fd" | sort -n | tr '\n' ' ')
expect_eq "init holds no fd of vpsd's but its console (0 1 2)" "0 1 2 " "$init_fds"
# (The console is a host pty bound onto /dev/console: its number is the host's next free one.)
expect_eq "and those are its console, a pty (device numbers of fds 0-2 and /dev/console)" "88" \
        "$(in_601() { "$VPSCTL_BIN" --socket "$SOCK" exec 601 -- "$@"; }
           in_601 sh -c 'for f in /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2 /dev/console; do stat -L -c %t "$f"; done' | sort -u)"
check "one and the same pty" test "$("$VPSCTL_BIN" --socket "$SOCK" exec 601 -- sh -c 'for f in /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2 /dev/console; do stat -L -c %t:%T "$f"; done' | sort -u | wc -l)" = 1
expect_eq "init's working directory is its own root" / "$(vpsctl exec 601 -- readlink /proc/1/cwd)"
check "init keeps CAP_SYS_ADMIN (systemd needs it in its namespace)" test $(((0x$bnd >> 21) & 1)) = 1

# A normal workload still works: files, processes, /proc/sys/net inside its own netns.
check "a shell pipeline works" sh -c "test \"\$('$VPSCTL_BIN' --socket '$SOCK' exec 601 -- sh -c 'seq 100 | sort -n | tail -1')\" = 100"
# The VPS writes the opposite of the host's ip_forward into its own: the host's must not follow.
fwd=$((1 - $(cat /proc/sys/net/ipv4/ip_forward)))
check "the VPS may tune its own network sysctls (ip_forward = $fwd)" \
        "$VPSCTL_BIN" --socket "$SOCK" exec 601 -- sh -c "echo $fwd > /proc/sys/net/ipv4/ip_forward"
expect_eq "it reads back its own value" "$fwd" "$(vpsctl exec 601 -- cat /proc/sys/net/ipv4/ip_forward)"
exec_denied "and not the host's" 601 "Permission denied|Read-only file system" sh -c 'echo 1 > /proc/sys/vm/drop_caches'
expect_eq "host sysctls unchanged after the VPS's own writes" "$sysctls_before" "$(host_sysctls)"
finish
