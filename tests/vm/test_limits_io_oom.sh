#!/bin/bash
# Guest test: the limits added to --ram and friends, enforced by the kernel: --cpus 0.5 holds a
# busy loop to about half a CPU, --cpumask pins the VPS (nproc inside), --iolimit and
# --iopslimit hold direct writes to the rate on the disk of the storage root, --ioprio sets
# io.weight, --oompolicy restart has the whole VPS killed and started again by vpsd while the
# default policy kills one process, and list -o shows the usage and limit hits. Runs in the
# qemu guest of tests/vm/run (the host has no controllers).
. "$(dirname "$0")/../integration/lib.sh"

grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: no memory controller in $CG_MOUNT (run this through tests/vm/run)"; exit 77; }

cgfile() { cat "$1/$2" 2>/dev/null || echo "(no $2)"; }
quiet() { "$@" >/dev/null; }
event() { awk -v k="$2" '$1 == k { print $2 }' "$1/$3" 2>/dev/null; }
vps_cgroup() { vpsctl status "$1" -j | jq -r .cgroup; }
# A busy loop in a VPS, in the background; the CPU share is read over windows that start
# once it surely runs (exec's start-up, long under TCG, not counted). Ended from the host.
BUSY='while :; do :; done'
busy_pids() { # busy_pids CGROUP [COMM]: the loop's processes in the cgroup (and below)
        local p
        for p in $(cat $(find "$1" -name cgroup.procs) 2>/dev/null); do
                [ -z "${2:-}" ] || [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] || continue
                tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$BUSY" && echo "$p"
        done
        return 0
}
busy_start() { # busy_start ID CGROUP: true once the loop's shell runs (60 s at most)
        local deadline=$((SECONDS + 60))
        "$VPSCTL_BIN" --socket "$SOCK" exec "$1" -- timeout 300 sh -c "$BUSY" >/dev/null 2>&1 &
        BUSY_EXEC=$!
        until [ -n "$(busy_pids "$2" sh)" ]; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}
busy_stop() { # busy_stop CGROUP: the loop killed, its vpsctl exec back (or stopped after 30 s)
        local p
        for p in $(busy_pids "$1"); do kill -9 "$p" 2>/dev/null; done
        for _ in $(seq 300); do proc_gone "$BUSY_EXEC" && break; sleep 0.1; done
        kill "$BUSY_EXEC" 2>/dev/null || true
        wait "$BUSY_EXEC" 2>/dev/null || true
}
cpu_share() { # cpu_share CGROUP: "PCT MS", its CPU use in % of one CPU over a 3 s window
        local u0 u1 t0 t1
        u0=$(event "$1" usage_usec cpu.stat); t0=$(date +%s%N)
        sleep 3
        u1=$(event "$1" usage_usec cpu.stat); t1=$(date +%s%N)
        echo "$(( (u1 - u0) * 100 / ((t1 - t0) / 1000) )) $(( (t1 - t0) / 1000000 ))"
}
# timed_in_vps ID COMMAND: how long the shell COMMAND took in the VPS, in ms, timed there
# (/proc/uptime before and after), so exec's start-up is not counted; nothing if it failed.
timed_in_vps() {
        vpsctl exec "$1" -- sh -c "read a _ </proc/uptime; { $2; } >/dev/null 2>&1 || exit 1; read b _ </proc/uptime; echo \$a \$b" |
                awk '{ printf "%d\n", ($2 - $1) * 1000 }' || true
}

start_vpsd
vpsctl template build busybox >/dev/null

# --- --cpus 0.5 and --cpumask 0
vpsctl create 811 --ostemplate busybox --cpus 0.5 --cpumask 0 >/dev/null || { fail "create 811"; finish; }
vpsctl start 811 >/dev/null || { fail "start 811"; finish; }
CG=$(vps_cgroup 811)
expect_eq "cpu.max of --cpus 0.5" "50000 100000" "$(cgfile "$CG" cpu.max)"
expect_eq "cpuset.cpus.effective of --cpumask 0" 0 "$(cgfile "$CG" cpuset.cpus.effective)"
expect_eq "nproc inside sees one CPU" 1 "$(vpsctl exec 811 -- nproc)"
# Half a CPU at most, and not much less while the loop runs. A window below 30 % is taken
# again (twice at most): a loaded host can starve the guest's vCPU for a while, which the
# guest's clock still counts. One above 60 % fails at once: the limit did not hold.
if busy_start 811 "$CG"; then
        shares=
        for _ in 1 2 3; do
                read -r pct ms <<<"$(cpu_share "$CG")"
                shares="$shares $pct%"
                [ "$pct" -lt 30 ] || break
        done
        check "--cpus 0.5 holds a busy loop to about half a CPU (${pct}% over $ms ms; windows:$shares)" \
                test "$pct" -ge 30 -a "$pct" -le 60
else
        fail "the busy loop in 811 did not start within 60 s"
fi
busy_stop "$CG"
vpsctl set 811 --cpus 1.5 --cpumask unlimited >/dev/null
expect_eq "set --cpus 1.5 on the running VPS" "150000 100000" "$(cgfile "$CG" cpu.max)"
expect_eq "--cpumask unlimited gives the parent's CPUs back" 0-1 "$(cgfile "$CG" cpuset.cpus.effective)"
expect_error "a cpumask naming CPUs the host lacks" "CPU 7 does not exist" vpsctl set 811 --cpumask 7
expect_eq "config.json keeps 1.5" 1.5 "$(jq .limits.cpus "$ROOT/vps/811/config.json")"
# Delegation: the VPS's own cgroup tree is writable inside (systemd makes its cgroups there),
# the VPS's limits are not.
check "inside, a sub-cgroup can be made" vpsctl exec 811 -- sh -c 'mkdir /sys/fs/cgroup/inner && rmdir /sys/fs/cgroup/inner'
exec_denied "inside, the VPS's cpu.max cannot be written" 811 "Permission denied" sh -c 'echo max > /sys/fs/cgroup/cpu.max'
expect_eq "and it is unchanged" "150000 100000" "$(cgfile "$CG" cpu.max)"

# --- --iolimit and --iopslimit on the disk under the storage root (a loop device here)
dev=$(mountpoint -d "$(df --output=target "$ROOT" | tail -n1)")
vpsctl create 812 --ostemplate busybox --iolimit 2M --ioprio 6 >/dev/null || { fail "create 812"; finish; }
vpsctl start 812 >/dev/null || { fail "start 812"; finish; }
CG=$(vps_cgroup 812)
check "io.max names the storage disk ($dev) with 2M both ways" sh -c "grep -q '^$dev rbps=2097152 wbps=2097152 riops=max wiops=max' '$CG/io.max'"
expect_eq "io.weight of --ioprio 6" "default 400" "$(head -n1 "$CG/io.weight" 2>/dev/null || echo none)"
t=$(timed_in_vps 812 'dd if=/dev/zero of=/big bs=1M count=8 oflag=direct')
check "8 MB of direct writes at --iolimit 2M take about 4 s (${t:-failed} ms)" test "${t:-0}" -ge 3000
wb=$(vpsctl stats 812 -j | jq '.io.wbytes // 0')
check "stats: I/O bytes written counted ($wb, at least 8 MB)" test "$wb" -ge 8000000
check "set --ioprio 2 live" quiet vpsctl set 812 --ioprio 2
expect_eq "io.weight after set --ioprio 2" "default 50" "$(head -n1 "$CG/io.weight" 2>/dev/null || echo none)"
expect_eq "config.json keeps --ioprio 2" 2 "$(jq '.limits.ioprio' "$ROOT/vps/812/config.json")"
vpsctl set 812 --iolimit unlimited --iopslimit 50 >/dev/null
check "set --iopslimit 50 live" sh -c "grep -q '^$dev rbps=max wbps=max riops=50 wiops=50' '$CG/io.max'"
t=$(timed_in_vps 812 'dd if=/dev/zero of=/small bs=4k count=150 oflag=direct')
check "150 direct 4k writes at 50 IOPS take about 3 s (${t:-failed} ms)" test "${t:-0}" -ge 2000
vpsctl set 812 --iopslimit unlimited >/dev/null
check "set --iopslimit unlimited: no IOPS limit left in io.max" sh -c "! grep -q '^$dev .*iops=50' '$CG/io.max'"
# 600 writes: at 50 IOPS they would take 12 s; lifted, more than 100 a second even under TCG
# on a loaded host (timed in the VPS, without exec's start-up).
t=$(timed_in_vps 812 'dd if=/dev/zero of=/small bs=4k count=600 oflag=direct')
check "and unlimited lifts it: 600 writes in ${t:-failed} ms, under 6000" test -n "$t" -a "${t:-0}" -lt 6000

# --- OOM: the default policy kills one process, restart takes the VPS down and up again
vpsctl create 813 --ostemplate busybox --ram 40M --swap 0 >/dev/null
vpsctl create 814 --ostemplate busybox --ram 40M --swap 0 --oompolicy restart >/dev/null
vpsctl start 813 >/dev/null
vpsctl start 814 >/dev/null
hog='x=$(head -c 120000000 /dev/zero | tr "\0" a); echo survived'
pid813=$(vps_field 813 pid)
vpsctl exec 813 -- sh -c "$hog" >/dev/null 2>&1 || true
expect_eq "process policy: the VPS runs on with the same init" "running $pid813" "$(vps_field 813 status) $(vps_field 813 pid)"
check "stats reports the OOM kill" test "$(vpsctl stats 813 -j | jq .events.oom_kill)" -ge 1
check "memory.oom.group of 813 is 0" test "$(cgfile "$(vps_cgroup 813)" memory.oom.group)" = 0
check "list -o oom_kill counts it" test "$(vpsctl list -j -o id,oom_kill | jq '.[] | select(.id=="813") | .oom_kill')" -ge 1
expect_jq "list -o memory_current and memory_max_hits are numbers" \
        '.[] | select(.id=="813") | (.memory_current > 0) and (.memory_max_hits >= 1)' \
        vpsctl list -j -o id,memory_current,memory_max_hits
pid814=$(vps_field 814 pid)
check "memory.oom.group of 814 is 1" test "$(cgfile "$(vps_cgroup 814)" memory.oom.group)" = 1
exec_denied "the guest cannot turn its --oompolicy off" 814 "Permission denied" sh -c 'echo 0 > /sys/fs/cgroup/memory.oom.group'
expect_eq "memory.oom.group of 814 still 1" 1 "$(cgfile "$(vps_cgroup 814)" memory.oom.group)"
vpsctl exec 814 -- sh -c "$hog" >/dev/null 2>&1 || true
restart_end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$restart_end" ]; do
        p=$(vps_field 814 pid)
        [ "$p" != null ] && [ "$p" != "$pid814" ] && [ "$(vps_field 814 status)" = running ] && break
        sleep 0.2
done
check "restart policy: vpsd started the VPS again (init $pid814 -> $(vps_field 814 pid))" \
        test "$(vps_field 814 status)" = running -a "$(vps_field 814 pid)" != "$pid814"
check "and logged why" grep -q "VPS 814 stopped by an out-of-memory kill (oompolicy restart)" "$ROOT/vpsd.log"
check "the other VPSes were not touched" test "$(vps_field 813 pid)" = "$pid813"
vpsctl set 814 --oompolicy process >/dev/null
expect_eq "set --oompolicy process live" 0 "$(cgfile "$(vps_cgroup 814)" memory.oom.group)"

# --ram below what the VPS uses: applied (cgroup v2 semantics), and the answer says so.
vpsctl set 813 --ram 100M >/dev/null
vpsctl exec 813 -- sh -c '(x=$(head -c 30000000 /dev/zero | tr "\0" a); sleep 60; echo ${#x}) >/dev/null 2>&1 &'
grown_end=$((SECONDS + 30))
until [ "$(cgfile "$(vps_cgroup 813)" memory.current)" -gt 31000000 ] 2>/dev/null || [ "$SECONDS" -ge "$grown_end" ]; do sleep 0.1; done
out=$(vpsctl set 813 --ram 20M 2>&1)
check "set --ram below the use warns ($out)" sh -c "printf '%s' \"\$1\" | grep -q 'more than the new --ram of 20 MiB: the kernel reclaims'" _ "$out"
# The kernel then OOM-kills until the VPS fits (under TCG the hog dies slowly, so its init
# may go too): the limit is in force either way.
expect_eq "and is saved" 20971520 "$(jq .limits.ram "$ROOT/vps/813/config.json")"
if [ "$(vps_field 813 status)" = running ]; then
        expect_eq "and is applied" 20971520 "$(cgfile "$(vps_cgroup 813)" memory.max)"
else
        vpsctl start 813 >/dev/null
        expect_eq "and is applied at the next start" 20971520 "$(cgfile "$(vps_cgroup 813)" memory.max)"
fi
# A limit set live survives a restart of the VPS.
vpsctl set 813 --ram 48M >/dev/null
vpsctl stop 813 --fast >/dev/null
vpsctl start 813 >/dev/null
expect_eq "set --ram survives a restart of the VPS" 50331648 "$(cgfile "$(vps_cgroup 813)" memory.max)"
finish
