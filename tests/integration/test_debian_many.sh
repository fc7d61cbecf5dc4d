#!/usr/bin/env bash
# Issue 15, defect 0: many debian-12 VPSes on one vpsd (12; 60 with VPS_TEST_FULL=1, or
# VPS_MANY=N) all reach systemd's "running" with nothing in `systemctl --failed`. Each systemd
# takes inotify instances and keys, charged to its VPS's own host uid; vpsd raised at start-up
# the host limits that many VPSes need (as Incus's production notes do) and logged them.
# The proof that the counts are per VPS: fs.inotify.max_user_instances is set to 128 before
# vpsd starts (its log must say it raised it from 128), then lowered to 40 once it runs, below
# what all the VPSes hold together; they still all boot because each VPS's user namespace is
# owned by a host uid of its own (checked with NS_GET_OWNER_UID), which the kernel charges.
# Charged to host root, as before issue 15, they did not. The old value is put back at exit.
# Prints the time to boot them all and the memory each takes.
. "$(dirname "$0")/lib.sh"
N=${VPS_MANY:-12}
[ "${VPS_TEST_FULL:-0}" = 1 ] && N=${VPS_MANY:-60}
info() { echo "info: $*"; }

INOTIFY=/proc/sys/fs/inotify/max_user_instances
INOTIFY_LOW=40
INOTIFY_OLD=$(cat "$INOTIFY")
# Put back at exit unless something else has set it since (another vpsd raising it).
restore_inotify() {
        local now
        now=$(cat "$INOTIFY")
        if [ "$now" = 128 ] || [ "$now" = "$INOTIFY_LOW" ]; then echo "$INOTIFY_OLD" >"$INOTIFY"
        elif [ "$now" != "$INOTIFY_OLD" ]; then
                info "fs.inotify.max_user_instances left at $now (set by another process since), not put back to $INOTIFY_OLD"
        fi
}
trap 'rc=$?; restore_inotify; cleanup "$rc"' EXIT
echo 128 >"$INOTIFY"
# The uid that owns the user namespace of process $1 (ioctl NS_GET_OWNER_UID).
ns_owner() {
        python3 -c 'import fcntl, os, struct, sys
fd = os.open("/proc/%s/ns/user" % sys.argv[1], os.O_RDONLY)
buf = bytearray(4)
fcntl.ioctl(fd, 0xb704, buf)
print(struct.unpack("=I", buf)[0])' "$1"
}
# The inotify instances the processes of VPS $1 hold (their fds, in its cgroup tree).
inotify_of() {
        local cg n=0 pid f
        cg=$(jq -r .cgroup "$(state_file "$1")" 2>/dev/null) || { echo 0; return; } # stopped
        for pid in $(find "$cg" -name cgroup.procs -exec cat {} +); do
                for f in /proc/"$pid"/fd/*; do
                        [ "$(readlink "$f" 2>/dev/null)" = anon_inode:inotify ] && n=$((n + 1))
                done
        done
        echo "$n"
}

start_vpsd
raised=$(grep -m1 "host limits: fs\.inotify\.max_user_instances" "$ROOT/vpsd.log" || true)
if grep -q "= 1024: raised from 128 " <<<"$raised"; then
        pass "vpsd raised fs.inotify.max_user_instances from 128 and logged it ($raised)"
elif grep -qE "max_user_instances = [0-9]{4,} \(per VPS\)$" <<<"$raised"; then
        info "NOTE: fs.inotify.max_user_instances was raised by another process (another vpsd?) between this test's 128 and its vpsd's start: '$raised'; the raise from 128 is not shown by this run"
else
        fail "vpsd.log does not say it raised fs.inotify.max_user_instances from 128: '$raised'"
fi
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
# From here on one host uid may hold no more than 40 inotify instances: the VPSes together
# take more (counted below), so they boot only when each is charged to its own uid.
echo "$INOTIFY_LOW" >"$INOTIFY"
t0=$(date +%s%N)
# Another vpsd that starts meanwhile raises it again: when, to the 20 ms.
( while [ "$(cat "$INOTIFY")" = "$INOTIFY_LOW" ]; do sleep 0.02; done
  echo "$(cat "$INOTIFY") $(( ($(date +%s%N) - t0) / 1000000 ))" >"$T/inotify.raised" ) &
TEST_PIDS="${TEST_PIDS:-} $!"
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

# Each VPS's user namespace is owned by its own host uid (its uid_base), never host root's.
owners=()
for id in "${ids[@]}"; do
        o=$(ns_owner "$(jq -r .pid "$(state_file "$id")")") || o="?"
        expect_eq "VPS $id: its user namespace's owner is its uid_base" \
                "$(jq -r .uid_base "$ROOT/vps/$id/config.json")" "$o"
        owners+=("$o")
done
expect_eq "$N VPSes, $N distinct owners" "$N" "$(printf '%s\n' "${owners[@]}" | sort -u | grep -cv '^0$')"
# What the limit meant: the instances they hold, together and the most of one VPS.
total=0 most=0
for id in "${ids[@]}"; do
        n=$(inotify_of "$id")
        total=$((total + n))
        [ "$n" -le "$most" ] || most=$n
done
info "inotify instances: $total in all $N VPSes, at most $most in one; fs.inotify.max_user_instances $INOTIFY_LOW during their boot (the host's was $INOTIFY_OLD, vpsd's floor 1024)"
raised_by= raised_ms=
[ ! -s "$T/inotify.raised" ] || read -r raised_by raised_ms <"$T/inotify.raised"
if [ -n "$raised_by" ] && [ "$raised_ms" -le "$all_ms" ]; then
        info "NOTE: fs.inotify.max_user_instances was raised to $raised_by by another process (another vpsd starting?) $raised_ms ms after the first start, before all had settled ($all_ms ms): this run does not show that the VPSes boot under $INOTIFY_LOW per uid; the owner checks above still hold"
else
        [ -z "$raised_by" ] || info "fs.inotify.max_user_instances was raised to $raised_by by another process $raised_ms ms after the first start, once all had settled ($all_ms ms)"
        check "the VPSes hold more than one uid may ($total > $INOTIFY_LOW): charged to one owner, they could not all boot" \
                test "$total" -gt "$INOTIFY_LOW"
        check "one VPS fits under it ($most <= $INOTIFY_LOW)" test "$most" -le "$INOTIFY_LOW"
fi
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
        cg=$(jq -r .cgroup "$(state_file "$id")" 2>/dev/null) || continue # stopped
        for pid in $(find "$cg" -name cgroup.procs -exec cat {} +); do
                kb=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
                pss=$((pss + ${kb:-0}))
        done
done
avail1=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
restore_inotify
info "$N VPSes: started in $started_ms ms, all settled in $all_ms ms"
info "memory per VPS: $((pss / N / 1024)) MiB PSS; the host's MemAvailable fell by $(((avail0 - avail1) / N / 1024)) MiB per VPS"
for id in "${ids[@]}"; do
        [ "$(vps_field "$id" status)" = stopped ] || vpsctl stop --fast "$id" >/dev/null || fail "stop $id"
done
finish
