#!/usr/bin/env bash
# sysinfo(2) answers never wait behind vpsd's other work (issue 14). vpsctl clone of a stopped
# VPS copies its upper layer inside vpsd's loop (1.5 GiB here: seconds on a file system without
# reflinks), and the loop answers nothing else meanwhile: a `list` sent during the clone waits
# for it (the positive control: the loop really was busy). A neighbour's sysinfo calls
# (vps-probe-sysinfo, one a millisecond, started before the clone and ending after it) must
# still be answered: the longest takes under 500 ms (a loaded machine has pauses of a tenth of
# a second; here 0.7 ms a call on average) while `list` waits 2 s or more. Before the sysinfo
# thread they waited for the clone as `list` does (5.2 s here). On a file system that clones
# by reflink the loop is not busy long enough to tell: the test then skips, saying so.
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-sysinfo
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
MIB=${VPS_TEST_BUSY_MIB:-1536}
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 731 --ostemplate busybox >/dev/null
vpsctl create 732 --ostemplate busybox >/dev/null
vpsctl start 731 >/dev/null
vpsctl start 732 >/dev/null
now() { date +%s.%N; }
# The big file, written by the guest (so the clone copies what a customer's VPS would hold).
vpsctl exec 731 -- dd if=/dev/urandom of=/big bs=1M count="$MIB" 2>/dev/null
check "731 holds ${MIB} MiB" test "$(stat -c %s "$ROOT/vps/731/upper/big")" = $((MIB << 20))
vpsctl stop 731 --fast >/dev/null
vpsctl exec 732 -- sh -c 'cat > /probe-sysinfo && chmod 755 /probe-sysinfo' <"$PROBE"

# The neighbour's calls, for 2 s before the clone and until well after it.
"$VPSCTL_BIN" --socket "$SOCK" exec 732 -- /probe-sysinfo 20 >"$T/probe.out" 2>&1 &
probe=$!
sleep 2
c0=$(now)
vpsctl clone 731 733 >/dev/null &
clone=$!
sleep 0.5
l0=$(now)
check "list answers during the clone" sh -c "'$VPSCTL_BIN' --socket '$SOCK' list >/dev/null"
l1=$(now)
wait "$clone" && c1=$(now) || { c1=$(now); fail "the clone failed"; }
wait "$probe" || fail "the probe's exec failed"
out=$(cat "$T/probe.out")
echo "clone $c0 .. $c1; list sent at $l0 answered at $l1; probe: $out"
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$out"; }
if ! awk -v a="$l0" -v b="$l1" 'BEGIN { exit !(b - a >= 2) }'; then
        echo "SKIP: the clone kept vpsd's loop busy only $(secs "$l0" "$l1") s on $(stat -f -c %T "$ROOT") (it reflinks?): too short to tell"
        [ "$FAILS" = 0 ] || finish
        exit 77
fi
pass "the clone kept the loop busy: list waited $(secs "$l0" "$l1") s (at least 2 s)"
check "the probe ran through ($out)" grep -qE '^calls [0-9]+ fails 0 ' <<<"$out"
check "its calls began before the clone and ended after it" \
        awk -v f="$(field first)" -v l="$(field last)" -v c0="$c0" -v c1="$c1" \
        'BEGIN { exit !(f != "" && f < c0 && l > c1) }'
check "they were vpsd's answers (the VPS's uptime, $(field uptime) s, not the host's)" \
        awk -v u="$(field uptime)" -v h="$(cut -d' ' -f1 /proc/uptime)" \
        'BEGIN { exit !(u != "" && u >= 0 && u < 300 && h - u > 5) }'
check "the longest sysinfo call took $(field max_ms) ms (under 500 ms) while the clone took $(secs "$c0" "$c1") s" \
        awk -v m="$(field max_ms)" 'BEGIN { exit !(m != "" && m < 500) }'
finish
