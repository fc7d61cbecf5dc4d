#!/usr/bin/env bash
# kill -9 of either vpsd during vpsctl migrate (offline), at random moments: two "hosts" as in
# test_migrate.sh (migrate_hosts). One clean migration of a running busybox VPS with 32 MB of
# data is timed first; then each round moves another such VPS and kills vpsd A (the source)
# or vpsd B (the destination) after a random delay within that time, starts it again at once
# and, once vpsctl has ended, checks the invariant (docs/architecture.md, "a migration and a
# crash of either vpsd"): exactly one copy of the VPS, running or startable with its data
# intact, and no debris of it on the other host (record, directory, run state, cgroup); or a
# copy here kept stopped and marked migrated, which vpsctl's one-line error names. vpsctl
# exits 0 only for a move that ended on B with nothing left on A. Meanwhile both hosts'
# statuses are sampled: the VPS never runs on both at once. 3 rounds per side; 10 with
# VPS_TEST_FULL=1.
NET_TEST=1
. "$(dirname "$0")/lib.sh"
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || { echo "SKIP: no sshd (openssh-server; scripts/install-deps)"; rm -rf "$T"; exit 77; }
ROUNDS=3
[ "${VPS_TEST_FULL:-0}" = 0 ] || ROUNDS=10

migrate_hosts

# mkvps ID: running, 32 MB of random data in /data and its checksum in /sum.
mkvps() {
        vpsctl create "$1" --ostemplate busybox >/dev/null
        vpsctl start "$1" >/dev/null
        vpsctl exec "$1" -- sh -c 'dd if=/dev/urandom of=/data bs=1M count=32 2>/dev/null && md5sum /data >/sum'
}
# st HOST ID: the VPS's status on HOST (a or b), "none" for no such VPS, "?" for no answer.
st() {
        local out rc=0
        if [ "$1" = a ]; then out=$(vpsctl status "$2" -j 2>/dev/null) || rc=$?; else out=$(v2 status "$2" -j 2>/dev/null) || rc=$?; fi
        if [ "$rc" = 0 ]; then jq -r .status <<<"$out"; elif [ "$rc" = 3 ]; then echo none; else echo "?"; fi
}
marked() { [ "$(vpsctl status "$1" -j | jq -r '.migrated_to // empty')" != "" ]; }
# sampler ID FILE: both statuses, "A B", every 0.1 s until killed.
sampler() { while :; do echo "$(st a "$1") $(st b "$1")" >>"$2"; sleep 0.1; done; }
# no_debris ROOT CGPARENT ID: nothing of VPS ID under a host's root, run state or cgroups.
no_debris() {
        ! ls -a "$1/vps" | grep -q -- "$3" &&
                [ ! -e "$(run_state_dir "$1")/$3.json" ] &&
                ! ls "$CG_MOUNT$2" 2>/dev/null | grep -qw -- "$3"
}
# intact HOST ID: the VPS runs there (started if it was stopped) with its data.
intact() {
        local c=vpsctl
        [ "$1" = a ] || c=v2
        [ "$(st "$1" "$2")" = running ] || $c start "$2" >/dev/null || return 1
        $c exec "$2" -- md5sum -c -s /sum
}
kill9() { # kill9 PID: and wait until it is gone
        kill -9 "$1" 2>/dev/null || true
        for _ in $(seq 200); do proc_gone "$1" && return; sleep 0.05; done
}

# --- one clean move, timed ------------------------------------------------------------------------
mkvps 300
t0=$(date +%s.%N)
OUT=$(migrate 300 "$DEST" $FULL 2>&1) || fail "the clean migration of 300: $OUT"
DUR=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
expect_eq "the clean move: 300 runs on B, none on A" "none running" "$(st a 300) $(st b 300)"
echo "# a clean migration takes $DUR s"
v2 destroy 300 --force >/dev/null

# --- the rounds ---------------------------------------------------------------------------------
declare -A OUTCOMES=()
round() { # round SIDE ID
        local side=$1 id=$2 delay rc=0 a b line
        delay=$(awk -v d="$DUR" -v r="$RANDOM" 'BEGIN { printf "%.2f", d * r / 32767 }')
        mkvps "$id"
        : >"$T/s.$id"
        sampler "$id" "$T/s.$id" &
        local sp=$!
        migrate "$id" "$DEST" $FULL >"$T/m.$id" 2>"$T/e.$id" </dev/null &
        local mp=$!
        sleep "$delay"
        if [ "$side" = a ]; then kill9 "$VPSD_PID"; start_a; else kill9 "$PIDB"; start_b; fi
        wait "$mp" || rc=$?
        kill "$sp" 2>/dev/null || true
        wait "$sp" 2>/dev/null || true
        a=$(st a "$id") b=$(st b "$id")
        line=$(tail -n1 "$T/e.$id")
        local what="kill -9 of vpsd $side after ${delay} s (vpsctl exited $rc; A $a, B $b)"
        echo "# $what${line:+: $line}"
        if grep -q "running running" "$T/s.$id"; then fail "$what: it ran on both at once"; fi
        [ "$a" != running ] || [ "$b" != running ] || fail "$what: it runs on both"
        if [ "$rc" = 0 ]; then
                OUTCOMES[moved]=$((${OUTCOMES[moved]:-0} + 1))
                expect_eq "$what: moved, so none on A" "none running" "$a $b"
                check "$what: its data intact on B" intact b "$id"
                check "$what: nothing of it left on A" eventually 20 no_debris "$ROOT" "$CG_PARENT" "$id"
        elif [ "$b" = none ]; then
                OUTCOMES[rolled_back]=$((${OUTCOMES[rolled_back]:-0} + 1))
                check "$what: one line of error" test "$(wc -l <"$T/e.$id")" -le 2
                check "$what: rolled back, it says so" grep -qE "^vpsctl: .*(VPS $id (runs here again|stays here)|nothing done)\$" <<<"$line"
                check "$what: it runs on A with its data" intact a "$id"
                check "$what: nothing of it left on B" eventually 20 no_debris "$ROOTB" "$CGB" "$id"
        elif [ "$a" = none ]; then
                fail "$what: vpsctl exited $rc, but the move ended on B: $line"
        else
                # Both hosts have it: the copy here must be the fenced one, and said so.
                OUTCOMES[fenced]=$((${OUTCOMES[fenced]:-0} + 1))
                expect_eq "$what: kept here, it is stopped" stopped "$a"
                check "$what: and marked migrated (start refused)" marked "$id"
                check "$what: vpsctl said so" grep -q "marked migrated" <<<"$line"
                check "$what: the copy on B runs with its data" intact b "$id"
                vpsctl destroy "$id" >/dev/null || fail "destroying the kept copy of $id"
        fi
        vpsctl destroy "$id" --force >/dev/null 2>&1 || true
        v2 destroy "$id" --force >/dev/null 2>&1 || true
}
id=310
for side in a b; do
        for _ in $(seq "$ROUNDS"); do
                round "$side" "$id"
                id=$((id + 1))
        done
done
echo "# outcomes: $(for k in "${!OUTCOMES[@]}"; do printf '%s=%s ' "$k" "${OUTCOMES[$k]}"; done)"
finish
