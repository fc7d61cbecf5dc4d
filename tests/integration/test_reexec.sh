#!/usr/bin/env bash
# Upgrade in place: SIGHUP makes vpsd exec its binary again keeping the API socket and the
# console ptys: same PID, VPSes still running with the same inits, their consoles still
# attached (not hung up), the API answering throughout, and exit statuses still read (a
# reboot inside restarts the VPS, which needs the init to be vpsd's child).
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null; }
start_vpsd
make_running_vps 971
make_running_vps 972
p1=$(vps_field 971 pid)
p2=$(vps_field 972 pid)
expect_eq "971 has its console" true "$(vpsctl list -j | jq '.[] | select(.id == "971") | .console')"
out=$(console_say 971 'echo before-$((6*7))' before-42)
check "the console answers before" grep -q before-42 <<<"$out"

# A client that keeps asking while vpsd re-executes: every request is answered.
( for _ in $(seq 40); do "$VPSCTL_BIN" --socket "$SOCK" list -j >/dev/null 2>&1 || echo miss; sleep 0.025; done ) >"$T/misses" &
poller=$!
kill -HUP "$VPSD_PID"
for _ in $(seq 600); do grep -q "re-exec of" "$ROOT/vpsd.log" && vpsctl list >/dev/null 2>&1 && break; sleep 0.05; done
wait "$poller"
check "vpsd logged its re-exec" grep -q "SIGHUP: re-executing" "$ROOT/vpsd.log"
check "the same PID: $VPSD_PID" kill -0 "$VPSD_PID"
expect_eq "listening again (one start line per start)" 2 "$(grep -c 'listening on' "$ROOT/vpsd.log")"
expect_eq "no request went unanswered" 0 "$(grep -c miss "$T/misses" || true)"
expect_eq "971 runs the same init" "$p1" "$(vps_field 971 pid)"
expect_eq "972 runs the same init" "$p2" "$(vps_field 972 pid)"
expect_eq "971 still has its console" true "$(vpsctl list -j | jq '.[] | select(.id == "971") | .console')"
out=$(console_say 971 'echo after-$((6*7))' after-42)
check "the console's shell inside was not hung up: it answers" grep -q after-42 <<<"$out"
for _ in $(seq 100); do grep -q after-42 "$ROOT/vps/971/console.log" && break; sleep 0.1; done
check "the console log goes on" grep -q after-42 "$ROOT/vps/971/console.log"
vpsctl exec 972 -- reboot >/dev/null 2>&1 || true
# A busybox halt sleeps about 2 s, then vpsd starts it again: up to 30 s on a busy machine.
for _ in $(seq 300); do
        p=$(vps_field 972 pid)
        [ "$p" != "$p2" ] && [ "$p" != null ] && [ "$(vps_field 972 status)" = running ] && break
        sleep 0.1
done
check "a reboot inside still restarts the VPS (its exit status is read)" test "$(vps_field 972 pid)" != "$p2" -a "$(vps_field 972 status)" = running
check "stop still works" quiet vpsctl stop 971 --fast

# A backup stream under way (its reader stalled): its child reports to this process's loop,
# so a SIGHUP waits (logged), and the backup completes; then vpsd re-executes by itself.
vpsctl exec 972 -- dd if=/dev/urandom of=/root/big bs=1M count=24 2>/dev/null
# (the reader sleeps 4 s first: the stream stalls once the pipe and the socket are full)
( set -o pipefail; vpsctl backup 972 --to - 2>"$T/bk.err" | { sleep 4; cat >"$T/bk.tar"; } ) &
bk=$!
# (under way once its capture is logged: seconds under load)
eventually 20 grep -q "backup of VPS 972: frozen" "$ROOT/vpsd.log" || true
n0=$(grep -c "re-exec of" "$ROOT/vpsd.log" || true)
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do grep -q "not re-executing now: a backup or restore is under way" "$ROOT/vpsd.log" && break; sleep 0.05; done
check "SIGHUP during a backup stream waits (logged)" grep -q "not re-executing now: a backup or restore is under way" "$ROOT/vpsd.log"
expect_eq "and did not re-execute" "$n0" "$(grep -c "re-exec of" "$ROOT/vpsd.log")"
rc=0; wait "$bk" || rc=$?
expect_eq "the backup completed" 0 "$rc"
check "its archive is whole (zstd reads it to the end)" zstd -tq "$T/bk.tar"
for _ in $(seq 600); do [ "$(grep -c "re-exec of" "$ROOT/vpsd.log")" -gt "$n0" ] && vpsctl list >/dev/null 2>&1 && break; sleep 0.05; done
check "then the postponed re-exec happens, unasked" test "$(grep -c "re-exec of" "$ROOT/vpsd.log")" -gt "$n0"
finish
