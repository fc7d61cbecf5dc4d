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
inits=$(for i in 1 2 3 4 5; do vps_field "95$i" pid; done)
kill "$VPSD_PID"
for _ in $(seq 300); do proc_gone "$VPSD_PID" && break; sleep 0.1; done
check "SIGTERM ends vpsd" proc_gone "$VPSD_PID"
alive=0
for p in $inits; do proc_gone "$p" || alive=$((alive + 1)); done
expect_eq "and leaves the 5 VPSes running (their inits alive with vpsd gone)" 5 "$alive"
start_vpsd
expect_eq "all 5 still running after a vpsd restart" 5 "$(vpsctl list -j | jq length)"

# Every VPS gets the same timeout: long enough for a busybox halt (about 2 s of sleeps, then
# sync(), which is host-wide and slow on a busy machine) yet 955, deaf to its halt signal, is
# killed when it runs out.
TIMEOUT=10
t0=$(date +%s%N)
"$VPSD_BIN" --socket "$SOCK" --shutdown-all --timeout "$TIMEOUT" >"$T/sd.out" 2>&1 &
sd=$!
# The shutdown is under way once vpsd has sent every halt and says so in its log.
for _ in $(seq 300); do grep -q "shutdown: stopping 5 VPSes (timeout $TIMEOUT s)" "$ROOT/vpsd.log" && break; sleep 0.1; done
check "vpsd logs the shutdown under way" grep -q "shutdown: stopping 5 VPSes (timeout $TIMEOUT s)" "$ROOT/vpsd.log"
expect_error "a start during the shutdown is refused" "vpsd is stopping every VPS" vpsctl start 951
rc=0; wait "$sd" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "--shutdown-all exits 0" 0 "$rc"
expect_eq "it reports 5 stopped, 1 killed" "vpsd: 5 VPS stopped, 1 killed at the timeout" "$(cat "$T/sd.out")"
# At once, not one after the other: the four that obey stopped before 955's timeout ran out
# (had 955 gone first, they would stop after its kill)...
killed_at=$(grep -n "VPS 955 did not stop in time" "$ROOT/vpsd.log" | tail -n1 | cut -d: -f1)
stopped_before=0
for i in 1 2 3 4; do
        n=$(grep -n "VPS 95$i stopped" "$ROOT/vpsd.log" | tail -n1 | cut -d: -f1)
        [ -n "$n" ] && [ -n "$killed_at" ] && [ "$n" -lt "$killed_at" ] && stopped_before=$((stopped_before + 1))
done
expect_eq "951-954 stopped by themselves before 955 was killed" 4 "$stopped_before"
# ...and all was over near the timeout, where 955 last after four busybox halts of at least
# 2 s each would need over TIMEOUT + 8 s: the bound leaves 6 s for a slow kill and reap.
check "in parallel: $ms ms for 5 (serial would be over $((TIMEOUT + 8)) s)" test "$ms" -lt $(( (TIMEOUT + 6) * 1000 ))
expect_eq "none running" "[]" "$(vpsctl list -j | jq -c .)"
check "the log names the killed one" grep -q "VPS 955 did not stop in time" "$ROOT/vpsd.log"
check "vpsd serves on: start works again" quiet vpsctl start 951
expect_eq "a second --shutdown-all with one VPS" "vpsd: 1 VPS stopped, 0 killed at the timeout" \
        "$("$VPSD_BIN" --socket "$SOCK" --shutdown-all --timeout 30 2>&1)"
expect_error "--shutdown-all without a vpsd" "cannot connect to $T/none.sock" "$VPSD_BIN" --socket "$T/none.sock" --shutdown-all
expect_error "a bad --timeout" "--timeout takes seconds" "$VPSD_BIN" --shutdown-all --timeout soon
finish
