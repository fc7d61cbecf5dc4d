#!/usr/bin/env bash
# A guest must not freeze vpsd for everyone (issue 14). VPS 701 (--features fuse) mounts a
# FUSE file system over its / that reads every request and answers none (vps-probe-fuse),
# so whatever enters its mount namespace waits, beyond the reach of SIGKILL. A `set` that
# writes its files (--hostname, --ipadd) must then fail within vpsd.conf's guest_timeout
# (4 s here) with an error naming the VPS and what timed out, with config.json, the guest's
# hostname, its eth0 and the host's filter as before; meanwhile vpsd answers list, status and
# a neighbour's set, and sysinfo(2) calls of the neighbour's processes go on being answered.
NET_TEST=1
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-fuse
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
[ -e /dev/fuse ] || { echo "SKIP: this host has no /dev/fuse"; exit 77; }
TIMEOUT=4
# A vpsd without the setting (the code before it) runs with none: it then stalls.
if "$VPSD_BIN" --help | grep -q guest_timeout; then
        printf 'guest_timeout = %s\n' "$TIMEOUT" >"$T/vpsd.conf"
        export VPSD_CONFIG=$T/vpsd.conf
fi
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 701 --ostemplate busybox --hostname calm701 --ipadd "$NETPFX.71" --features fuse >/dev/null
vpsctl create 702 --ostemplate busybox --hostname calm702 >/dev/null
vpsctl start 701 >/dev/null
vpsctl start 702 >/dev/null
pid701=$(vps_field 701 pid)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
within() { awk -v e="$1" -v max="$2" 'BEGIN { exit !(e <= max) }'; }
quiet() { "$@" >/dev/null 2>&1; }

# The neighbour's processes ask sysinfo(2) (busybox free) in a loop, counting the answers
# into a file of its upper layer, which the host reads without asking vpsd.
vpsctl exec 702 -- sh -c 'i=0; while :; do free >/dev/null && i=$((i + 1)); echo $i >/root/n.new; mv /root/n.new /root/n; sleep 0.1; done >/dev/null 2>&1 &'
count702() { cat "$ROOT/vps/702/upper/root/n" 2>/dev/null || echo 0; }
for _ in $(seq 50); do [ "$(count702)" -gt 0 ] && break; sleep 0.1; done
check "the neighbour's sysinfo loop runs" test "$(count702)" -gt 0

vpsctl exec 701 -- sh -c 'cat > /probe-fuse && chmod 755 /probe-fuse' <"$PROBE"
out=$(timeout 10 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- /probe-fuse / 2>&1) || true
check "the guest mounted its FUSE file system over / ($out)" grep -q '^mounted over /' <<<"$out"
# Positive control: entering the VPS now hangs on the FUSE root.
rc=0
# vpsctl passes timeout's SIGTERM on to the command, which FUSE holds: SIGKILL after 2 s more.
timeout -k 2 3 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- stat /etc/hostname >/dev/null 2>&1 || rc=$?
check "a second exec into 701 hangs on it (killed by timeout: $rc)" test "$rc" = 124 -o "$rc" = 137

config_before=$(md5sum <"$ROOT/vps/701/config.json")
filter_before=$(nft list table bridge "vpsd_$BRIDGE" 2>/dev/null | grep -c "$NETPFX" || true)

# The stalled set, in the background, timed.
t0=$(now)
( rc=0; "$VPSCTL_BIN" --socket "$SOCK" set 701 --hostname stalled701 >"$T/set.out" 2>"$T/set.err" || rc=$?
  echo "$rc $(now)" >"$T/set.done" ) &
sleep 0.5
n0=$(count702)
# While it is pending: vpsd answers, and the neighbour's sysinfo calls are answered.
ta=$(now)
check "list answers while 701's set is pending" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" list
check "status of 702 answers meanwhile" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" status 702
grew702() { [ "$(count702)" -gt "$1" ]; }
check "the neighbour's sysinfo calls are answered meanwhile ($n0 -> $(eventually 3 grew702 "$n0"; count702))" grew702 "$n0"
tb=$(now)
check "701's set was still pending all that time ($(elapsed "$ta" "$tb") s)" test ! -f "$T/set.done"
check "a set of 702 goes through meanwhile" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" set 702 --hostname busy702
check "702's guest got it" test "$(timeout 2 "$VPSCTL_BIN" --socket "$SOCK" exec 702 -- hostname 2>/dev/null)" = busy702
out=$(timeout 2 "$VPSCTL_BIN" --socket "$SOCK" set 701 --nameserver 10.0.0.1 2>&1 >/dev/null) && rc=0 || rc=$?
check "a second change to 701 meanwhile is refused at once, busy ($rc: $out)" grep -q "701 is busy" <<<"$out"

# The set fails within the deadline (and its undo's grace), naming the VPS and the step.
for _ in $(seq 100); do [ -f "$T/set.done" ] && break; sleep 0.1; done
if ! read -r rc t1 <"$T/set.done" 2>/dev/null; then
        # vpsd is held in its loop by the guest (the code before the fix): nothing below can
        # be asked of it until the VPS's FUSE daemon dies (the clean-up kills the VPS).
        fail "set --hostname on the stalled VPS has not ended after $(elapsed "$t0" "$(now)") s"
        finish
fi
took=$(elapsed "$t0" "$t1")
check "set --hostname on the stalled VPS fails (exit $rc)" test "$rc" != 0
check "within guest_timeout and its grace ($took s, timeout $TIMEOUT s)" within "$took" $((TIMEOUT + 3))
err=$(cat "$T/set.err" 2>/dev/null || true)
check "with one line naming VPS 701 and what timed out ($err)" \
        sh -c "[ \$(wc -l <'$T/set.err') = 1 ] && grep -q 'VPS 701: writing /etc/hostname.*did not finish within $TIMEOUT s' '$T/set.err'"
expect_eq "config.json unchanged" "$config_before" "$(md5sum <"$ROOT/vps/701/config.json")"
expect_eq "vpsd still says the old hostname" calm701 "$(vps_field 701 hostname)"
expect_eq "the guest's own hostname (UTS) was put back" calm701 "$(nsenter -t "$pid701" -u hostname)"

# An address change stalls on the files too: its undo puts eth0 and the host's filter back.
t0=$(now)
rc=0
out=$("$VPSCTL_BIN" --socket "$SOCK" set 701 --ipadd "$NETPFX.72" 2>&1 >/dev/null) || rc=$?
took=$(elapsed "$t0" "$(now)")
check "set --ipadd on the stalled VPS fails ($rc: $out)" test "$rc" != 0
check "within guest_timeout and its undo's grace ($took s)" within "$took" $((TIMEOUT + 4))
expect_eq "config.json unchanged after --ipadd" "$config_before" "$(md5sum <"$ROOT/vps/701/config.json")"
check "701's eth0 has not kept $NETPFX.72" sh -c "! nsenter -t $pid701 -n ip -4 addr show dev eth0 | grep -q '$NETPFX.72/'"
check "701's eth0 still has $NETPFX.71" sh -c "nsenter -t $pid701 -n ip -4 addr show dev eth0 | grep -q '$NETPFX.71/'"
expect_eq "the host's filter is as before (no $NETPFX.72)" "$filter_before" \
        "$(nft list table bridge "vpsd_$BRIDGE" 2>/dev/null | grep -c "$NETPFX" || true)"

# The VPS stops (its FUSE daemon dies with it), and vpsd stays whole.
check "701 stops" quiet timeout 20 "$VPSCTL_BIN" --socket "$SOCK" stop 701 --fast
check "and starts again" quiet timeout 20 "$VPSCTL_BIN" --socket "$SOCK" start 701
expect_eq "its hostname" calm701 "$(timeout 5 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- hostname 2>/dev/null)"
check "vpsd is still running" kill -0 "$VPSD_PID"
finish
