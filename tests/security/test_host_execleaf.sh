#!/usr/bin/env bash
# The cgroup `vpsctl exec` puts its commands in (issue 14): the guest owned it (it sat in the
# VPS cgroup the guest was delegated), so it could remove it, make one of its own and freeze
# it, and the next exec hung, born frozen. Now it is host root's, beside the guest's cgroup
# under the VPS's top one: the guest can neither reach nor replace it, and exec'd commands
# stay under the VPS's limits and device program.
. "$(dirname "$0")/../integration/lib.sh"
start_vpsd
make_running_vps 801
TOP=$(vps_field 801 cgroup)
LEAF=$TOP/vpsd-exec

# The attack, as root in the VPS: from the guest's cgroup root, remove the exec cgroup, make
# one of its own, freeze it. Each step says whether it worked. Run twice: from a command
# exec'd into the VPS (which first tries to leave the exec cgroup), and from the init's own
# tree at boot (rc.local), before any exec made the cgroup.
attack='cd /sys/fs/cgroup || exit 1
echo "attack: running in $(grep ^0:: /proc/self/cgroup)"
echo $$ > cgroup.procs 2>/dev/null && echo "attack: left the exec cgroup"
rmdir vpsd-exec 2>/dev/null && echo "attack: removed vpsd-exec"
mkdir vpsd-exec 2>/dev/null && echo "attack: made vpsd-exec"
echo 1 > vpsd-exec/cgroup.freeze 2>/dev/null && echo "attack: froze vpsd-exec"
echo "attack: done"'
vpsctl exec 801 -- true
out=$(timeout 30 "$VPSCTL_BIN" --socket "$SOCK" exec 801 -- sh -c "$attack" 2>&1) || true
echo "$out"
lacks() { ! grep -q -- "$1" <<<"$2"; }
check "the attack ran to its end (positive control)" grep -q '^attack: done' <<<"$out"
check "it ran as root in the VPS, from the exec cgroup" grep -q '^attack: running in 0::/.*vpsd-exec' <<<"$out"
check "the guest cannot move a command out of the exec cgroup" lacks 'left the exec cgroup' "$out"
check "nor remove the exec cgroup" lacks 'removed vpsd-exec' "$out"
out=$(timeout 30 "$VPSCTL_BIN" --socket "$SOCK" exec 801 -- echo alive 2>&1) && rc=0 || rc=$?
expect_eq "vpsctl exec works after it (exit $rc)" alive "$out"

printf '#!/bin/sh\nexec >/attack.out 2>&1\n%s\n' "$attack" >"$T/attack"
vpsctl exec 801 -- sh -c 'cat > /etc/rc.local && chmod 755 /etc/rc.local && rm -f /attack.out' <"$T/attack"
vpsctl restart 801 --fast >/dev/null
# rc.local runs once the init is up: up to 30 s on a busy machine.
for _ in $(seq 300); do grep -q '^attack: done' "$ROOT/vps/801/upper/attack.out" 2>/dev/null && break; sleep 0.1; done
out=$(cat "$ROOT/vps/801/upper/attack.out" 2>/dev/null || true)
echo "$out"
check "at boot the attack ran to its end (positive control)" grep -q '^attack: done' <<<"$out"
check "from the guest's own cgroup" grep -q '^attack: running in 0::/$' <<<"$out"
check "where it made and froze a cgroup of its own" grep -q '^attack: froze vpsd-exec' <<<"$out"

# Whatever the guest made or froze, exec goes on working, into host root's cgroup.
check "the exec cgroup is still there" test -d "$LEAF"
expect_eq "and host root's" 0 "$(stat -c %u "$LEAF")"
expect_eq "its procs file too" 0 "$(stat -c %u "$LEAF/cgroup.procs")"
expect_eq "and not frozen" "frozen 0" "$(grep '^frozen' "$LEAF/cgroup.events")"
out=$(timeout 30 "$VPSCTL_BIN" --socket "$SOCK" exec 801 -- echo alive 2>&1) && rc=0 || rc=$?
expect_eq "vpsctl exec still works (exit $rc)" alive "$out"
out=$(timeout 30 "$VPSCTL_BIN" --socket "$SOCK" exec -t 801 -- echo alive 2>&1 </dev/null | tr -d '\r') || true
expect_eq "and exec -t" alive "$out"

# The guest's own cgroup: where its init lives, delegated to it; the exec cgroup is not in it.
expect_eq "the guest's init is in the guest cgroup" "0::${TOP#"$CG_MOUNT"}/guest" \
        "$(grep '^0::' "/proc/$(vps_field 801 pid)/cgroup")"
expect_eq "the VPS's top cgroup is host root's" 0 "$(stat -c %u "$TOP")"
expect_eq "and so are its limits" 0 "$(stat -c %u "$TOP/cgroup.max.descendants")"

# Exec'd commands are under the VPS's top cgroup, so its limits and device program hold them
# (tests/integration/test_devices.sh opens devices from the exec cgroup).
"$VPSCTL_BIN" --socket "$SOCK" exec 801 -- sleep 30 >/dev/null 2>&1 &
execer=$!
pid=
for _ in $(seq 100); do
        pid=$(head -n1 "$LEAF/cgroup.procs" 2>/dev/null || true)
        [ -n "$pid" ] && break
        sleep 0.1
done
check "an exec'd command is in the exec cgroup" test -n "$pid"
expect_eq "which is under the VPS's top cgroup" "0::${TOP#"$CG_MOUNT"}/vpsd-exec" \
        "$(grep '^0::' "/proc/$pid/cgroup" 2>/dev/null)"
echo 1 >"$TOP/cgroup.kill"
wait "$execer" 2>/dev/null || true
finish
