#!/usr/bin/env bash
# A Debian (systemd) VPS stopped or restarted right after its start halts cleanly, well
# within the timeout: vpsd sends SIGRTMIN+3 again until systemd has set up its signalfd (a
# halt that came earlier used to be dropped, and the VPS killed at the timeout). N rounds of
# start && stop (VPS_TEST_FULL=1: 10), then start && restart.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null 2>&1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
LOG=$ROOT/vpsd.log
TIMEOUT=20
start_vpsd
debian_template || { fail "template build debian-12: $(tail -n3 "$T/debian-build.out")"; finish; }
check "create 731 from debian-12" quiet vpsctl create 731 --ostemplate debian-12

N=${VPS_TEST_FULL:+10}; N=${N:-3}
times=() slow=0
for i in $(seq "$N"); do
        vpsctl start 731 >/dev/null 2>&1 || fail "start 731 (round $i)"
        t0=$(date +%s%N)
        vpsctl stop 731 --timeout "$TIMEOUT" >/dev/null || fail "stop 731 (round $i)"
        ms=$(ms_since "$t0")
        times+=("$ms")
        [ "$ms" -lt 10000 ] || slow=$((slow + 1))
done
echo "start && stop, stop took (ms): ${times[*]}"
expect_eq "$N x start && stop --timeout $TIMEOUT: each under 10 s" 0 "$slow"
expect_eq "all $N halted cleanly (systemd's shutdown, not a kill)" "$N" \
        "$(grep -cE "VPS 731 stopped \(clean: its init halted in [0-9]+ ms\)" "$LOG" || true)"
check "none was killed at the timeout" sh -c "! grep -q 'VPS 731 did not stop in time' '$LOG'"

check "start 731" quiet vpsctl start 731
t0=$(date +%s%N)
check "restart 731 right after the start" quiet vpsctl restart 731 --timeout "$TIMEOUT"
ms=$(ms_since "$t0")
check "the restart took well under the timeout ($ms ms)" test "$ms" -lt 15000
expect_eq "and its stop was clean" $((N + 1)) \
        "$(grep -cE "VPS 731 stopped \(clean: its init halted in [0-9]+ ms\)" "$LOG" || true)"
pid=$(vps_field 731 pid)
check "the log has the start again with the new init, PID $pid" grep -qx ".*VPS 731 started again (restart), init PID $pid" "$LOG"
# Once systemd runs, it takes the halt: booting false.
st=
for _ in $(seq 300); do
        st=$(vpsctl exec 731 -- systemctl is-system-running 2>/dev/null || true)
        case $st in running | degraded) break ;; esac
        sleep 0.1
done
expect_jq "systemd up ($st): booting false" '.booting == false and .status == "running"' vpsctl status 731 -j
check "stop 731" quiet vpsctl stop 731 --timeout "$TIMEOUT"
finish
