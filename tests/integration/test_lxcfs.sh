#!/usr/bin/env bash
# LXCFS: with it running, vpsd binds its views over the VPS's /proc (meminfo, cpuinfo, stat,
# uptime, loadavg, diskstats, swaps) and /sys/devices/system/cpu/online; without it the VPS
# still starts, with a warning; lxcfs = off binds nothing and warns nothing. That free shows
# the VPS's --ram is shown in the VM layer (this host's cgroup2 tree has no memory
# controller, so LXCFS answers from the host's figures here).
. "$(dirname "$0")/lib.sh"
command -v lxcfs >/dev/null || { echo "FAIL: needs lxcfs (scripts/install-deps installs it)"; exit 1; }

# An LXCFS of this test's own, on its own mount point.
LX=$T/lxcfs
mkdir -p "$LX"
lxcfs -f -p "$T/lxcfs.pid" --enable-cfs "$LX" >"$T/lxcfs.log" 2>&1 &
LXCFS_PID=$!
TEST_PIDS=$LXCFS_PID
# Stopped by its PID (this shell's child): SIGTERM, SIGKILL after 10 s, reaped, and then out
# of TEST_PIDS, where the number could name another process by the time of cleanup.
stop_lxcfs() {
        [ -n "${LXCFS_PID:-}" ] || return 0
        kill "$LXCFS_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$LXCFS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$LXCFS_PID" 2>/dev/null || true
        wait "$LXCFS_PID" 2>/dev/null || true
        TEST_PIDS=
        umount -l "$LX" 2>/dev/null || true
        LXCFS_PID=
}
TEST_MOUNTS="$LX"
for _ in $(seq 300); do [ -r "$LX/proc/meminfo" ] && break; sleep 0.1; done
check "the test's LXCFS runs" test -r "$LX/proc/meminfo"

printf 'lxcfs = %s\n' "$LX" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 611 --ostemplate busybox >/dev/null
out=$(vpsctl start 611 2>&1)
check "a start with LXCFS gives no warning" test -z "$(printf '%s' "$out" | grep -i warning)"
views=$(vpsctl exec 611 -- cat /proc/self/mountinfo | awk '/ - fuse\.lxcfs / { print $5 }' | sort | tr '\n' ' ')
expect_eq "LXCFS views over /proc and /sys" "/proc/cpuinfo /proc/diskstats /proc/loadavg /proc/meminfo /proc/stat /proc/swaps /proc/uptime /sys/devices/system/cpu/online " "$views"
up_in=$(vpsctl exec 611 -- cut -d. -f1 /proc/uptime)
up_host=$(cut -d. -f1 /proc/uptime)
check "uptime inside is the VPS's ($up_in s), not the host's ($up_host s)" test "$up_in" -lt 60 -a "$up_host" -gt "$up_in"
check "free inside works" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 611 -- free | grep -q '^Mem:'"
# (The binds are not read-only: LXCFS itself refuses the write, with EINVAL.)
exec_denied "a view refuses the guest's writes" 611 "Invalid argument|Permission denied|Read-only file system" \
        sh -c 'echo x > /proc/meminfo'

# LXCFS gone: the VPS still starts, with a warning, and /proc is procfs's own.
stop_lxcfs
vpsctl create 612 --ostemplate busybox >/dev/null
out=$(vpsctl start 612 2>&1)
expect_eq "without LXCFS the VPS starts" running "$(vps_field 612 status)"
has_warning() { printf '%s' "$out" | grep -q 'warning: LXCFS is not running'; }
check "with a warning naming LXCFS" has_warning
check "the warning is logged" grep -q "VPS 612: warning: LXCFS is not running" "$ROOT/vpsd.log"
exec_lacks "no LXCFS view in 612" 612 fuse.lxcfs cat /proc/self/mountinfo

# lxcfs = off: no binds and no warning.
kill_vpsd
printf 'lxcfs = off\n' >"$T/vpsd.conf"
start_vpsd
vpsctl create 613 --ostemplate busybox >/dev/null
out=$(vpsctl start 613 2>&1)
check "lxcfs = off: no warning" test -z "$(printf '%s' "$out" | grep -i warning)"
# An "off" taken for the default (/var/lib/lxcfs) would bind its views where an LXCFS runs
# there, and warn where none does: the two checks together see it either way.
exec_lacks "and no LXCFS view in 613" 613 fuse.lxcfs cat /proc/self/mountinfo
printf 'lxcfs = relative/dir\n' >"$T/bad.conf"
expect_error "a relative lxcfs directory is refused" "lxcfs takes an absolute directory or off" \
        env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock"
finish
