#!/usr/bin/env bash
# Limits on a host whose cgroup2 tree has no controllers (this one): refused with an error
# naming the controller, nothing changed; with --enforce-limits warn, accepted and logged.
# That limits are enforced is shown in the VM layer (tests/vm), on a kernel with controllers.
. "$(dirname "$0")/lib.sh"
if grep -qw memory "$CG_MOUNT/cgroup.controllers"; then
        echo "SKIP: this host has cgroup v2 controllers; tests/vm covers enforcement"
        exit 77
fi
# /proc/cgroups as a host without cgroup v1 shows it (every hierarchy 0), and as one whose
# memory and pids a cgroup v1 hierarchy holds (the messages differ: tests vpsd reads it).
printf '#subsys_name\thierarchy\tnum_cgroups\tenabled\n' >"$T/cgroups-v2"
printf '#subsys_name\thierarchy\tnum_cgroups\tenabled\n' >"$T/cgroups-v1"
for c in cpuset cpu io memory pids; do
        printf '%s\t0\t1\t1\n' "$c" >>"$T/cgroups-v2"
        case $c in memory) h=4 ;; pids) h=9 ;; *) h=0 ;; esac
        printf '%s\t%s\t1\t1\n' "$c" "$h" >>"$T/cgroups-v1"
done
printf 'blkio\t7\t1\t1\n' >>"$T/cgroups-v1" # v1's name for io
VPS_TEST_PROC_CGROUPS=$T/cgroups-v2 start_vpsd
make_running_vps 901
before=$(vps_snapshot)

expect_error "create with --ram is refused" "cannot enforce --ram: the memory controller is not available" \
        vpsctl create 902 --ostemplate busybox --ram 256M
expect_error "set --numproc on a running VPS is refused" "pids controller" vpsctl set 901 --numproc 100
expect_error "set --cpus is refused" "cpu controller" vpsctl set 901 --cpus 1
expect_error "a size that does not parse" "--ram: invalid size '12Q'" vpsctl set 901 --ram 12Q
expect_error "cpuunits out of range" "--cpuunits: 0 is out of range" vpsctl set 901 --cpuunits 0
expect_error "set --cpumask is refused" "cpuset controller" vpsctl set 901 --cpumask 0
expect_error "a cpumask naming CPUs the host lacks" "CPU 4096 does not exist on this host" vpsctl set 901 --cpumask 0,4096
expect_error "a cpumask that does not parse" "invalid CPU list '0-'" vpsctl set 901 --cpumask 0-
expect_error "set --iolimit is refused" "cannot enforce --iolimit" vpsctl set 901 --iolimit 10M
expect_error "set --iopslimit is refused" "cannot enforce --iopslimit" vpsctl set 901 --iopslimit 100
expect_error "set --ioprio is refused" "io controller" vpsctl set 901 --ioprio 2
expect_error "ioprio out of range" "--ioprio: 8 is out of range" vpsctl set 901 --ioprio 8
expect_error "set --oompolicy is refused" "memory controller" vpsctl set 901 --oompolicy restart
expect_error "an unknown oompolicy" "--oompolicy: expected process or restart, not 'reboot'" vpsctl set 901 --oompolicy reboot
expect_error "fractional cpus: too many decimals" "--cpus: invalid number '0.125'" vpsctl set 901 --cpus 0.125
expect_error "negative cpus" "--cpus: invalid number '-1'" vpsctl set 901 --cpus -1
expect_error "a negative size" "--ram: invalid size '-5M'" vpsctl set 901 --ram -5M
expect_error "numproc 0" "--numproc: 0 is out of range" vpsctl set 901 --numproc 0
expect_error "an unknown limit through the API" "unknown limit 'bogus'" \
        sh -c "curl -sf --unix-socket '$SOCK' -X PATCH -d '{\"limits\":{\"bogus\":1}}' http://localhost/v1/vps/901 >/dev/null || { curl -s --unix-socket '$SOCK' -X PATCH -d '{\"limits\":{\"bogus\":1}}' http://localhost/v1/vps/901 | jq -r .error >&2; exit 1; }"
expect_eq "nothing changed" "$before" "$(vps_snapshot)"
check "no VPS 902 left" test ! -e "$ROOT/vps/902"
expect_eq "unlimited is always accepted" 0 "$(vpsctl set 901 --ram unlimited >/dev/null 2>&1; echo $?)"

# stats: figures from the VPS cgroup (those this host can measure).
cpu0=$(vpsctl stats 901 -j | jq .cpu.usage_usec)
vpsctl exec 901 -- sh -c 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done'
cpu1=$(vpsctl stats 901 -j | jq .cpu.usage_usec)
check "stats: CPU time grows with work inside ($cpu0 -> $cpu1 us)" test "$cpu1" -gt $((cpu0 + 10000))
p0=$(vpsctl stats 901 -j | jq .processes)
vpsctl exec 901 -- sh -c 'for i in 1 2 3; do sleep 30 & done'
expect_eq "stats: processes counts the VPS's processes" $((p0 + 3)) "$(vpsctl stats 901 -j | jq .processes)"
expect_jq "stats: a figure without its controller is null, not 0" '.memory.current == null' vpsctl stats 901 -j
check "stats prints a table" sh -c "'$VPSCTL_BIN' --socket '$SOCK' stats 901 | grep -q '^cpu time  *[0-9]* us'"
 # list -o with usage fields: read from each running VPS's cgroup, null for stopped ones.
vpsctl create 904 --ostemplate busybox >/dev/null
expect_eq "list -o processes" "$((p0 + 3))" "$(vpsctl list -j -o id,processes | jq '.[] | select(.id=="901") | .processes')"
check "list -o cpu_usec" sh -c "'$VPSCTL_BIN' --socket '$SOCK' list -H -o id,cpu_usec | awk '\$1 == 901 { n = \$2 } END { exit !(n > 0) }'"
expect_eq "list -a -o of a stopped VPS: no usage" null "$(vpsctl list -a -j -o id,processes,oom_kill | jq '.[] | select(.id=="904") | .processes')"
check "list -o names every usage field" sh -c "'$VPSCTL_BIN' --socket '$SOCK' list -o id,memory_current,memory_peak,swap_current,cpu_usec,cpu_throttled,processes,io_rbytes,io_wbytes,oom_kill,memory_max_hits,pids_max_hits >/dev/null"
expect_jq "a plain list does not read usage" '.[0] | has("processes") | not' vpsctl list -j
expect_error "stats of a stopped VPS" "VPS 904 is not running" vpsctl stats 904
vpsctl destroy 904 >/dev/null

check "start-up log names the missing controllers" grep -q "cgroup controllers: missing under .*: memory, pids, cpu, io, cpuset; available: none" "$ROOT/vpsd.log"
kill_vpsd

# Controllers held by cgroup v1 cannot be enabled for vpsd: say so, and how to boot.
VPS_TEST_PROC_CGROUPS=$T/cgroups-v1 start_vpsd
expect_error "set --ram: the memory controller is held by cgroup v1" \
        "cannot enforce --ram: the memory controller is held by cgroup v1 .*systemd.unified_cgroup_hierarchy=1, or cgroup_no_v1=all" \
        vpsctl set 901 --ram 256M
expect_error "set --numproc: so is pids" "the pids controller is held by cgroup v1" vpsctl set 901 --numproc 100
expect_error "set --ioprio: io, as blkio of cgroup v1" "the io controller is held by cgroup v1" vpsctl set 901 --ioprio 2
expect_error "set --cpus: cpu is not, the v2 message stays" "cpu controller is not available under" vpsctl set 901 --cpus 1
check "start-up log: the v1-held controllers and the boot option" \
        grep -q "cgroup controllers: missing under .*: memory (held by cgroup v1), pids (held by cgroup v1), cpu, io (held by cgroup v1), cpuset; .*systemd.unified_cgroup_hierarchy=1" "$ROOT/vpsd.log"
kill_vpsd
"$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" --bridge "$BRIDGE" \
        --subnet "$SUBNET" --enforce-limits warn --daemon
VPSD_PID=$(pgrep -o -f -x "$VPSD_BIN --root $ROOT --socket $SOCK --cgroup-parent $CG_PARENT --bridge $BRIDGE --subnet $SUBNET --enforce-limits warn --daemon")
vpsctl create 903 --ostemplate busybox --ram 256M --numproc 64 --cpus 0.5 --cpumask 0 \
        --oompolicy restart --ioprio 6 >/dev/null
vpsctl start 903 >/dev/null
expect_eq "warn mode: the VPS runs" running "$(vps_field 903 status)"
expect_eq "warn mode: the limit is saved" 268435456 "$(jq .limits.ram "$ROOT/vps/903/config.json")"
check "warn mode: the daemon says it is not enforced" grep -q "VPS 903: warning: 'ram' not enforced (no memory controller" "$ROOT/vpsd.log"
expect_eq "list -j shows the limits" 64 "$(vpsctl list -j | jq '.[] | select(.id=="903") | .limits.numproc')"
expect_eq "fractional cpus, a cpumask and words are saved as given" '[0.5,"0","restart",6]' \
        "$(jq -c '.limits | [.cpus, .cpumask, .oompolicy, .ioprio]' "$ROOT/vps/903/config.json")"
rc=0; "$VPSD_BIN" --enforce-limits maybe --root "$T/x" 2>"$T/err" || rc=$?
expect_eq "a bad --enforce-limits value is a usage error" 2 "$rc"
finish
