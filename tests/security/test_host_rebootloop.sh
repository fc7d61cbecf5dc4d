#!/bin/bash
# Issue 14, "reboot loops aren't slowed down": a guest whose boot ends in `reboot -f` made vpsd
# start it again about 156 times a second (22% of a core in vpsd, 3130 log lines in 10 s).
# A VPS's /etc/rc.local here counts its boots in a file of its own and reboots. It must
# really loop at first (the positive control), then be held back: few restarts, little CPU
# in vpsd and few log lines over 10 s, status "backoff" with when it restarts; `vpsctl start`
# starts it at once and ends the back-off; `vpsctl stop` cancels a pending restart.
source "$(dirname "$0")/../integration/lib.sh"

start_vpsd
make_running_vps 101
BOOTS=$ROOT/vps/101/upper/bootcount

boots() { [ -f "$BOOTS" ] && wc -l <"$BOOTS" || echo 0; }
# vpsd's CPU time (user + system, clock ticks) from /proc/PID/stat.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$VPSD_PID/stat"; }
log_lines() { cat "$ROOT"/vpsd.log* 2>/dev/null | wc -l; }
status_of() { vpsctl status -j 101 | jq -r "$1"; }
sleep_until() { # sleep_until UNIXTIME (no sleep once it has passed)
        local s=$(($1 - $(date +%s)))
        [ "$s" -le 0 ] || sleep "$s"
}

# The loop: each boot appends a line, then reboots at once (reboot(2) in the VPS's pid ns).
vpsctl exec 101 sh -c 'printf "#!/bin/sh\necho boot >>/bootcount\nreboot -f\n" >/etc/rc.local &&
        chmod 755 /etc/rc.local'
t0=$(date +%s)
vpsctl exec 101 reboot -f >/dev/null 2>&1 || true

# Positive control: the guest really reboots in a loop (at least the burst vpsd lets through).
for _ in $(seq 60); do [ "$(boots)" -ge 5 ] && break; sleep 0.1; done
b=$(boots)
if [ "$b" -ge 5 ]; then pass "the guest reboots in a loop ($b boots in $(($(date +%s) - t0)) s)"
else fail "the guest did not loop ($b boots): the test proves nothing"; fi

# Then held back: by 15 s the waits (1, 2, 4, 8 s...) have begun; the guest still restarts
# on its own in them.
sleep_until $((t0 + 15))
b15=$(boots)
if [ "$b15" -ge 7 ]; then pass "held-back restarts still happen by themselves ($b15 boots in 15 s)"
else fail "only $b15 boots in 15 s: the VPS is not started again after the wait"; fi

# A 10 s window: restarts, vpsd's CPU time and log lines.
c0=$(cpu_ticks) l0=$(log_lines) b0=$(boots)
sleep 10
c1=$(cpu_ticks) l1=$(log_lines) b1=$(boots)
hz=$(getconf CLK_TCK)
echo "in 10 s: $((b1 - b0)) restarts, $((c1 - c0)) ticks of vpsd CPU (HZ $hz), $((l1 - l0)) log lines"
if [ $((b1 - b0)) -le 10 ]; then pass "at most 10 restarts in 10 s ($((b1 - b0)))"
else fail "$((b1 - b0)) restarts in 10 s: the reboot loop is not slowed down"; fi
if [ $((c1 - c0)) -le $((hz * 3 / 10)) ]; then pass "vpsd used $((c1 - c0)) ticks of CPU in 10 s"
else fail "vpsd used $((c1 - c0)) ticks of CPU in 10 s (more than 3% of a core)"; fi
if [ $((l1 - l0)) -le 30 ]; then pass "$((l1 - l0)) log lines in 10 s"
else fail "$((l1 - l0)) log lines in 10 s"; fi

# Status, list and JSON show it; the count of restarts in a row and when the next comes.
for _ in $(seq 50); do [ "$(status_of .status)" = backoff ] && break; sleep 0.1; done
expect_eq "status -j says backoff" backoff "$(status_of .status)"
at=$(status_of .restart_at) n=$(status_of .restarts)
if [[ $at =~ ^[0-9]+$ ]] && [ "$at" -ge "$(date +%s)" ]; then pass "restart_at is ahead ($((at - $(date +%s))) s)"
else fail "restart_at '$at' is not a time ahead"; fi
if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 8 ]; then pass "restarts in a row: $n"
else fail "restarts '$n': expected the count of the loop"; fi
out=$(vpsctl status 101)
check "status prints backoff and the next restart ($out)" grep -qE '^VPS 101 exists backoff \(restart [0-9]+ at [0-9:]+\)$' <<<"$out"
check "list (without -a) shows it as backoff" grep -qE '^ *101 +backoff' <<<"$(vpsctl list -H)"
check "the API's ?up=1 lists it" grep -q '"backoff"' <<<"$(curl -s --unix-socket "$SOCK" 'http://localhost/v1/vps?up=1')"

# `vpsctl start` starts it at once and forgets the loop (the rc.local is gone, from the host
# side as the VPS is stopped: the guest now stays up).
rm -f "$ROOT/vps/101/upper/etc/rc.local"
s0=$(date +%s%N)
check "start during the back-off succeeds" vpsctl start 101
ms=$((($(date +%s%N) - s0) / 1000000))
if [ "$(status_of .status)" = running ] && [ "$ms" -lt 5000 ]; then pass "running at once ($ms ms)"
else fail "start did not start it at once: $(status_of .status), $ms ms"; fi
expect_eq "no restart pending after start" null "$(status_of .restart_at)"
expect_eq "the count starts over" 0 "$(status_of .restarts)"
pid=$(status_of .pid)
sleep 3
expect_eq "it stays up (same init after 3 s)" "$pid" "$(status_of .pid)"

# A SIGHUP re-exec keeps a pending restart: loop again until a wait of 8 s is pending (the
# 9th restart in a row), re-exec, and the restart still comes by itself.
vpsctl exec 101 sh -c 'printf "#!/bin/sh\necho boot >>/bootcount\nreboot -f\n" >/etc/rc.local &&
        chmod 755 /etc/rc.local'
vpsctl exec 101 reboot -f >/dev/null 2>&1 || true
for _ in $(seq 300); do
        [ "$(status_of .status)" = backoff ] && [ "$(status_of '.restarts // 0')" -ge 9 ] && break
        sleep 0.1
done
expect_eq "the second loop is held back" backoff "$(status_of .status)"
at=$(status_of .restart_at) b=$(boots)
n=$(grep -c 'listening on' "$ROOT/vpsd.log")
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do [ "$(grep -c 'listening on' "$ROOT/vpsd.log")" -gt "$n" ] && break; sleep 0.1; done
check "vpsd re-executed (same PID)" test "$(grep -c 'listening on' "$ROOT/vpsd.log")" -gt "$n" -a -d "/proc/$VPSD_PID"
expect_eq "after the re-exec: still backoff" backoff "$(status_of .status)"
expect_eq "after the re-exec: the same restart time" "$at" "$(status_of .restart_at)"
sleep_until $((at + 2))
if [ "$(boots)" -gt "$b" ]; then pass "the restart held back across the re-exec came ($b -> $(boots) boots)"
else fail "no restart after the re-exec (restart_at $at, now $(date +%s))"; fi

# `vpsctl stop` cancels a pending restart: stop while held back, then nothing.
for _ in $(seq 100); do [ "$(status_of .status)" = backoff ] && break; sleep 0.1; done
at=$(status_of .restart_at)
check "stop during the back-off succeeds" vpsctl stop 101
expect_eq "stopped after stop" stopped "$(status_of .status)"
expect_eq "no restart pending after stop" null "$(status_of .restart_at)"
b=$(boots)
[[ $at =~ ^[0-9]+$ ]] || { fail "no restart was pending before the stop ('$at')"; at=$(date +%s); }
sleep_until $((at + 2)) # past the time the cancelled restart was due
expect_eq "no restart after the stop" "$b" "$(boots)"
expect_eq "still stopped" stopped "$(status_of .status)"
check "the cancel is logged" grep -q "VPS 101: the held-back restart is cancelled" "$ROOT/vpsd.log"
finish
