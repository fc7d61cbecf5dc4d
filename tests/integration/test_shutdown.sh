#!/usr/bin/env bash
# Host shutdown: `vpsd --shutdown-all` has the running vpsd halt every VPS at once (not one
# after the other), kill the ones that ignore their halt signal at the timeout, refuse
# starts meanwhile, and answer when all have stopped. SIGTERM alone leaves them running.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null; }
start_vpsd
for i in 1 2 3 4; do make_running_vps 95$i; done
# 955's init ignores every halt signal: a shell loop as PID 1.
make_running_vps 955
vpsctl exec 955 -- sh -c 'rm /sbin/init && printf "#!/bin/sh\nwhile :; do sleep 1; done\n" >/sbin/init && chmod 755 /sbin/init'
check "restart 955 with the stubborn init" quiet vpsctl restart 955 --fast
check "SIGTERM leaves the VPSes running" sh -c "kill $VPSD_PID; while kill -0 $VPSD_PID 2>/dev/null; do sleep 0.05; done"
start_vpsd
expect_eq "all 5 still running after a vpsd restart" 5 "$(vpsctl list -j | jq length)"

t0=$(date +%s%N)
"$VPSD_BIN" --socket "$SOCK" --shutdown-all --timeout 3 >"$T/sd.out" 2>&1 &
sd=$!
sleep 0.3
expect_error "a start during the shutdown is refused" "vpsd is stopping every VPS" vpsctl start 951
rc=0; wait "$sd" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "--shutdown-all exits 0" 0 "$rc"
expect_eq "it reports 5 stopped, 1 killed" "vpsd: 5 VPS stopped, 1 killed at the timeout" "$(cat "$T/sd.out")"
# Four busybox halts take about 2 s each; in parallel, all is over near the 3 s timeout.
check "in parallel: $ms ms for 5 (serial would be over 11 s)" test "$ms" -lt 7000
expect_eq "none running" "[]" "$(vpsctl list -j | jq -c .)"
check "the log names the killed one" grep -q "VPS 955 did not stop in time" "$ROOT/vpsd.log"
check "vpsd serves on: start works again" quiet vpsctl start 951
expect_eq "a second --shutdown-all with one VPS" "vpsd: 1 VPS stopped, 0 killed at the timeout" \
        "$("$VPSD_BIN" --socket "$SOCK" --shutdown-all --timeout 10 2>&1)"
expect_error "--shutdown-all without a vpsd" "cannot connect to $T/none.sock" "$VPSD_BIN" --socket "$T/none.sock" --shutdown-all
expect_error "a bad --timeout" "--timeout takes seconds" "$VPSD_BIN" --shutdown-all --timeout soon
finish
