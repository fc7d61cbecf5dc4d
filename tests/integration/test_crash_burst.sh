#!/usr/bin/env bash
# kill -9 of vpsd in the middle of a burst of start/stop requests, ROUNDS times (default 5;
# 20 with VPS_TEST_FULL=1) over N VPSes (default 12; 50 with VPS_TEST_FULL=1), every sixth a
# Debian 12 with systemd: after each
# restart every VPS is running (same init, re-adopted, answering exec and ping, stats read)
# or stopped (no state, no cgroup, no veth), never in between; no cgroup or veth belongs to
# no running VPS.
. "$(dirname "$0")/lib.sh"
FULL=${VPS_TEST_FULL:-0}
ROUNDS=${CRASH_ROUNDS:-$([ "$FULL" = 1 ] && echo 20 || echo 5)}
N=${CRASH_VPSES:-$([ "$FULL" = 1 ] && echo 50 || echo 12)}
start_vpsd
vpsctl template build busybox >/dev/null
# Mixed: every sixth VPS is a Debian 12 with systemd (the template cached by the tests).
debian_template || { fail "no debian-12 template: $(tail -n2 "$T/debian-build.out")"; finish; }
for i in $(seq 1 "$N"); do
        tpl=busybox; [ $((i % 6)) = 0 ] && tpl=debian-12
        vpsctl create "k$i" --ostemplate "$tpl" --ipadd "$NETPFX.$((i + 10))" >/dev/null
        [ $((i % 2)) = 0 ] && vpsctl start "k$i" >/dev/null
done

consistent() { # every VPS running-and-real or stopped-and-clean; no stray cgroup or veth
        local bad=0 id st pid ip
        while read -r id st pid ip; do
                if [ "$st" = running ]; then
                        kill -0 "$pid" 2>/dev/null && grep -qE "^0::$CG_PARENT/$id(/.*)?\$" "/proc/$pid/cgroup" &&
                                [ "$(vpsctl exec "$id" -- echo up 2>/dev/null)" = up ] ||
                                { echo "  $id: running but init $pid is not right"; bad=1; }
                        # Re-adopted whole: console back, network answers, stats read.
                        [ "$(vpsctl list -j | jq -r --arg id "$id" '.[] | select(.id == $id) | .console')" = true ] ||
                                { echo "  $id: no console"; bad=1; }
                        ping -c1 -W2 "$ip" >/dev/null 2>&1 || { echo "  $id: no ping from $ip"; bad=1; }
                        vpsctl stats "$id" -j | jq -e '.processes >= 1' >/dev/null 2>&1 ||
                                { echo "  $id: no stats"; bad=1; }
                elif [ "$st" = stopped ]; then
                        [ ! -e "$(state_file "$id")" ] && [ ! -d "$CG_MOUNT$CG_PARENT/$id" ] &&
                                ! ip link show "$(veth_of "$id")" >/dev/null 2>&1 ||
                                { echo "  $id: stopped but something is left"; bad=1; }
                else
                        echo "  $id: $st"; bad=1
                fi
        done < <(vpsctl list -a -j | jq -r '.[] | "\(.id) \(.status) \(.pid) \(.ip[0])"')
        local running; running=$(vpsctl list -j | jq length)
        local cgs; cgs=$(find "$CG_MOUNT$CG_PARENT" -mindepth 1 -maxdepth 1 -type d | wc -l)
        [ "$cgs" = "$running" ] || { echo "  $cgs VPS cgroups for $running running VPSes"; bad=1; }
        local veths; veths=$(ip -o link show type veth | grep -c "v${NET_TAG}k[0-9]*\.0" || true)
        [ "$veths" = "$running" ] || { echo "  $veths veths for $running running VPSes"; bad=1; }
        return "$bad"
}

for round in $(seq 1 "$ROUNDS"); do
        # A burst: every VPS toggled by its own client, at once.
        pids=()
        for i in $(seq 1 "$N"); do
                ( "$VPSCTL_BIN" --socket "$SOCK" start "k$i" || "$VPSCTL_BIN" --socket "$SOCK" stop "k$i" --fast ) >/dev/null 2>&1 &
                pids+=($!)
        done
        sleep "0.0$(( RANDOM % 9 + 1 ))"
        kill_vpsd
        wait "${pids[@]}" 2>/dev/null || true
        start_vpsd
        if out=$(consistent); then pass "round $round: consistent after kill -9 in a burst"
        else fail "round $round: $out"; fi
done
# And once while idle.
kill_vpsd
start_vpsd
check "consistent after kill -9 while idle" consistent
finish
