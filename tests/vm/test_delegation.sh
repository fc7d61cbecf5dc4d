#!/bin/bash
# Guest test: vpsd started as systemd starts it from the shipped unit (Delegate=yes): in a
# cgroup of its own that it may manage, with no --cgroup-parent. vpsd must move itself into a
# leaf of that cgroup (a cgroup with processes cannot hand controllers down), enable the
# controllers below, and put its VPSes under OWN/vps-HASH with their limits in force; a VPS must
# not be able to change its own limits. Runs in the qemu guest of tests/vm/run.
. "$(dirname "$0")/../integration/lib.sh"

grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: no memory controller in $CG_MOUNT (run this through tests/vm/run)"; exit 77; }

# What systemd does for a Delegate=yes service: the controllers enabled down to the service's
# cgroup, the service's process moved into it.
SVC_REL=/vpsd-svc-$$
SVC=$CG_MOUNT$SVC_REL
echo "+memory +pids +cpu" >"$CG_MOUNT/cgroup.subtree_control"
mkdir "$SVC"
# lib.sh's clean-up kills and removes the VPS cgroups below the default parent; the service's
# own cgroup and vpsd's leaf go after it.
# Its default parent: "vps-" and a hash of its (non-default) root's path (runtime/cgroup/cgroup.c).
CGN=$(printf 'vps-%08x' "$(fnv1a "$ROOT")")
CG_PARENT=$SVC_REL/$CGN
on_exit() {
        local rc=$?
        stop_daemon "$VPSD_PID" "$CG_PARENT"
        VPSD_PID=
        rmdir "$SVC/vpsd" "$SVC" 2>/dev/null || true
        cleanup "$rc"
}
trap on_exit EXIT

sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$SVC" \
        "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
VPSD_PID=$(pgrep -f -x "$VPSD_BIN --root $ROOT --socket $SOCK --bridge $BRIDGE --subnet $SUBNET --daemon" | head -n1)
[ -n "$VPSD_PID" ] || { fail "vpsd did not start in $SVC"; finish; }

expect_eq "vpsd moved itself into a leaf of its cgroup" "0::$SVC_REL/vpsd" "$(cat "/proc/$VPSD_PID/cgroup")"
for c in memory pids cpu; do
        check "its cgroup hands $c down" grep -qw "$c" "$SVC/cgroup.subtree_control"
        check "and so does the VPS parent" grep -qw "$c" "$SVC/$CGN/cgroup.subtree_control"
done
expect_eq "the service cgroup holds no process itself" "" "$(cat "$SVC/cgroup.procs")"

vpsctl template build busybox >/dev/null
vpsctl create 831 --ostemplate busybox --ram 64M --numproc 50 --cpus 0.5 >/dev/null ||
        { fail "create 831 with limits under the delegated cgroup"; finish; }
vpsctl start 831 >/dev/null || { fail "start 831"; finish; }
CG=$(vpsctl status 831 -j | jq -r .cgroup)
expect_eq "the VPS's cgroup is under OWN/vps-HASH" "$SVC/$CGN/831" "$CG"
expect_eq "its limits are in force" "67108864 50 50000 100000" \
        "$(cat "$CG/memory.max") $(cat "$CG/pids.max") $(cat "$CG/cpu.max")"
check "set --ram works there too" sh -c "'$VPSCTL_BIN' --socket '$SOCK' set 831 --ram 96M >/dev/null && test \"\$(cat '$CG/memory.max')\" = 100663296"

# Inside, the VPS's systemd (or anyone) may make cgroups of its own, never raise its limits.
in_vps() { "$VPSCTL_BIN" --socket "$SOCK" exec 831 -- "$@"; }
# Its cgroup namespace root is its guest cgroup, below the host root's one that holds the
# limits: the controllers reach it, for the guest to hand on to its own cgroups.
expect_eq "the guest's cgroup is below the VPS's limits" "$CG/guest" \
        "$CG_MOUNT$(grep '^0::' "/proc/$(vpsctl status 831 -j | jq -r .pid)/cgroup" | cut -d: -f3)"
for c in memory pids cpu; do
        check "the guest may use the $c controller" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 831 -- cat /sys/fs/cgroup/cgroup.controllers | grep -qw $c"
done
check "the VPS may make a cgroup of its own" in_vps mkdir /sys/fs/cgroup/own
exec_denied "it cannot raise its memory.max" 831 "Permission denied" sh -c 'echo max > /sys/fs/cgroup/memory.max'
exec_denied "nor its pids.max" 831 "Permission denied" sh -c 'echo max > /sys/fs/cgroup/pids.max'
expect_eq "memory.max is as vpsd set it" 100663296 "$(cat "$CG/memory.max")"
in_vps rmdir /sys/fs/cgroup/own 2>/dev/null || true
vpsctl stop 831 --fast >/dev/null
finish
