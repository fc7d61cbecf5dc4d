#!/usr/bin/env bash
# A guest must not hold vpsd's loop through a pause (issue 18). In VPS 711 (--features fuse)
# a process reads a file of a FUSE file system whose daemon never answers (vps-probe-fuse
# --file): it waits in the kernel where no freeze reaches it, so its cgroup never says
# "frozen 1". `vpsctl pause 711` must then fail within its 5 s deadline (exit 7, one line),
# the VPS thawed and running; meanwhile vpsd answers list and status, and pauses and
# unpauses VPS 712.
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-fuse
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
[ -e /dev/fuse ] || { echo "SKIP: this host has no /dev/fuse"; exit 77; }
quiet() { "$@" >/dev/null 2>&1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
within() { awk -v e="$1" -v max="$2" 'BEGIN { exit !(e <= max) }'; }
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 711 --ostemplate busybox --features fuse >/dev/null
vpsctl create 712 --ostemplate busybox >/dev/null
vpsctl start 711 >/dev/null
vpsctl start 712 >/dev/null
CG=$(vps_field 711 cgroup)

vpsctl exec 711 -- sh -c 'cat > /probe-fuse && chmod 755 /probe-fuse && mkdir -p /stall' <"$PROBE"
out=$(timeout 10 "$VPSCTL_BIN" --socket "$SOCK" exec 711 -- /probe-fuse --file /stall 2>&1) || true
check "the guest mounted a FUSE file system that never answers reads ($out)" grep -q '^mounted over /stall' <<<"$out"
# The reader: in a request its daemon has read and will never answer.
vpsctl exec 711 -- sh -c 'cat /stall/x </dev/null >/dev/null 2>&1 &'
reader_waits() { # a cat of the VPS's asleep in the kernel (its wchan named)
        local p
        for p in $(find "$CG" -name cgroup.procs -exec cat {} +); do
                [ "$(cat "/proc/$p/comm" 2>/dev/null)" = cat ] && [ "$(cat "/proc/$p/wchan" 2>/dev/null || echo 0)" != 0 ] && return 0
        done
        return 1
}
check "the reader waits in the kernel" eventually 20 reader_waits

t0=$(now)
( rc=0; "$VPSCTL_BIN" --socket "$SOCK" pause 711 >/dev/null 2>"$T/pause.err" || rc=$?
  echo "$rc $(now)" >"$T/pause.done" ) &
sleep 0.5
check "list answers while 711's pause waits" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" list
check "status of 711 answers meanwhile" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" status 711
check "712 is paused meanwhile" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" pause 712
check "and unpaused" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" unpause 712
check "711's pause was still waiting all that time ($(elapsed "$t0" "$(now)") s)" test ! -f "$T/pause.done"

for _ in $(seq 150); do [ -f "$T/pause.done" ] && break; sleep 0.1; done
if ! read -r rc t1 <"$T/pause.done" 2>/dev/null; then
        fail "pause of the stalled VPS has not ended after $(elapsed "$t0" "$(now)") s"
        finish
fi
took=$(elapsed "$t0" "$t1")
expect_eq "the pause fails with exit status 7 (timed out)" 7 "$rc"
check "within its 5 s deadline and a grace ($took s)" within "$took" 8
check "in one line naming VPS 711 and the deadline ($(cat "$T/pause.err"))" \
        sh -c "[ \$(wc -l <'$T/pause.err') = 1 ] && grep -q 'VPS 711: its processes did not freeze within 5000 ms' '$T/pause.err'"
expect_eq "711 runs on, not paused" running "$(vps_field 711 status)"
expect_eq "its cgroup is thawed" 0 "$(cat "$CG/cgroup.freeze")"
check "vpsd logged it" grep -q "VPS 711: its processes did not freeze" "$ROOT/vpsd.log"
check "a command still runs in 711" quiet timeout 5 "$VPSCTL_BIN" --socket "$SOCK" exec 711 -- true
check "711 stops" quiet timeout 20 "$VPSCTL_BIN" --socket "$SOCK" stop 711 --fast
check "vpsd is still running" kill -0 "$VPSD_PID"
finish
