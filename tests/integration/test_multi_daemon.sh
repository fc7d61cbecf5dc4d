#!/usr/bin/env bash
# Two vpsd with their own roots, sockets, bridges and subnets are independent: each runs its own
# VPS 203 (networked) at once, under its own cgroup parent (the second one's derived from its
# root, as no --cgroup-parent is given) and on host interfaces of its own; stopping one's leaves
# the other's running. A third vpsd on a cgroup parent, bridge or subnet that a live vpsd holds
# is refused, naming that vpsd; a killed vpsd's hold goes with it, and a re-exec keeps it.
NET_TEST=1
. "$(dirname "$0")/lib.sh"
start_vpsd

# The second vpsd is started as a service manager would: in a cgroup of its own, which the test
# removes (with the default parent inside it) on the way out, before lib.sh's clean-up.
ROOT2=$T/root2 SOCK2=$T/b.sock BR2=${BRIDGE}b SUB2=${NETPFX%.0}.1.0/24 PID2=
SVC_REL=/vpstest-svc-$$-$RANDOM
CGN2=$(printf 'vps-%08x' "$(fnv1a "$ROOT2")")
CG2=$SVC_REL/$CGN2
stop_second() {
        local run2
        run2=$(run_state_dir "$ROOT2")
        stop_daemon "$PID2" "$CG2"
        PID2=
        [ -z "$run2" ] || rm -rf "$run2"
        rmdir "$CG_MOUNT$SVC_REL/vpsd" "$CG_MOUNT$SVC_REL" 2>/dev/null || true
        nft delete table ip "vpsd_$BR2" 2>/dev/null || true
        nft delete table bridge "vpsd_$BR2" 2>/dev/null || true
        ip link del "$BR2" 2>/dev/null || true
}
trap 'rc=$?; stop_second; cleanup "$rc"' EXIT
mkdir "$CG_MOUNT$SVC_REL"
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG_MOUNT$SVC_REL" \
        "$VPSD_BIN" --root "$ROOT2" --socket "$SOCK2" --bridge "$BR2" --subnet "$SUB2" --daemon
PID2=$(pgrep -f -x "$VPSD_BIN --root $ROOT2 --socket $SOCK2 --bridge $BR2 --subnet $SUB2 --daemon" | head -n1)
[ -n "$PID2" ] || { fail "the second vpsd did not start"; finish; }
v2() { "$VPSCTL_BIN" --socket "$SOCK2" "$@"; }

vpsctl template build busybox >/dev/null
vpsctl create 203 --ostemplate busybox --hostname first --ipadd "$NETPFX.3" >/dev/null
vpsctl start 203 >/dev/null
PID_A=$(vps_field 203 pid)
v2 template build busybox >/dev/null
v2 create 203 --ostemplate busybox --hostname second --ipadd "${NETPFX%.0}.1.3" >/dev/null
check "the second vpsd starts its VPS 203 while the first's runs" v2 start 203
expect_eq "the first daemon's 203 still runs, the same init" "running $PID_A" \
        "$(vps_field 203 status) $(vps_field 203 pid)"
expect_eq "first daemon's 203" first "$(vpsctl exec 203 -- hostname)"
expect_eq "second daemon's 203" second "$(v2 exec 203 -- hostname)"
expect_eq "the second's cgroups are under its own default parent (vps-HASH of its root)" \
        "$CG_MOUNT$CG2/203" "$(v2 status 203 -j | jq -r .cgroup)"
expect_eq "the first's under its own" "$CG_MOUNT$CG_PARENT/203" "$(vpsctl status 203 -j | jq -r .cgroup)"
TAG2=$(printf '%04x' $(( $(fnv1a "$BR2") & 0xffff )))
check "each 203 has its own host veth, on its own bridge" sh -c \
        "ip -o link show $(veth_of 203) | grep -q 'master $BRIDGE ' && ip -o link show v${TAG2}203.0 | grep -q 'master $BR2 '"
check "each network answers" sh -c "vpsctl() { \"$VPSCTL_BIN\" --socket \"\$1\" exec 203 -- ping -c1 -W2 \"\$2\" >/dev/null; }; vpsctl '$SOCK' $NETPFX.1 && vpsctl '$SOCK2' ${NETPFX%.0}.1.1"
v2 stop 203 >/dev/null
expect_eq "stopping the second's 203 leaves the first's running" "running $PID_A" \
        "$(vps_field 203 status) $(vps_field 203 pid)"
check "and its network" vpsctl exec 203 -- ping -c1 -W2 "$NETPFX.1"
check "the first's veth stays" ip link show "$(veth_of 203)"

# A third vpsd on what a live one holds: refused, naming the holder, having made nothing.
third() { timeout 10 "$VPSD_BIN" --root "$T/root3" --socket "$T/c.sock" "$@"; }
HOLD1="another vpsd \\(pid $VPSD_PID, root $ROOT\\)"
expect_error "the first's bridge is refused" "^vpsd: bridge $BRIDGE is held by $HOLD1\$" \
        third --bridge "$BRIDGE" --subnet 10.251.0.0/24 --cgroup-parent "$CG_PARENT-c"
expect_error "the first's subnet" "subnet $SUBNET is held by $HOLD1" \
        third --bridge "${BRIDGE}c" --subnet "$SUBNET" --cgroup-parent "$CG_PARENT-c"
# (It overlaps the second's too: either may be named.)
expect_error "a subnet overlapping it" \
        "subnet ${NETPFX%.0}.0.0/16 overlaps ${NETPFX%.0}.[01].0/24, which is held by another vpsd \\(pid ($VPSD_PID|$PID2), root ($ROOT|$ROOT2)\\)\$" \
        third --bridge "${BRIDGE}c" --subnet "${NETPFX%.0}.0.0/16" --cgroup-parent "$CG_PARENT-c"
expect_error "the first's cgroup parent" "cgroup parent $CG_MOUNT$CG_PARENT is held by $HOLD1" \
        third --bridge "${BRIDGE}c" --subnet 10.251.0.0/24 --cgroup-parent "$CG_PARENT"
expect_error "the second's default cgroup parent" \
        "cgroup parent $CG_MOUNT$CG2 is held by another vpsd \\(pid $PID2, root $ROOT2\\)" \
        third --bridge "${BRIDGE}c" --subnet 10.251.0.0/24 --cgroup-parent "$CG2"
check "the refused vpsd made no root" test ! -e "$T/root3"
check "nor a cgroup parent" test ! -e "$CG_MOUNT$CG_PARENT-c"

# An upgrade in place (SIGHUP re-exec) keeps what the first holds.
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do vpsctl list >/dev/null 2>&1 && grep -q 're-exec of' "$ROOT/vpsd.log" && break; sleep 0.1; done
expect_error "after a re-exec the first's bridge is still held" "bridge $BRIDGE is held by $HOLD1" \
        third --bridge "$BRIDGE" --subnet 10.251.0.0/24 --cgroup-parent "$CG_PARENT-c"

# A vpsd killed outright holds nothing any more.
kill -9 "$PID2"
until proc_gone "$PID2"; do sleep 0.05; done
"$VPSD_BIN" --root "$T/root3" --socket "$T/c.sock" --bridge "$BR2" --subnet "$SUB2" \
        --cgroup-parent "$CG2" --daemon
PID3=$(pgrep -f -x "$VPSD_BIN --root $T/root3 --socket $T/c.sock --bridge $BR2 --subnet $SUB2 --cgroup-parent $CG2 --daemon" | head -n1)
check "a killed vpsd's bridge, subnet and cgroup parent are free again" test -n "$PID3"
PID2=$PID3
stop_second
expect_eq "the first daemon's 203 ran through all of it" "running $PID_A" \
        "$(vps_field 203 status) $(vps_field 203 pid)"
finish
