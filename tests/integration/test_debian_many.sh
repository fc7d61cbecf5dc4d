#!/usr/bin/env bash
# Issue 15, defect 0: many debian-12 VPSes on one vpsd (12; 60 with VPS_TEST_FULL=1, or
# VPS_MANY=N) all reach systemd's "running" with nothing in `systemctl --failed`. Each systemd
# takes inotify instances and keys, charged to its VPS's own host uid; vpsd raised at start-up
# the host limits that many VPSes need (as Incus's production notes do) and logged them.
# Prints the time to boot them all and the memory each takes (its cgroup's memory.current).
. "$(dirname "$0")/lib.sh"
N=${VPS_MANY:-12}
[ "${VPS_TEST_FULL:-0}" = 1 ] && N=${VPS_MANY:-60}
info() { echo "info: $*"; }

start_vpsd
# name floor: what vpsd raises when lower (runtime/cgroup/hostlimits.c), each logged on a line.
while read -r name floor; do
        v=$(cat "/proc/sys/${name//.//}")
        check "$name >= $floor on the host ($v)" test "$v" -ge "$floor"
        check "the log names $name" grep -qE "host limits: ${name//./\\.} = [0-9]+" "$ROOT/vpsd.log"
done <<'EOF'
fs.inotify.max_user_instances 1024
fs.inotify.max_user_watches 1048576
fs.inotify.max_queued_events 1048576
kernel.keys.maxkeys 2000
kernel.keys.maxbytes 2000000
fs.aio-max-nr 524288
vm.max_map_count 262144
EOF
debian_template || { fail "template build debian-12: $(tail -n3 "$T/debian-build.out")"; finish; }

ids=()
for i in $(seq "$N"); do ids+=($((600 + i))); done
for id in "${ids[@]}"; do
        vpsctl create "$id" --ostemplate debian-12 --ipadd "$NETPFX.$((id - 590))" >/dev/null ||
                fail "create $id"
done
avail0=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
t0=$(date +%s%N)
for id in "${ids[@]}"; do vpsctl start "$id" >/dev/null || fail "start $id"; done
started_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

# systemd's state in each until all have settled (is-system-running answers at once).
declare -A state
pending=("${ids[@]}")
end=$((SECONDS + 60 + 4 * N))
while [ "${#pending[@]}" -gt 0 ] && [ "$SECONDS" -lt "$end" ]; do
        left=()
        for id in "${pending[@]}"; do
                st=$(vpsctl exec "$id" -- systemctl is-system-running 2>/dev/null || true)
                state[$id]=$st
                case $st in running | degraded | maintenance | stopping) ;; *) left+=("$id") ;; esac
        done
        pending=("${left[@]}")
        [ "${#pending[@]}" -eq 0 ] || sleep 0.5
done
all_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
n_running=0
for id in "${ids[@]}"; do
        if [ "${state[$id]}" = running ]; then n_running=$((n_running + 1)); else
                fail "VPS $id: systemd is '${state[$id]}'$(vpsctl exec "$id" -- systemctl --failed --no-legend --plain 2>/dev/null | head -n3 | tr '\n' ' ')"
        fi
done
expect_eq "all $N VPSes reach running" "$N" "$n_running"
failed=0
for id in "${ids[@]}"; do
        out=$(vpsctl exec "$id" -- systemctl --failed --no-legend --plain 2>&1) || true
        [ -z "$out" ] || { failed=$((failed + 1)); echo "VPS $id: $out"; }
done
expect_eq "nothing in systemctl --failed in any of them" 0 "$failed"
check "no inotify or manager failure on a console" sh -c \
        "! grep -lE 'inotify object|Failed to allocate manager object' '$ROOT'/vps/*/console.log"

# Memory: the proportional set size of every process in the VPSes' cgroups (shared pages
# split among their users; memory.current needs the memory controller, which a host may hold
# in cgroup v1), and what the host's MemAvailable lost.
pss=0
for id in "${ids[@]}"; do
        cg=$(jq -r .cgroup "$(state_file "$id")")
        for pid in $(find "$cg" -name cgroup.procs -exec cat {} +); do
                kb=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
                pss=$((pss + ${kb:-0}))
        done
done
avail1=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
info "$N VPSes: started in $started_ms ms, all settled in $all_ms ms"
info "memory per VPS: $((pss / N / 1024)) MiB PSS; the host's MemAvailable fell by $(((avail0 - avail1) / N / 1024)) MiB per VPS"
for id in "${ids[@]}"; do vpsctl stop --fast "$id" >/dev/null || fail "stop $id"; done
finish
