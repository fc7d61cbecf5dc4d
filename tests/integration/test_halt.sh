#!/usr/bin/env bash
# A stop or restart right after a start halts the guest cleanly: the halt signal that reaches
# an init before it can take it is lost (the kernel drops it), so vpsd sends it again until
# the init exits. status shows "booting" meanwhile (known after a restart of vpsd without a
# fork per VPS); vpsd.log says how each stop ended, the start after a restart with the new
# init PID, and a start that failed.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null 2>&1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
LOG=$ROOT/vpsd.log
start_vpsd
make_running_vps 701
expect_eq "status -j of a stopped VPS: booting null" null \
        "$(vpsctl create 709 --ostemplate busybox >/dev/null && vpsctl status 709 -j | jq -c "if has(\"booting\") then .booting else \"missing\" end")"

# A busybox init takes SIGUSR2 (blocked, waited for in sigtimedwait) within milliseconds.
for _ in $(seq 100); do [ "$(vpsctl status 701 -j | jq .booting)" = false ] && break; sleep 0.05; done
expect_jq "a settled busybox VPS: booting false" '.booting == false and .status == "running"' vpsctl status 701 -j
expect_eq "and status says running" "VPS 701 exists running" "$(vpsctl status 701)"

# After a restart of vpsd no init's readiness is known. The first list used to ask each
# running busybox init by a fork of vpsd of its own, one after another in the loop (1.4 s
# for 200 VPSes, a minute for 1000): now one detached grandchild asks them all.
M=${VPS_TEST_FULL:+200}; M=${M:-20}
seq 1 "$M" | sed 's/^/r/' | xargs -P 4 -I{} sh -c \
        "'$VPSCTL_BIN' --socket '$SOCK' create {} --ostemplate busybox >/dev/null && '$VPSCTL_BIN' --socket '$SOCK' start {} >/dev/null"
for _ in $(seq 100); do [ "$(vpsctl list -j | jq '[.[] | select(.booting == false)] | length')" = $((M + 1)) ] && break; sleep 0.05; done
kill_vpsd
start_vpsd
trace_vpsd "$T/clones" clone,clone3,fork,vfork
vpsctl list -j >"$T/first.json"
untrace_vpsd
forks=$(grep -cE "^$VPSD_PID +(clone|clone3|fork|vfork)\(" "$T/clones" || true)
check "the first list after a restart forks vpsd at most twice for $((M + 1)) VPSes ($forks)" test "$forks" -le 2
expect_eq "and knows every init settled (booting false)" $((M + 1)) \
        "$(jq '[.[] | select(.status == "running" and .booting == false)] | length' "$T/first.json")"
seq 1 "$M" | sed 's/^/r/' | xargs -P 4 -I{} "$VPSCTL_BIN" --socket "$SOCK" stop {} --fast >/dev/null

# 702's init is a shell that runs busybox init after 3 s: until then it cannot take
# SIGUSR2 (SIG_DFL for the init of a pid namespace: dropped). A stop sent then used to be lost,
# and the VPS was killed at the timeout.
make_running_vps 702
vpsctl exec 702 -- sh -c 'rm /sbin/init && printf "#!/bin/sh\nsleep 3\nexec /bin/busybox init\n" >/sbin/init && chmod 755 /sbin/init'
check "stop 702 --fast" quiet vpsctl stop 702 --fast
check "start 702 with the slow init" quiet vpsctl start 702
expect_jq "right after the start: booting true" '.booting == true and .status == "running"' vpsctl status 702 -j
expect_eq "status says running (booting)" "VPS 702 exists running (booting)" "$(vpsctl status 702)"
t0=$(date +%s%N)
check "stop 702 --timeout 20 while it boots" quiet vpsctl stop 702 --timeout 20
ms=$(ms_since "$t0")
check "it halted cleanly, not killed (in $ms ms, timeout 20 s)" grep -qE "VPS 702 stopped \(clean: its init halted in [0-9]+ ms\)" "$LOG"
check "no kill at the timeout" sh -c "! grep -q 'VPS 702 did not stop in time' '$LOG'"
check "well within the timeout" test "$ms" -lt 12000
# The same with restart: the new init starts, logged with its PID.
check "start 702" quiet vpsctl start 702
t0=$(date +%s%N)
check "restart 702 --timeout 20 while it boots" quiet vpsctl restart 702 --timeout 20
ms=$(ms_since "$t0")
pid=$(vps_field 702 pid)
check "the restart halted cleanly ($ms ms)" test "$(grep -cE "VPS 702 stopped \(clean: its init halted in [0-9]+ ms\)" "$LOG")" = 2
check "the log names the new init, PID $pid" grep -qx ".*VPS 702 started again (restart), init PID $pid" "$LOG"
expect_eq "702 runs after the restart" running "$(vps_field 702 status)"
check "stop 702" quiet vpsctl stop 702 --timeout 20

# start && stop and start && restart at once, again and again (busybox's halt takes ~2 s).
N=${VPS_TEST_FULL:+20}; N=${N:-3}
slow=0 killed0=$(grep -c "did not stop in time" "$LOG" || true)
for i in $(seq "$N"); do
        t0=$(date +%s%N)
        vpsctl start 701 >/dev/null 2>&1 || true
        vpsctl stop 701 --timeout 20 >/dev/null || true
        [ "$(ms_since "$t0")" -lt 12000 ] || slow=$((slow + 1))
done
expect_eq "$N x start && stop 701: none near the timeout" 0 "$slow"
expect_eq "and all $N halted cleanly" "$N" "$(grep -cE "VPS 701 stopped \(clean: its init halted in [0-9]+ ms\)" "$LOG")"
expect_eq "none killed" "$killed0" "$(grep -c "did not stop in time" "$LOG" || true)"
check "start 701" quiet vpsctl start 701
check "restart 701 right after" quiet vpsctl restart 701 --timeout 20
pid=$(vps_field 701 pid)
check "restart logs the new init, PID $pid" grep -qx ".*VPS 701 started again (restart), init PID $pid" "$LOG"

# A stop the init never obeys: killed at the timeout, and the log says so.
check "start 702" quiet vpsctl start 702
vpsctl exec 702 -- sh -c 'printf "#!/bin/sh\nwhile :; do sleep 1; done\n" >/sbin/init.new && chmod 755 /sbin/init.new && mv /sbin/init.new /sbin/init'
check "restart 702 with an init deaf to its halt" quiet vpsctl restart 702 --fast
check "a fast stop is logged as a kill" grep -q "VPS 702 stopped (killed: a fast stop)" "$LOG"
expect_eq "it stays booting (its init never takes SIGUSR2)" "VPS 702 exists running (booting)" "$(vpsctl status 702)"
check "stop 702 --timeout 1" quiet vpsctl stop 702 --timeout 1
check "logged as killed at the timeout" grep -q "VPS 702 stopped (killed: its init did not halt within 1 s)" "$LOG"

# A start that fails is logged, with its reason.
vpsctl exec 701 -- rm /sbin/init
check "stop 701 --fast" quiet vpsctl stop 701 --fast
expect_error "start 701 without an init fails" "/sbin/init" vpsctl start 701
check "the log has the failed start and why" grep -qE "VPS 701 start failed: .*/sbin/init" "$LOG"
finish
