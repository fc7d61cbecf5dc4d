#!/bin/bash
# Guest test (issue 18): suspend and resume through vpsctl in the qemu guest (6.1 kernel, full
# capabilities), where vpsd's probe says criu is available. A busybox VPS with a counter loop,
# a free loop and a TCP listener, --ram, --numproc and an address set: `vpsctl suspend` (criu dump in a
# child of vpsd) leaves it "suspended" with root-only images and no process; start and set
# refuse; a vpsd restart still shows it suspended; a resume from damaged images fails in one
# line and leaves it suspended with its images; the resume (criu restore in a child of vpsd,
# the init then vpsd's own child, in vpsd's cgroup with the VPS's limits) brings the same
# processes back (PIDs inside), the counter going on, the listener answering (inside and at
# its address from the host: criu makes the veth, vpsd puts its host end on the bridge), the same boot
# id, a TCP connection from the host opened before the suspend still echoing (and again after
# the onboot resume); the images are gone. Suspended again with onboot, it resumes when vpsd
# starts after a (simulated) host boot. The deadline on criu (vpsd.conf criu_timeout; a
# request's --timeout): criu runs through a wrapper (VPS_CRIU) that, while a flag file exists,
# holds a dump or a restore for ever before it execs criu; a suspend with --timeout 3 fails
# after about 3 s with exit status 7 and one line, the VPS running on (same init and PIDs
# inside, no task stopped or traced, the counter going on), no images, no wrapper left; a
# resume with --timeout 3 fails the same way, the VPS suspended with its images intact and
# root's, its cgroup and veth gone; the later resumes (the real criu) work. Times are printed (TCG: only indicative). What the restore does
# not give back yet is printed as "gap:" lines (docs/architecture.md "CRIU").
. "$(dirname "$0")/../integration/lib.sh"

grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: not in the VM guest (run this through tests/vm/run)"; exit 77; }
CRIU=${VPS_CRIU:-/usr/local/sbin/criu}
[ -x "$CRIU" ] || { echo "SKIP: no criu at $CRIU (scripts/install-criu)"; exit 77; }

# `criu check` takes over a minute under TCG: a longer deadline for the probe.
export VPS_CRIU_CHECK_TIMEOUT=400
# criu through a wrapper that holds a dump or a restore while $HANG exists (the deadline's
# test); its check and everything else go straight to criu.
HANG=$T/criu-hang
WRAP=$T/criu-wrap
LOCKED=$T/criu-locked
HOLD=$T/criu-hold
cat >"$WRAP" <<EOF
#!/bin/sh
case "\$1" in dump|restore) if [ -e "$HANG" ]; then echo \$\$ >"$HANG.pid"; sleep 100000; fi ;; esac
# While \$LOCKED exists, a dump runs with an action script of ours too (criu takes several),
# which holds it at post-dump: the images written, the tasks still seized, its network lock
# (an nftables table inet CRIU-<run id> in the VPS's network namespace) still in place.
if [ "\$1" = dump ] && [ -e "$LOCKED" ]; then exec "$CRIU" "\$@" --action-script "$HOLD"; fi
exec "$CRIU" "\$@"
EOF
chmod 755 "$WRAP"
cat >"$HOLD" <<EOF
#!/bin/sh
[ "\$CRTOOLS_SCRIPT_ACTION" = post-dump ] || exit 0
echo \$\$ >"$LOCKED.pid"
exec sleep 100000
EOF
chmod 755 "$HOLD"
export VPS_CRIU=$WRAP
# A deadline the real dumps and restores keep under TCG (about 6 s each).
printf 'criu_timeout = 60\n' >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
probed() {
        for _ in $(seq 4000); do
                [ "$(vpsctl version -j | jq -r .server.checkpoint.state)" != probing ] && break; sleep 0.1
        done
}
start_vpsd
probed
expect_jq "the probe says checkpointing is available in the guest" \
        '.server.checkpoint.available' vpsctl version -j
vpsctl template build busybox >/dev/null
ADDR=10.$N.0.81
vpsctl create 181 --ostemplate busybox --ram 96M --numproc 60 --ipadd "$ADDR" >/dev/null
vpsctl start 181 >/dev/null || { fail "start 181"; finish; }
vpsctl exec 181 -- sh -c '(i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.2; done) </dev/null >/dev/null 2>&1 &'
vpsctl exec 181 -- sh -c '(nc -ll -p 7000 -e echo hi) </dev/null >/dev/null 2>&1 &'
vpsctl exec 181 -- sh -c '(nc -ll -p 7001 -e cat) </dev/null >/dev/null 2>&1 &'
# free asks sysinfo(2), which vpsd answers through a seccomp listener (sandbox/sysinfo.c).
vpsctl exec 181 -- sh -c '(while :; do free >/tmp/free 2>&1; sleep 0.3; done) </dev/null >/dev/null 2>&1 &'
sleep 1
PID=$(vps_field 181 pid)
CG=$(vps_field 181 cgroup)
FREE=$(grep Mem: /proc/"$PID"/root/tmp/free | tr -s ' ' || true)
# The PIDs inside (of the VPS's own /proc) that live through half a second: not the counter's
# sleeps, which come and go every 0.2 s.
inner_pids() {
        local a b p
        a=$(ls "/proc/$1/root/proc" 2>/dev/null | grep -E '^[0-9]+$' | sort -n || true)
        sleep 0.5
        b=$(ls "/proc/$1/root/proc" 2>/dev/null | grep -E '^[0-9]+$' | sort -n || true)
        for p in $a; do if grep -qx "$p" <<<"$b"; then echo "$p"; fi; done | tr '\n' ' '
}
# What vpsd and criu said, for a step that failed or hung.
dbg() {
        echo "--- $1"
        tail -n 12 "$ROOT/vpsd.log" 2>/dev/null | sed 's/^/  vpsd.log: /'
        grep -hE 'Error|BUG' "$IMG"/*.log 2>/dev/null | tail -n 6 | sed 's/^/  criu: /'
        tail -n 5 "$IMG/criu.out" 2>/dev/null | sed 's/^/  criu.out: /'
        ps -eo pid,ppid,stat,wchan:20,args | grep -vE '\[|ps -eo' | tail -n 25 | sed 's/^/  ps: /'
}
# vpsctl with a deadline (a hang prints what it waits for).
vpsctl_t() {
        timeout "$1" "$VPSCTL_BIN" --socket "$SOCK" "${@:2}"
        local rc=$?
        [ "$rc" != 124 ] || dbg "vpsctl ${*:2} hung for $1 s"
        return "$rc"
}
hi() { timeout 10 nsenter -t "$1" -n busybox nc 127.0.0.1 7000 </dev/null 2>&1 | head -n1 || true; }
# From the host, through the bridge and the VPS's veth.
hi_net() { timeout 10 busybox nc "$ADDR" 7000 </dev/null 2>&1 | head -n1 || true; }
expect_eq "the listener answers inside" "hi" "$(hi "$PID")"
expect_eq "the listener answers at $ADDR from the host" "hi" "$(hi_net)"
# A TCP connection from the host to an echo (cat) in the VPS, open across the suspend and the
# resume (criu's --tcp-established): what an ssh session opened before needs.
exec {TCP}<>"/dev/tcp/$ADDR/7001"
echo before >&"$TCP"
line=; read -r -t 10 line <&"$TCP" || true
expect_eq "an established connection echoes before the suspend" before "$line"
PIDS=$(inner_pids "$PID")
BOOT=$(cat /proc/"$PID"/root/proc/sys/kernel/random/boot_id)
IMG=$ROOT/vps/181/checkpoint
# The masks over /proc and the read-only binds are locked at a start (docs/security.md "Masks
# over /proc and /sys"): the VPS's root cannot unmount them. (Tried on /proc/kcore and
# /proc/bus; a VPS that could would no longer have the mask or the read-only bind.)
mask_probe() { vpsctl exec 181 -- sh -c 'umount /proc/kcore 2>&1; echo "kcore $?"; umount /proc/bus 2>&1; echo "bus $?"; mount -o remount,bind,rw /proc/sys 2>&1; echo "sys-rw $?"; echo "kcore-mounts $(grep -c " /proc/kcore " /proc/self/mountinfo)"' 2>&1 | tr '\n' ' ' || true; }
M=$(mask_probe)
echo "masks of the started VPS: $M"
check "a started VPS cannot unmount its masks nor make /proc/sys writable (locked)" \
        grep -qE 'kcore [1-9].*bus [1-9].*sys-rw [1-9].*kcore-mounts [1-9]' <<<"$M"
# What else a start locks: a fresh proc or sysfs cannot be mounted (none is fully visible),
# here and in a new mount namespace, nor /proc and /sys unmounted there (were they, no proc
# would be fully visible either: ns-fresh-proc); and what systemd's sandboxing does in a namespace of its own
# (ProtectKernelTunables=: /proc/sys bound recursively onto itself and remounted read-only,
# its boot id's bind too) still works on the locked tree.
lock_probe() {
        vpsctl exec 181 -- sh -c 'mkdir -p /tmp/p /tmp/s
mount -t proc proc /tmp/p 2>/dev/null; echo "fresh-proc $?"; mount -t sysfs -o ro sysfs /tmp/s 2>/dev/null; echo "fresh-sysfs $?"
unshare -m sh -c "umount /proc/kcore 2>/dev/null; echo ns-kcore \$?; umount -l /proc 2>/dev/null; echo ns-proc \$?; umount -l /sys 2>/dev/null; echo ns-sys \$?; mount -t proc proc /tmp/p 2>/dev/null; echo ns-fresh-proc \$?; mount -t sysfs -o ro sysfs /tmp/s 2>/dev/null; echo ns-fresh-sysfs \$?"
unshare -m sh -c "mount --rbind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && mount -o remount,bind,ro /proc/sys/kernel/random/boot_id && echo sandbox ok"' 2>&1 | tr '\n' ' ' || true
}
STARTED='fresh-proc [1-9] fresh-sysfs [1-9] ns-kcore [1-9] ns-proc [1-9] ns-sys [1-9] ns-fresh-proc [1-9] ns-fresh-sysfs [1-9] sandbox ok'
L=$(lock_probe)
echo "locks of the started VPS: $L"
check "a started VPS cannot mount a fresh proc or sysfs, nor unmount /proc or /sys; its sandboxing works" \
        grep -qE "$STARTED" <<<"$L"

# The deadline of a dump: criu held (a hang: a task in D state, a FUSE mount that never
# answers) is killed when it passes; the VPS runs on, as it was, and no images are left.
# Every task of the VPS: none stopped (T) or traced (t), none with a tracer.
stopped_tasks() {
        local p
        for p in $(cat "$CG"/cgroup.procs "$CG"/*/cgroup.procs "$CG"/*/*/cgroup.procs 2>/dev/null); do
                awk -v p="$p" '/^State:/ {s=$2} /^TracerPid:/ {t=$2} END {if (s ~ /[Tt]/ || t != 0) print p ":" s ":" t}' /proc/"$p"/status 2>/dev/null
        done | tr '\n' ' '
}
touch "$HANG"
c0=$(count_of /proc/"$PID"/root/tmp/count)
t0=$(date +%s%N)
rc=0; out=$(vpsctl_t 60 suspend 181 --timeout 3 2>&1) || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "a dump held by the wrapper, --timeout 3: ${ms} ms, exit $rc: $out"
expect_eq "a dump past its deadline: exit status 7 (timeout)" 7 "$rc"
check "a dump past its deadline: one line naming the deadline, the VPS runs on" \
        grep -qxE "vpsctl: VPS 181: criu dump did not finish within 3 s \(the request's timeout\): killed; the VPS runs on" <<<"$out"
check "a dump past its deadline answers at about the deadline (${ms} ms)" test "$ms" -ge 2900 -a "$ms" -lt 20000
expect_eq "status running after the killed dump" running "$(vps_field 181 status)"
expect_eq "the same init after the killed dump" "$PID" "$(vps_field 181 pid)"
expect_eq "the same PIDs inside after the killed dump" "$PIDS" "$(inner_pids "$PID")"
c1=$(count_of /proc/"$PID"/root/tmp/count); sleep 1; c2=$(count_of /proc/"$PID"/root/tmp/count)
check "the counter goes on after the killed dump ($c0 -> $c1 -> $c2)" test "$c2" -gt "$c1" -a "$c1" -gt "$c0"
expect_eq "no task of the VPS stopped or traced after the killed dump" "" "$(stopped_tasks)"
expect_eq "its cgroup is not frozen" 0 "$(cat "$CG/cgroup.freeze" 2>/dev/null || echo 0)"
for _ in $(seq 50); do [ -e "$IMG" ] || break; sleep 0.1; done
check "no images left after the killed dump" test ! -e "$IMG"
check "the held wrapper was killed with criu's group" proc_gone "$(cat "$HANG.pid" 2>/dev/null || echo 0)"
check "vpsd.log says the dump was killed at its deadline" \
        grep -q "VPS 181: criu dump did not finish within 3 s (the request's timeout): killing it" "$ROOT/vpsd.log"
expect_eq "the listener answers after the killed dump" "hi" "$(hi_net)"
rm -f "$HANG" "$HANG.pid"

# suspend: criu dump in a child of vpsd; the VPS is stopped once the images are whole.
c_before=$(count_of /proc/"$PID"/root/tmp/count)
t0=$(date +%s%N)
if out=$(vpsctl_t 120 suspend 181 2>&1); then
        pass "vpsctl suspend 181: $(( ($(date +%s%N) - t0) / 1000000 )) ms, images $(du -sk "$IMG" | cut -f1) kB ($out)"
else
        fail "vpsctl suspend 181: $out"
        dbg suspend
        finish
fi
c_after=$(count_of "$ROOT/vps/181/upper/tmp/count")
check "vpsd.log names vpsd.conf's criu_timeout as the dump's deadline" \
        grep -q "VPS 181: suspending (criu dump, PID [0-9]*, deadline 60 s)" "$ROOT/vpsd.log"
expect_eq "status suspended" "suspended" "$(vps_field 181 status)"
check "the init is gone" proc_gone "$PID"
check "the images are root's only (0700)" test "$(stat -c '%U %a' "$IMG")" = "root 700"
check "the images are whole (vpsd.json)" test -s "$IMG/vpsd.json"
check "its cgroup is gone" test ! -d "$CG"
expect_error "start refuses while suspended" "^vpsctl: .*VPS 181 is suspended: resume it" vpsctl start 181
expect_error "set refuses while suspended" "^vpsctl: VPS 181 is suspended: resume it before changing its settings" \
        vpsctl set 181 --hostname other
expect_error "exec refuses while suspended" "181" vpsctl exec 181 -- true
expect_error "suspend again refuses" "^vpsctl: VPS 181 is suspended already" vpsctl suspend 181

# A resume from damaged images fails in one line, and the VPS stays suspended with them.
core=$(ls "$IMG"/core-*.img | head -n1)
mv "$core" "$core.aside"
expect_error "a resume from damaged images fails, one line" \
        "^vpsctl: resuming VPS 181 \\(it stays suspended\\): criu restore.log \\(status [0-9]+\\)" vpsctl_t 120 resume 181
mv "$core.aside" "$core"
expect_eq "still suspended after the failed resume" "suspended" "$(vps_field 181 status)"
check "its images are intact and root's again" test "$(stat -c '%U %a' "$IMG")" = "root 700" -a -s "$IMG/vpsd.json"

# The deadline of a restore: criu held and killed; the VPS stays suspended, its images whole.
touch "$HANG"
t0=$(date +%s%N)
rc=0; out=$(vpsctl_t 60 resume 181 --timeout 3 2>&1) || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "a restore held by the wrapper, --timeout 3: ${ms} ms, exit $rc: $out"
expect_eq "a restore past its deadline: exit status 7 (timeout)" 7 "$rc"
check "a restore past its deadline: one line, it stays suspended with its images" \
        grep -qxE "vpsctl: VPS 181: criu restore did not finish within 3 s \(the request's timeout\): killed; it stays suspended, its images kept" <<<"$out"
check "a restore past its deadline answers at about the deadline (${ms} ms)" test "$ms" -ge 2900 -a "$ms" -lt 20000
expect_eq "still suspended after the killed restore" "suspended" "$(vps_field 181 status)"
check "its images are intact and root's after the killed restore" \
        test "$(stat -c '%U %a' "$IMG")" = "root 700" -a -s "$IMG/vpsd.json" -a ! -e "$IMG/restored.pid"
check "the held wrapper was killed with criu's group" proc_gone "$(cat "$HANG.pid" 2>/dev/null || echo 0)"
check "its cgroup is gone after the killed restore" test ! -d "$CG"
check "no veth's host end left after the killed restore" test ! -e "/sys/class/net/$(veth_of 181)"
rm -f "$HANG" "$HANG.pid"

# A vpsd restart: still suspended (the images are the truth).
kill_vpsd
start_vpsd
expect_eq "suspended after a vpsd restart" "suspended" "$(vps_field 181 status)"
t0=$(date +%s)
probed
echo "the restarted vpsd's probe took $(( $(date +%s) - t0 )) s"

t0=$(date +%s%N)
if out=$(vpsctl_t 120 resume 181 2>&1); then
        pass "vpsctl resume 181 (after a vpsd restart): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
        fail "vpsctl resume 181: $out"
        dbg resume
        finish
fi
NP=$(vps_field 181 pid)
expect_eq "status running" "running" "$(vps_field 181 status)"
expect_eq "the restored init is PID 1 in its namespace" "1" "$(awk '/^NSpid/ {print $NF}' /proc/"$NP"/status)"
expect_eq "the restored init is vpsd's child" "$VPSD_PID" "$(awk '/^PPid/ {print $2}' /proc/"$NP"/status)"
expect_eq "the same PIDs inside as at the suspend" "$PIDS" "$(inner_pids "$NP")"
r1=$(count_of /proc/"$NP"/root/tmp/count); sleep 1; r2=$(count_of /proc/"$NP"/root/tmp/count)
check "the counter goes on from the suspend's value ($c_before..$c_after at the dump; $r1 -> $r2 now)" \
        test "$r1" -ge "$c_before" -a "$r2" -gt "$r1"
expect_eq "the same boot id" "$BOOT" "$(cat /proc/"$NP"/root/proc/sys/kernel/random/boot_id)"
expect_eq "the listener answers inside after the resume" "hi" "$(hi "$NP")"
expect_eq "the listener answers at $ADDR from the host after the resume" "hi" "$(hi_net)"
echo after >&"$TCP"
line=; read -r -t 30 line <&"$TCP" || true
expect_eq "the connection opened before the suspend echoes after the resume (established)" after "$line"
check "the veth's host end is on the bridge again" test -e "/sys/class/net/$(veth_of 181)/master"
NCG=$(vps_field 181 cgroup)
check "the init is in vpsd's cgroup of the VPS ($NCG)" grep -q "^0::${NCG#"$CG_MOUNT"}/" /proc/"$NP"/cgroup
expect_eq "the VPS's limits on its cgroup" "100663296 60" "$(cat "$NCG/memory.max") $(cat "$NCG/pids.max")"
for _ in $(seq 50); do [ -e "$IMG" ] || break; sleep 0.1; done
check "the images are removed after the resume" test ! -e "$IMG"
# criu restores the guest's mounts as the VPS's root, in its user namespace, where they are
# not locked; vpsd, as criu's action script at post-restore, puts a copy of each proc and
# sysfs tree in their place before the tasks run, propagated from the host's user namespace:
# locked as at a start (docs/security.md "Suspend and resume").
M=$(mask_probe)
echo "masks of the resumed VPS: $M"
check "the resumed VPS cannot unmount its masks nor make /proc/sys writable (locked)" \
        grep -qE 'kcore [1-9].*bus [1-9].*sys-rw [1-9].*kcore-mounts [1-9]' <<<"$M"
L=$(lock_probe)
echo "locks of the resumed VPS: $L"
check "the resumed VPS cannot mount a fresh proc or sysfs, nor unmount /proc or /sys; its sandboxing works" \
        grep -qE "$STARTED" <<<"$L"
sleep 1
echo "gap: seccomp: the filters are restored (the init's: $(grep -E '^Seccomp(_filters)?:' /proc/"$NP"/status | tr '\n' ' ')) without vpsd's notification listener, which answers sysinfo(2): free inside said '$FREE' before the suspend, now '$(tr -s ' \n' ' ' </proc/"$NP"/root/tmp/free 2>&1)'"
# onboot: a suspended VPS with onboot resumes when vpsd starts after a host boot (a boot id
# vpsd has not seen), once its probe has said criu is available, instead of booting afresh.
vpsctl set 181 --onboot yes >/dev/null || fail "set --onboot yes"
PIDS=$(inner_pids "$NP")
vpsctl_t 120 suspend 181 >/dev/null || fail "the second suspend"
echo not-this-boot >"$ROOT/.boot_id"
kill_vpsd
t0=$(date +%s%N)
start_vpsd
for _ in $(seq 1200); do [ "$(vps_field 181 status)" = running ] && break; sleep 0.1; done
expect_eq "onboot: the suspended VPS resumed when vpsd started" "running" "$(vps_field 181 status)"
echo "vpsd start to the onboot resume's end: $(( ($(date +%s%N) - t0) / 1000000 )) ms; $(grep -o 'VPS 181 resumed in [0-9]* ms' "$ROOT/vpsd.log" | tail -n1)"
check "vpsd.log says it resumed it for onboot" grep -q "onboot: VPS 181 resuming" "$ROOT/vpsd.log"
NP=$(vps_field 181 pid)
expect_eq "the same PIDs inside after the onboot resume" "$PIDS" "$(inner_pids "$NP")"
expect_eq "the listener answers after the onboot resume" "hi" "$(hi_net)"
echo again >&"$TCP"
line=; read -r -t 30 line <&"$TCP" || true
expect_eq "and the connection still echoes after the onboot resume" again "$line"
exec {TCP}>&-
# Dumped with the locked copies (and their tmpfs) and restored again: locked again.
M=$(mask_probe)
L=$(lock_probe)
echo "after the onboot resume: $M $L"
check "after a second suspend and resume the masks and /proc and /sys are locked again" \
        grep -qE "kcore [1-9].*bus [1-9].*sys-rw [1-9].*kcore-mounts [1-9].*$STARTED" <<<"$M $L"
# Under each copy one bind of the root's own directory, the last lock's taken down with it:
# no pile of them.
expect_eq "one bind under /proc and one under /sys after the second resume" "2 2" \
        "$(awk '$5 == "/proc"' /proc/"$NP"/mountinfo | wc -l) $(awk '$5 == "/sys"' /proc/"$NP"/mountinfo | wc -l)"
# The deadline of a dump that holds criu's network lock: killed at post-dump (the images
# whole, the tasks seized, the table inet CRIU-... in the VPS's network namespace dropping
# its traffic). criu, killed, cannot delete its table: vpsd does, in that namespace only.
# criu, killed, also leaves the VPS's established connections in TCP repair mode (the kernel
# neither sends nor acknowledges on them): vpsd takes them out of it (checkpoint/tcprepair.c),
# so a connection from the host opened before goes on echoing.
PID=$NP CG=$(vps_field 181 cgroup)
criu_tables() { nsenter -t "$1" -n nft list tables 2>&1 | grep -o 'CRIU-[^ ]*' | tr '\n' ' ' || true; }
exec {TCP}<>"/dev/tcp/$ADDR/7001"
echo held >&"$TCP"
line=; read -r -t 10 line <&"$TCP" || true
expect_eq "a connection opened before the held dump echoes" held "$line"
touch "$LOCKED"
c0=$(count_of /proc/"$PID"/root/tmp/count)
rc=0; vpsctl_t 90 suspend 181 --timeout 30 >"$T/locked.out" 2>&1 & SUSP=$!
for _ in $(seq 600); do [ -s "$LOCKED.pid" ] && break; sleep 0.1; done
HELD=$(criu_tables "$PID")
echo "criu held at post-dump: tables in the VPS's netns: '$HELD', host's: '$(nft list tables | grep -o 'CRIU-[^ ]*' || true)'"
check "criu held at post-dump has its lock (table inet CRIU-...) in the VPS's netns" \
        grep -q CRIU- <<<"$HELD"
wait "$SUSP" || rc=$?
out=$(cat "$T/locked.out")
echo "a dump held at post-dump, --timeout 30: exit $rc: $out"
expect_eq "a dump killed holding its lock: exit status 7 (timeout)" 7 "$rc"
check "a dump killed holding its lock: the VPS runs on" grep -q "killed; the VPS runs on" <<<"$out"
expect_eq "status running after the dump killed holding its lock" running "$(vps_field 181 status)"
expect_eq "the same init after the dump killed holding its lock" "$PID" "$(vps_field 181 pid)"
c1=$(count_of /proc/"$PID"/root/tmp/count); sleep 1; c2=$(count_of /proc/"$PID"/root/tmp/count)
check "the counter goes on after the dump killed holding its lock ($c0 -> $c1 -> $c2)" \
        test "$c2" -gt "$c1" -a "$c1" -ge "$c0"
expect_eq "no CRIU- table left in the VPS's netns" "" "$(criu_tables "$PID")"
expect_eq "no CRIU- table in the host's netns" "" "$(nft list tables | grep -o 'CRIU-[^ ]*' || true)"
check "vpsd.log says it removed criu's lock" grep -qE \
        "VPS 181: removed criu's network lock \(table inet CRIU-[^)]+\) left by the killed dump" "$ROOT/vpsd.log"
expect_eq "the listener answers from the host after the dump killed holding its lock" "hi" "$(hi_net)"
echo "after-kill" >&"$TCP"
line=; read -r -t 20 line <&"$TCP" || true
expect_eq "the connection opened before echoes after the dump killed in it (out of repair mode)" \
        after-kill "$line"
exec {TCP}>&-
check "vpsd.log says it took the connection out of repair mode" grep -qE \
        "VPS 181: took [1-9][0-9]* TCP connections? out of the repair mode the killed dump left" "$ROOT/vpsd.log"
for _ in $(seq 50); do [ -e "$IMG" ] || break; sleep 0.1; done
check "no images left after the dump killed holding its lock" test ! -e "$IMG"
check "the held action script was killed with criu's group" proc_gone "$(cat "$LOCKED.pid" 2>/dev/null || echo 0)"
expect_eq "no task of the VPS stopped or traced after it" "" "$(stopped_tasks)"
rm -f "$LOCKED" "$LOCKED.pid"

t0=$(date +%s%N)
vpsctl stop 181 >/dev/null || fail "stop of the resumed VPS"
pass "stop of the resumed VPS: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
finish
