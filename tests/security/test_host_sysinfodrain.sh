#!/usr/bin/env bash
# A re-exec (SIGHUP) while a sysinfo answer waits on the guest: vpsd's sysinfo thread stops
# reading calls and gives the writers still busy a second (DRAIN_MS), then fails their calls
# with EFAULT. That wait must sleep: the thread's stop eventfd (never read), the hand-over
# eventfd and its timer used to stay in its epoll set, so epoll_wait returned at once and the
# thread spun a CPU for that second (0.5 s of CPU time measured on the old code, 0.02 s now). VPS 731 stalls the write as in test_host_sysinfostall.sh
# (a buffer mapped from a file of its own FUSE mount, whose daemon never answers a read).
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-fuse
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
[ -e /dev/fuse ] || { echo "SKIP: this host has no /dev/fuse"; exit 77; }
printf 'guest_timeout = 10\n' >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
quiet() { "$@" >/dev/null 2>&1; }
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 731 --ostemplate busybox --features fuse >/dev/null
vpsctl start 731 >/dev/null
vpsctl exec 731 -- sh -c 'cat > /probe-fuse && chmod 755 /probe-fuse && mkdir -p /mnt/stall' <"$PROBE"
out=$(timeout 10 "$VPSCTL_BIN" --socket "$SOCK" exec 731 -- /probe-fuse --file /mnt/stall 2>&1) || true
check "the guest mounted its FUSE file system ($out)" grep -q '^mounted over /mnt/stall' <<<"$out"

( timeout -k 2 20 "$VPSCTL_BIN" --socket "$SOCK" exec 731 -- /probe-fuse --sysinfo /mnt/stall/g \
        >"$T/si.out" 2>&1; echo "$?" >"$T/si.done" ) &
sleep 0.5
# vpsd's CPU time (user + system, all its threads) in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$VPSD_PID/stat"; }
hz=$(getconf CLK_TCK)
c0=$(cpu)
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do grep -q "re-exec of" "$ROOT/vpsd.log" && vpsctl list >/dev/null 2>&1 && break; sleep 0.05; done
c1=$(cpu)
for _ in $(seq 100); do [ -f "$T/si.done" ] && break; sleep 0.1; done
out=$(cat "$T/si.out" 2>/dev/null || true)
# Positive control: the drain did wait (a second) for the stalled writer, then failed the call.
check "the stalled call failed with EFAULT at the re-exec's drain, not at guest_timeout ($out)" \
        grep -qE '^sysinfo: EFAULT [1-2]\.' <<<"$out"
check "vpsd re-executed" grep -q "re-exec of" "$ROOT/vpsd.log"
check "vpsd's CPU time across the re-exec is under 0.2 s ($((c1 - c0)) ticks of 1/$hz s)" \
        test $(((c1 - c0) * 5)) -lt "$hz"
check "731 stops" quiet timeout 20 "$VPSCTL_BIN" --socket "$SOCK" stop 731 --fast
finish
