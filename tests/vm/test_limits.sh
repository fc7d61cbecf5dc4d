#!/bin/bash
# Guest test: vpsd's limits (--ram --swap --numproc --cpus --cpulimit --cpuunits) land in the
# VPS's cgroup v2 files and the kernel enforces them: a memory hog inside is OOM-killed while
# the VPS keeps running, a fork loop stops at pids.max, cpulimit throttles, and `set` changes a
# running VPS at once. Runs in the qemu guest of tests/vm/run (the host has no controllers).
# Starts its own vpsd as the integration tests do (tests/integration/lib.sh); guest.sh puts
# lib.sh's /var/tmp on the guest's ext4 mount.
. "$(dirname "$0")/../integration/lib.sh"

grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: no memory controller in $CG_MOUNT (run this through tests/vm/run)"; exit 77; }

quiet() { "$@" >/dev/null; }
cgfile() { cat "$1/$2" 2>/dev/null || echo "(no $2)"; }
event() { awk -v k="$2" '$1 == k { print $2 }' "$1/$3" 2>/dev/null; }  # event CGROUP KEY FILE
vps_cgroup() { # the VPS's cgroup directory on the cgroup2 mount
        local cg
        cg=$(vpsctl status "$1" -j | jq -r .cgroup)
        case $cg in "$CG_MOUNT"/*) ;; /*) [ -d "$cg" ] || cg=$CG_MOUNT$cg ;; esac
        echo "$cg"
}
# The processes in a cgroup (and below) named $2: SIGKILL from the host (an exec inside would
# itself need a free pid under pids.max).
kill_in_cgroup() {
        local p
        for p in $(cat $(find "$1" -name cgroup.procs) 2>/dev/null); do
                [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && kill -9 "$p" 2>/dev/null
        done
        return 0
}

start_vpsd
vpsctl template build busybox >/dev/null

# --- VPS 801: 50M RAM, no swap, 30 processes
vpsctl create 801 --ostemplate busybox --ram 50M --swap 0 --numproc 30 >/dev/null ||
        { fail "create 801 --ram 50M --swap 0 --numproc 30"; finish; }
vpsctl start 801 >/dev/null || { fail "start 801"; finish; }
CG=$(vps_cgroup 801)
# vpsd out of the OOM killer's way (the guest's root has CAP_SYS_RESOURCE, unlike the host's),
# the VPS back at 0, and no way for the guest to go below 0.
expect_eq "vpsd's oom_score_adj" -500 "$(cat /proc/"$VPSD_PID"/oom_score_adj)"
expect_eq "the VPS init's oom_score_adj" 0 "$(cat /proc/"$(vps_field 801 pid)"/oom_score_adj)"
exec_denied "the guest cannot lower its own below 0" 801 "Permission denied" sh -c 'echo -500 > /proc/1/oom_score_adj'
check "VPS 801's cgroup $CG exists" test -d "$CG"
expect_eq "memory.max of 801" 52428800 "$(cgfile "$CG" memory.max)"
expect_eq "memory.swap.max of 801" 0 "$(cgfile "$CG" memory.swap.max)"
expect_eq "pids.max of 801" 30 "$(cgfile "$CG" pids.max)"
expect_eq "config.json keeps ram" 52428800 "$(jq '.limits.ram // .ram' "$ROOT/vps/801/config.json")"

# A 120 MB string in the VPS's shell: OOM-killed, counted, and only the hog dies.
rc=0
out=$(vpsctl exec 801 -- sh -c 'x=$(head -c 120000000 /dev/zero | tr "\0" a); echo survived ${#x}' 2>&1) || rc=$?
if [ "$rc" != 0 ] && ! grep -q survived <<<"$out"; then
        pass "the 120 MB hog failed (exit $rc)"
else
        fail "the 120 MB hog was not stopped (exit $rc): $out"
fi
k=$(event "$CG" oom_kill memory.events)
if [ "${k:-0}" -ge 1 ]; then pass "memory.events of 801: oom_kill $k"
else fail "memory.events of 801 has no oom_kill: $(tr '\n' ' ' <"$CG/memory.events" 2>&1)"; fi
expect_eq "801 still running after the OOM kill" running "$(vps_field 801 status)"
expect_eq "exec in 801 still works" hello "$(vpsctl exec 801 -- echo hello 2>&1)"

# 60 background sleeps under pids.max=30: fork fails partway.
rc=0
out=$(timeout 90 "$VPSCTL_BIN" --socket "$SOCK" exec 801 -- sh -c \
        'for i in $(seq 60); do sleep 30 >/dev/null 2>&1 & done; wait' 2>&1) || rc=$?
# The refused forks, as the kernel counts them: in the VPS's cgroup where pids.events is
# hierarchical (it has pids.events.local), else in the cgroup of the task that forked (the
# exec cgroup below it): summed over the tree.
if [ -e "$CG/pids.events.local" ]; then m=$(event "$CG" max pids.events)
else m=$(find "$CG" -name pids.events -exec awk '$1 == "max" { s += $2 } END { print s + 0 }' {} +); fi
cur=$(cgfile "$CG" pids.current)
if [ "${m:-0}" -ge 1 ]; then pass "pids.events of 801: max $m (pids.current $cur, exec exit $rc)"
else fail "forking 60 under pids.max=30 was not stopped: pids.events max ${m:-none}, exit $rc, $(tail -n1 <<<"$out")"; fi
if [ "$cur" -le 30 ] 2>/dev/null; then pass "pids.current $cur <= 30"; else fail "pids.current $cur > 30"; fi
kill_in_cgroup "$CG" sleep
for _ in $(seq 300); do [ "$(cgfile "$CG" pids.current)" -lt 10 ] 2>/dev/null && break; sleep 0.1; done

# What vpsctl reports of it: the limits hit, counted as the kernel counted them.
st=$(vpsctl stats 801 -j)
expect_eq "stats: oom_kill as memory.events says" "$k" "$(jq '.events.oom_kill' <<<"$st")"
expect_eq "stats: pids limit hits as pids.events says" "$m" "$(jq '.events.pids_max' <<<"$st")"
check "stats: memory peak reached near the 50M limit ($(jq '.memory.peak' <<<"$st"))" \
        test "$(jq '.memory.peak // 0' <<<"$st")" -ge 30000000
check "list -o shows the hits" sh -c "'$VPSCTL_BIN' --socket '$SOCK' list -H -o id,oom_kill,pids_max_hits | grep -Eq '^801 +$k +$m\$'"

# set on the running VPS: at once in the cgroup, kept in config.json.
check "set 801 --ram 100M" quiet vpsctl set 801 --ram 100M
expect_eq "memory.max after set --ram 100M" 104857600 "$(cgfile "$CG" memory.max)"
expect_eq "config.json keeps --ram 100M" 104857600 "$(jq '.limits.ram // .ram' "$ROOT/vps/801/config.json")"
check "set 801 --ram unlimited" quiet vpsctl set 801 --ram unlimited
expect_eq "memory.max after --ram unlimited" max "$(cgfile "$CG" memory.max)"
expect_eq "config.json: ram removed" null "$(jq '.limits.ram // .ram // null' "$ROOT/vps/801/config.json")"
expect_eq "swap and numproc unchanged" "0 30" "$(cgfile "$CG" memory.swap.max) $(cgfile "$CG" pids.max)"
check "set 801 --swap 16M --numproc 45" quiet vpsctl set 801 --swap 16M --numproc 45
expect_eq "memory.swap.max and pids.max after set" "16777216 45" "$(cgfile "$CG" memory.swap.max) $(cgfile "$CG" pids.max)"
expect_eq "config.json keeps both" "16777216 45" "$(jq -r '"\(.limits.swap) \(.limits.numproc)"' "$ROOT/vps/801/config.json")"

# --- VPS 803: no plan and no limits: the safe defaults (vpsctl(8) PLANS), 4096 processes
# and 1024 ptys, as this vpsd has no vpsd.conf saying otherwise.
check "this vpsd runs without a default plan, with the built-in defaults" \
        grep -q "default plan none; a VPS without limits of its own: numproc 4096, ptys 1024" "$ROOT/vpsd.log"
vpsctl create 803 --ostemplate busybox >/dev/null || { fail "create 803"; finish; }
vpsctl start 803 >/dev/null || { fail "start 803"; finish; }
CG3=$(vps_cgroup 803)
expect_eq "803 has no plan and no limits of its own" "null []" \
        "$(jq -c '"\(.plan) \([.limits[]? | values])"' "$ROOT/vps/803/config.json" | tr -d '"')"
expect_eq "pids.max of 803: the default numproc" 4096 "$(cgfile "$CG3" pids.max)"
pts=$(awk '$5 == "/dev/pts" { print $NF }' "/proc/$(vps_field 803 pid)/mountinfo")
check "its /dev/pts holds at most the default 1024 ptys ($pts)" grep -q '\bmax=1024\b' <<<"$pts"
check "set 803 --numproc 50" quiet vpsctl set 803 --numproc 50
expect_eq "pids.max after set --numproc 50" 50 "$(cgfile "$CG3" pids.max)"
check "set 803 --numproc unlimited" quiet vpsctl set 803 --numproc unlimited
expect_eq "pids.max back at the default, not max" 4096 "$(cgfile "$CG3" pids.max)"
vpsctl stop 803 --fast >/dev/null

# --- VPS 802: 1 CPU, cpulimit 50 % of one CPU (wins, being lower), weight 200
vpsctl create 802 --ostemplate busybox --cpus 1 --cpulimit 50 --cpuunits 200 >/dev/null ||
        { fail "create 802 --cpus 1 --cpulimit 50 --cpuunits 200"; finish; }
vpsctl start 802 >/dev/null || { fail "start 802"; finish; }
CG2=$(vps_cgroup 802)
expect_eq "cpu.max of 802 (cpulimit 50 beats cpus 1)" "50000 100000" "$(cgfile "$CG2" cpu.max)"
expect_eq "cpu.weight of 802" 200 "$(cgfile "$CG2" cpu.weight)"
# And the kernel throttles it: a busy loop for 3 s gets about half a CPU.
u0=$(event "$CG2" usage_usec cpu.stat)
t0=$(date +%s%N)
vpsctl exec 802 -- timeout 3 sh -c 'while :; do :; done' >/dev/null 2>&1 || true
t1=$(date +%s%N)
u1=$(event "$CG2" usage_usec cpu.stat)
thr=$(event "$CG2" nr_throttled cpu.stat)
pct=$(( (u1 - u0) * 1000 / ((t1 - t0) / 1000) / 10 ))
if [ "${thr:-0}" -ge 1 ] && [ "$pct" -le 60 ]; then
        pass "busy loop in 802 throttled: ${pct}% of one CPU over $(( (t1 - t0) / 1000000 )) ms, nr_throttled $thr"
else
        fail "busy loop in 802 not held to 50%: ${pct}% of one CPU, nr_throttled ${thr:-none}"
fi
check "stats: throttled periods counted" test "$(vpsctl stats 802 -j | jq '.cpu.nr_throttled // 0')" -ge 1
check "set 802 --cpulimit 25 --cpuunits 300" quiet vpsctl set 802 --cpulimit 25 --cpuunits 300
expect_eq "cpu.max and cpu.weight after set" "25000 100000 300" "$(cgfile "$CG2" cpu.max) $(cgfile "$CG2" cpu.weight)"
expect_eq "config.json keeps both" "25 300" "$(jq -r '"\(.limits.cpulimit) \(.limits.cpuunits)"' "$ROOT/vps/802/config.json")"
finish
