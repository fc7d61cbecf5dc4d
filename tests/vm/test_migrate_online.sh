#!/bin/bash
# Guest test (issue 18): vpsctl migrate --online between two "hosts" in the qemu guest (6.1
# kernel, criu available): two network namespaces joined by a veth pair (the wire), each with
# its own vpsd (own root, socket, cgroup parent, claims; the same bridge name and subnet, as
# two hosts of one provider have), B with its own sshd that accepts only a key the test made
# (as tests/integration/test_migrate.sh). A busybox VPS with an address whose init (rc.local)
# runs a counter loop and a TCP listener. First a fault: B's criu fails every restore (B's
# criu is a wrapper that does when a flag file exists): the migration fails in one line, B
# has no copy left, and the VPS runs on A again, resumed from its own images: the same PIDs
# inside, the counter going on, the listener answering at its address. Then the move: on B
# the same PIDs inside, the counter going on, the listener answering at its address from B's
# side, the init in B's cgroup with the VPS's limits; A has nothing of it; the report (-j)
# says online, rounds (2 of pre-copy: criu pre-dump while it runs) and the downtime, which is
# printed (TCG: only indicative).
NET_TEST=1
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/migrate_lib.sh"

NSA=vpsmo-a-$N-$$ NSB=vpsmo-b-$N-$$ WA=vmo${N}a WB=vmo${N}b
two_hosts "$NSA" "$NSB" "$WA" "$WB" "$A_IP" "$B_IP"
# A neighbour on B's bridge (a host on B's segment) holding a stale entry at a wrong MAC for
# the address that moves: only the announcement of the resume there (gratuitous ARP, from
# the mark B's restore of a migration's copy leaves) sets it right.
b_neighbour "$NETPFX.81"

# B's criu: the real one, except that a restore fails while $T/fail-restore exists.
cat >"$T/criu-b" <<EOF
#!/bin/sh
[ "\$1" = restore ] && [ -e "$T/fail-restore" ] && { echo "Error (test): restore refused" >&2; exit 1; }
[ "\$1" = restore ] && [ -e "$T/hang-restore" ] && { echo \$\$ >"$T/hang.pid"; sleep 600; exit 1; }
exec "$CRIU" "\$@"
EOF
chmod 0755 "$T/criu-b"

# Both vpsds start together: their criu probes (a minute or more under TCG) run side by side.
in_a "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
VPSD_PID=$(vpsctl version -j | jq -r '.server.pid // empty')
[ -n "$VPSD_PID" ] || { fail "vpsd A did not start"; finish; }
mkdir -p "$ROOTB" /run/vps/claims
start_vpsd_b() {
        in_b unshare -m --propagation slave sh -c 'mount -t tmpfs -o mode=0700 tmpfs /run/vps/claims && exec "$@"' sh \
                env VPS_CRIU="$T/criu-b" "$VPSD_BIN" --root "$ROOTB" --socket "$SOCKB" --cgroup-parent "$CGB" \
                --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
}
start_vpsd_b
PIDB=$(v2 version -j | jq -r '.server.pid // empty')
[ -n "$PIDB" ] || { fail "vpsd B did not start"; finish; }

# B's sshd: its own host key, only the test's key, on B's side of the wire.
sshd_on_b "$B_IP" "$PORT"
migrate() { in_a timeout 600 "$VPSCTL_BIN" --socket "$SOCK" migrate "$@" "${SSH_OPTS[@]}" \
        --remote-vpsctl "$VPSCTL_BIN" --remote-socket "$SOCKB"; }

busybox_both
probes_done

# B's first id range taken by another VPS: 181 gets another range there than on A, which the
# restore must use whatever the images say (their user namespace's maps are A's).
v2 create 180 --ostemplate busybox >/dev/null
ADDR=$NETPFX.81
vpsctl create 181 --ostemplate busybox --ram 96M --numproc 60 --ipadd "$ADDR" >/dev/null
# The counter and the listener are the init's (rc.local at boot), in the VPS's guest cgroup.
UP=$ROOT/vps/181/upper
mkdir -p "$UP/etc"
cat >"$UP/etc/rc.local" <<'EOF'
#!/bin/sh
(i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.2; done) </dev/null >/dev/null 2>&1 &
(nc -ll -p 7000 -e echo hi) </dev/null >/dev/null 2>&1 &
EOF
chmod 0755 "$UP/etc/rc.local"
chown -R "$(stat -c %u:%g "$UP")" "$UP/etc"
vpsctl start 181 >/dev/null || { fail "start 181"; finish; }
sleep 2
inner_pids() {
        local a b p
        a=$(ls "/proc/$1/root/proc" 2>/dev/null | grep -E '^[0-9]+$' | sort -n || true)
        sleep 0.5
        b=$(ls "/proc/$1/root/proc" 2>/dev/null | grep -E '^[0-9]+$' | sort -n || true)
        for p in $a; do if grep -qx "$p" <<<"$b"; then echo "$p"; fi; done | tr '\n' ' '
}
hi_a() { in_a timeout 10 busybox nc "$ADDR" 7000 </dev/null 2>&1 | head -n1 || true; }
hi_b() { in_b timeout 10 busybox nc "$ADDR" 7000 </dev/null 2>&1 | head -n1 || true; }
dbg() {
        echo "--- $1"
        tail -n 15 "$ROOT/vpsd.log" 2>/dev/null | sed 's/^/  A vpsd.log: /'
        tail -n 15 "$ROOTB/vpsd.log" 2>/dev/null | sed 's/^/  B vpsd.log: /'
        grep -hE 'Error|BUG' "$ROOT"/vps/181/checkpoint/*.log "$ROOTB"/vps/181/checkpoint/*.log 2>/dev/null | tail -n 6 | sed 's/^/  criu: /'
}
PID=$(vps_field 181 pid)
expect_eq "the listener answers at $ADDR on A" hi "$(hi_a)"
check "the counter runs" test -s "/proc/$PID/root/tmp/count"
PIDS=$(inner_pids "$PID")
echo "PIDs inside: $PIDS"
BASE_A=$(vps_field 181 uid_base)
BOOT=$(cat "/proc/$PID/root/proc/sys/kernel/random/boot_id")

# --- refused before anything: a destination whose vpsd has no criu (C: another vpsd on B's
# side, VPS_CRIU="", reached through the same sshd with its own socket).
ROOTC=$T/rootc SOCKC=$T/c.sock CGC=$CG_PARENT-c
mkdir -p "$ROOTC"
in_b unshare -m --propagation slave sh -c 'mount -t tmpfs -o mode=0700 tmpfs /run/vps/claims && exec "$@"' sh \
        env VPS_CRIU= "$VPSD_BIN" --root "$ROOTC" --socket "$SOCKC" --cgroup-parent "$CGC" \
        --bridge "vpsbc$N" --subnet "10.$N.1.0/24" --daemon
PIDC=$("$VPSCTL_BIN" --socket "$SOCKC" version -j | jq -r '.server.pid // empty')
expect_error "--online to a vpsd without criu: refused in one line, naming it" \
        "^vpsctl: --online needs checkpointing \\(CRIU\\), which root@$B_IP:$PORT's vpsd says is not available: " \
        in_a "$VPSCTL_BIN" --socket "$SOCK" migrate 181 "$DEST" --online "${SSH_OPTS[@]}" \
        --remote-vpsctl "$VPSCTL_BIN" --remote-socket "$SOCKC"
expect_eq "A: 181 runs on, the same init" "running $PID" "$(vps_field 181 status) $(vps_field 181 pid)"
check "C has no 181" not "$VPSCTL_BIN" --socket "$SOCKC" status 181
stop_node "$PIDC" "$ROOTC" "$CGC" "vpsbc$N"

# --- a fault: B's restore fails; the VPS runs on A again, resumed from its own images.
touch "$T/fail-restore"
if OUT=$(migrate 181 "$DEST" --online 2>&1); then
        fail "migrate --online with B's restore failing succeeded: $OUT"
else
        echo "the failed migration said: $OUT"
        check "it says why in one line, and that the VPS runs here again" \
                grep -qE "^vpsctl: .*resuming VPS 181.*; VPS 181 runs here again \\(resumed\\)\$" <<<"$OUT"
        check "one line" test "$(wc -l <<<"$OUT")" = 1
fi
rm -f "$T/fail-restore"
expect_eq "A: 181 runs" running "$(vps_field 181 status)"
NP=$(vps_field 181 pid)
expect_eq "A: the same PIDs inside after the roll-back" "$PIDS" "$(inner_pids "$NP")"
r1=$(count_of "/proc/$NP/root/tmp/count"); sleep 1; r2=$(count_of "/proc/$NP/root/tmp/count")
check "A: the counter goes on ($r1 -> $r2)" test "$r2" -gt "$r1"
expect_eq "A: the listener answers at $ADDR" hi "$(hi_a)"
check "B has no 181" not v2 status 181
check "B has no files of it" sh -c "! ls -a '$ROOTB/vps' | grep -q 181"
[ "$(vps_field 181 status)" = running ] || { dbg fault; finish; }

# --- the move
c_before=$(count_of "/proc/$NP/root/tmp/count")
if OUT=$(migrate 181 "$DEST" --online --precopy 2 -j 2>&1); then
        pass "migrate 181 --online: $(jq -c . <<<"$OUT")"
else
        fail "migrate 181 --online: $OUT"
        dbg move
        finish
fi
echo "online migration downtime: $(jq -r '.downtime_seconds * 1000 | floor' <<<"$OUT") ms (frozen on A to running on B; dump $(jq -r .stop_seconds <<<"$OUT") s, transfer $(jq -r .transfer_seconds <<<"$OUT") s of $(jq -r .bytes <<<"$OUT") + $(jq -r .checkpoint_bytes <<<"$OUT") bytes, resume $(jq -r .start_seconds <<<"$OUT") s; TCG, load $(cut -d' ' -f1-3 /proc/loadavg))"
check "the report: online, 2 pre-copy rounds, removed here, a downtime" \
        jq -e '.online == true and .rounds == 2 and .source == "removed" and .downtime_seconds > 0 and .checkpoint_bytes > 0' <<<"$OUT"
expect_eq "B: 181 runs" running "$(v2 status 181 -j | jq -r .status)"
BP=$(v2 status 181 -j | jq -r .pid)
expect_eq "B: the same PIDs inside" "$PIDS" "$(inner_pids "$BP")"
MAC181=$(v2 exec 181 -- cat /sys/class/net/eth0/address)
for _ in $(seq 30); do [ "$(nb_mac "$ADDR")" = "$MAC181" ] && break; sleep 0.1; done
expect_eq "B's segment learnt $ADDR at the VPS's MAC (announced at the resume)" "$MAC181" "$(nb_mac "$ADDR")"
check "B took the mark away" test ! -e "$ROOTB/vps/181/announce"
r1=$(count_of "/proc/$BP/root/tmp/count"); sleep 1; r2=$(count_of "/proc/$BP/root/tmp/count")
check "B: the counter goes on from A's value ($c_before before; $r1 -> $r2 now)" \
        test "$r1" -ge "$c_before" -a "$r2" -gt "$r1"
expect_eq "B: the listener answers at $ADDR from B's side" hi "$(hi_b)"
expect_eq "B: the same boot id inside (the images carry it)" "$BOOT" "$(cat "/proc/$BP/root/proc/sys/kernel/random/boot_id")"
BCG=$(v2 status 181 -j | jq -r .cgroup)
check "B: the init is in B's cgroup of the VPS ($BCG)" grep -q "^0::${BCG#"$CG_MOUNT"}/" "/proc/$BP/cgroup"
expect_eq "B: the VPS's limits on its cgroup" "100663296 60" "$(cat "$BCG/memory.max") $(cat "$BCG/pids.max")"
BASE_B=$(v2 status 181 -j | jq -r .uid_base)
check "B gave 181 another id range than A ($BASE_A there, $BASE_B here)" test "$BASE_A" != "$BASE_B"
expect_eq "B: the restored user namespace maps B's range, not the images' (A's)" "0 $BASE_B 65536" \
        "$(awk '{ print $1, $2, $3 }' "/proc/$BP/uid_map")"
check "B: the files inside are the VPS root's (uid 0 inside)" \
        test "$(stat -c %u "/proc/$BP/root/etc/rc.local")" = "$BASE_B"
check "A: 181 is gone" not vpsctl status 181
check "A: no files of it" test ! -e "$ROOT/vps/181"
for _ in $(seq 50); do [ -e "$ROOTB/vps/181/checkpoint" ] || break; sleep 0.1; done
check "B: the images are removed after the resume" test ! -e "$ROOTB/vps/181/checkpoint"
# The restore on B locked its masks before it ran, as a resume does (docs/security.md
# "Suspend and resume"): no unmount of one, no read-write /proc/sys, no fresh proc.
M=$(v2 exec 181 -- sh -c 'umount /proc/kcore 2>/dev/null; echo "kcore $?"; mount -o remount,bind,rw /proc/sys 2>/dev/null; echo "sys-rw $?"; mkdir -p /tmp/p; mount -t proc proc /tmp/p 2>/dev/null; echo "fresh-proc $?"' 2>&1 | tr '\n' ' ' || true)
check "B: its masks are locked, nor does a fresh proc mount ($M)" grep -qE 'kcore [1-9] sys-rw [1-9] fresh-proc [1-9]' <<<"$M"
v2 stop 181 >/dev/null || fail "stop of the migrated VPS on B"

# --- a fault in the fence, on a VPS of its own (182), after the move above so that a run in
# which it moves still makes every check of that move: B's vpsd killed (-9) while its criu restores (a wrapper that hangs
# while a flag exists). Meanwhile A's copy stays suspended and marked migrated_to B (its
# resume refused), B's not running; once B's vpsd is back, exactly one copy runs (the move
# went on, or was rolled back with B's copy destroyed), or both are left in the documented
# state (A suspended and marked, in one line).
vpsctl create 182 --ostemplate busybox >/dev/null || fail "create 182"
vpsctl start 182 >/dev/null || { fail "start 182"; finish; }
touch "$T/hang-restore"
rm -f "$T/hang.pid"
migrate 182 "$DEST" --online >"$T/mig-kill.out" 2>&1 &
MIG=$!
for _ in $(seq 1200); do [ -s "$T/hang.pid" ] && break; sleep 0.1; done
check "B's criu restore began (the resume there)" test -s "$T/hang.pid"
both_running() { [ "$(vps_field 182 status)" = running ] && [ "$(v2 status 182 -j 2>/dev/null | jq -r .status)" = running ]; }
expect_eq "A during B's resume: suspended, marked migrated" "suspended root@$B_IP:$PORT" \
        "$(vps_field 182 status) $(vps_field 182 migrated_to)"
expect_error "A: resume of the marked VPS is refused, naming the migration" \
        "^vpsctl: VPS 182 was migrated to root@$B_IP:$PORT and kept here suspended .*resume --force" vpsctl resume 182
kill -9 "$PIDB"
kill "$(cat "$T/hang.pid")" 2>/dev/null || true
rm -f "$T/hang-restore"
for _ in 1 2 3 4 5; do
        check "never running on both (B's vpsd down)" not both_running
        expect_eq "A stays suspended while B's outcome is unknown" suspended "$(vps_field 182 status)"
        sleep 1
done
start_vpsd_b
PIDB=$(v2 version -j | jq -r '.server.pid // empty')
[ -n "$PIDB" ] || { fail "vpsd B did not start again"; finish; }
while kill -0 "$MIG" 2>/dev/null; do
        both_running && fail "182 runs on both A and B"
        sleep 1
done
MRC=0; wait "$MIG" || MRC=$? # (set -e: a rolled-back migration exits non-zero)
echo "the migration through B's crash (exit $MRC) said: $(cat "$T/mig-kill.out")"
SA=$(vps_field 182 status); SB=$(v2 status 182 -j 2>/dev/null | jq -r .status || true)
echo "after: A ${SA:-none}, B ${SB:-none}"
if [ "$SA" = suspended ]; then
        check "the documented state: one line, marked, resume --force named" \
                grep -qE "^vpsctl: .*stays suspended here, marked migrated \(check there; resume --force resumes it here\)\$" "$T/mig-kill.out"
        check "exit non-zero" test "$MRC" != 0
        check "B does not run it" not test "$SB" = running
        # Resolved by hand as the line says: B's copy destroyed, A's resumed with --force.
        v2 destroy 182 --force >/dev/null 2>&1 || true
        vpsctl resume 182 --force >/dev/null || fail "resume --force on A"
        SA=$(vps_field 182 status); SB=
fi
check "exactly one copy runs (A: ${SA:-none}, B: ${SB:-none})" \
        test "$( (echo "$SA"; echo "$SB") | grep -c '^running$')" = 1
if [ "$SB" = running ]; then
        check "moved: exit 0" test "$MRC" = 0
        check "A: 182 is gone" not vpsctl status 182
        pass "the move went on after B's vpsd came back"
        v2 stop 182 >/dev/null 2>&1 || true
else
        check "rolled back: B has no 182" not v2 status 182
        expect_eq "rolled back: A runs it, the mark gone" "running " \
                "$(vps_field 182 status) $(vps_field 182 migrated_to | sed 's/null//')"
        [ "$(vps_field 182 status)" = running ] || dbg fence-kill
        vpsctl stop 182 >/dev/null 2>&1 || true
fi

finish
