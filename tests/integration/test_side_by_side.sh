#!/usr/bin/env bash
# Two vpsd with their own roots, sockets and cgroup parents run side by side; a second vpsd
# on the same root or socket is refused; set --hostname applies live and is saved.
. "$(dirname "$0")/lib.sh"
start_vpsd
make_running_vps 501

ROOT2=$T/root2 SOCK2=$T/vpsd2.sock CG2=${CG_PARENT}-b PID2=
# Its own bridge and subnet too: a live vpsd holds its own (vpsbr0 may be another test's).
BR2=${BRIDGE}b SUB2=${NETPFX%.0}.1.0/24 NET2=(--bridge "$BR2" --subnet "$SUB2")
# The second vpsd, its VPSes and its cgroup parent (beside lib.sh's, so not in its cleanup):
# stopped and removed here, on the way out too, before lib.sh's cleanup (given the test's exit
# status: a `(exit $rc)` to restore it would end the trap under set -e, cleanup unrun).
stop_second() {
        local run2
        run2=$(run_state_dir "$ROOT2")
        stop_daemon "$PID2" "$CG2"
        PID2=
        [ -z "$run2" ] || rm -rf "$run2"
}
trap 'rc=$?; stop_second; cleanup "$rc"' EXIT
# The second one takes its root and socket from the environment, as vpsctl does its socket.
VPSD_ROOT=$ROOT2 VPSD_SOCKET=$SOCK2 "$VPSD_BIN" --cgroup-parent "$CG2" "${NET2[@]}" --daemon
PID2=$(pgrep -f -x "$VPSD_BIN --cgroup-parent $CG2 --bridge $BR2 --subnet $SUB2 --daemon" | head -n1)
[ -n "$PID2" ] || { fail "the second vpsd did not start"; finish; }
v2() { VPSD_SOCKET=$SOCK2 "$VPSCTL_BIN" "$@"; }
check "VPSD_SOCKET: the second vpsd listens there" test -S "$SOCK2"
v2 template build busybox >/dev/null
check "VPSD_ROOT: its template is under that root" test -d "$ROOT2/templates/busybox/rootfs"
v2 create 501 --ostemplate busybox --hostname second >/dev/null
v2 start 501 >/dev/null
expect_eq "first daemon's 501" vps501 "$(vpsctl exec 501 -- hostname)"
expect_eq "second daemon's 501" second "$(v2 exec 501 -- hostname)"
check "different inits" test "$(vps_field 501 pid)" != "$(v2 list -j | jq '.[0].pid')"
v2 stop 501 --fast >/dev/null
v2 destroy 501 >/dev/null
stop_second
check "the second vpsd's cgroup parent is gone" test ! -e "$CG_MOUNT$CG2"
check "no sanitizer report from the second vpsd" sh -c "! grep -qE 'Sanitizer|runtime error:' '$ROOT2/vpsd.log' 2>/dev/null"

rc=0; out=$("$VPSD_BIN" --root "$ROOT" --socket "$T/other.sock" "${NET2[@]}" 2>&1) || rc=$?
check "a second vpsd on the same root is refused" test "$rc" != 0
check "and says why" sh -c "printf '%s' \"$out\" | grep -q 'another vpsd is using'"
rc=0; out=$("$VPSD_BIN" --root "$T/root3" --socket "$SOCK" --cgroup-parent "$CG2" "${NET2[@]}" 2>&1) || rc=$?
stop_second
check "a second vpsd on the same socket is refused" sh -c "test $rc != 0 && printf '%s' \"$out\" | grep -q 'another vpsd is listening'"
expect_eq "the first daemon still answers" running "$(vps_field 501 status)"

vpsctl set 501 --hostname renamed >/dev/null
expect_eq "set --hostname applies live" renamed "$(vpsctl exec 501 -- hostname)"
expect_eq "and is saved" renamed "$(jq -r .hostname "$ROOT/vps/501/config.json")"
expect_error "set with a bad hostname" "invalid hostname" vpsctl set 501 --hostname '-x'
expect_eq "a failed set keeps the old config" renamed "$(jq -r .hostname "$ROOT/vps/501/config.json")"
finish
