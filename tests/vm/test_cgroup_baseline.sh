#!/bin/bash
# Guest test, no vpsd: the kernel enforces cgroup v2 limits here (what the host cannot show).
# A 50M memory.max with no swap OOM-kills a 120 MB allocation and memory.events counts it;
# pids.max=20 stops a loop forking 40 sleeps partway.
set -uo pipefail
CG=/sys/fs/cgroup
BB=$(command -v busybox || echo /bin/busybox)
FAILS=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
event() { awk -v k="$2" '$1 == k { print $2 }' "$1/$3"; }  # event CGROUP KEY FILE
D=$CG/vmbase-$$
cleanup() { # each group killed, and removed once empty (30 s at most: TCG is slow)
        local g
        for g in "$D"/*/; do
                [ -d "$g" ] || continue
                echo 1 >"$g/cgroup.kill" 2>/dev/null
                for _ in $(seq 300); do grep -q '^populated 0' "$g/cgroup.events" 2>/dev/null && break; sleep 0.1; done
                rmdir "$g" 2>/dev/null
        done
        rmdir "$D" 2>/dev/null || true
}
trap cleanup EXIT

ctl=$(cat $CG/cgroup.controllers)
missing=
for c in memory pids cpu; do grep -qw $c <<<"$ctl" || missing="$missing $c"; done
if [ -z "$missing" ]; then pass "controllers in the guest: $ctl"; else fail "missing controllers:$missing ($ctl)"; exit 1; fi

if echo "+memory +pids +cpu" >$CG/cgroup.subtree_control; then
        pass "enabled in the root's subtree_control: $(cat $CG/cgroup.subtree_control)"
else
        fail "could not enable memory pids cpu in $CG/cgroup.subtree_control"; exit 1
fi
mkdir "$D" && echo "+memory +pids +cpu" >"$D/cgroup.subtree_control" || { fail "mkdir $D"; exit 1; }

# Memory: 50M, no swap, a 120 MB string in a busybox shell.
M=$D/mem
mkdir "$M"
echo 50M >"$M/memory.max"
if [ -e "$M/memory.swap.max" ]; then echo 0 >"$M/memory.swap.max"; fi
[ "$(cat "$M/memory.max")" = 52428800 ] && pass "memory.max = 52428800" || fail "memory.max = $(cat "$M/memory.max")"
[ "$(cat "$M/memory.swap.max" 2>/dev/null)" = 0 ] && pass "memory.swap.max = 0" || fail "memory.swap.max: $(cat "$M/memory.swap.max" 2>&1)"
s=$(date +%s%N)
rc=0
{ sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" sh -c "x=\$(head -c 120000000 /dev/zero | tr \"\\\\0\" a); echo survived \${#x}"' \
        _ "$M" "$BB"; } 2>/dev/null || rc=$?
t=$(awk -v a="$s" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
[ "$rc" != 0 ] && pass "the 120 MB hog failed (exit $rc, ${t}s)" || fail "the 120 MB hog exited 0"
k=$(event "$M" oom_kill memory.events)
[ "${k:-0}" -ge 1 ] && pass "memory.events: oom_kill $k" || fail "memory.events has no oom_kill: $(tr '\n' ' ' <"$M/memory.events")"
echo "   memory.events: $(tr '\n' ' ' <"$M/memory.events")  memory.peak: $(cat "$M/memory.peak" 2>/dev/null || echo n/a)"

# Pids: at most 20 tasks; 40 background sleeps from a busybox shell.
P=$D/pids
mkdir "$P"
echo 20 >"$P/pids.max"
out=$(sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" sh -c "n=0; for i in \$(seq 40); do sleep 30 >/dev/null 2>&1 & n=\$((n + 1)); done; echo started \$n"' \
        _ "$P" "$BB" 2>&1)
cur=$(cat "$P/pids.current")
max=$(event "$P" max pids.events)
echo "   shell said: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
if ! grep -q "started 40" <<<"$out" && [ "${max:-0}" -ge 1 ]; then
        pass "forking 40 sleeps under pids.max=20 failed partway (pids.events max $max, pids.current $cur)"
else
        fail "pids.max=20 not enforced: output '$out', pids.events max ${max:-none}, pids.current $cur"
fi
[ "$cur" -le 20 ] && pass "pids.current $cur <= 20" || fail "pids.current $cur > 20"
echo 1 >"$P/cgroup.kill"

if [ "$FAILS" != 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
echo "all checks passed"
