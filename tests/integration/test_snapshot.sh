#!/usr/bin/env bash
# Snapshots (issue 17): an exact round trip snapshot -> switch compared by a manifest of every
# file; a running VPS's snapshots hold a prefix of an fsync'ed record stream with no torn
# record; bad names refused in one line; a full disk leaves nothing; racing snapshots, a
# destroy racing a snapshot and a kill -9 of vpsd mid-snapshot leave no debris.
. "$(dirname "$0")/lib.sh"
MANIFEST="python3 $(dirname "$0")/tree_manifest.py"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox >/dev/null
base=$(vps_field 101 uid_base)
V=$ROOT/vps/101
up=$V/upper

# --- Exact round trip on a stopped VPS: every kind of entry a guest's upper layer holds.
$MANIFEST populate "$up" "$base"
$MANIFEST manifest "$up" >"$T/m1"
expect_jq "a snapshot of a stopped VPS is not frozen" \
        '.name == "s1" and .frozen_ms == 0 and .description == "first one" and .size > 0' \
        vpsctl snapshot 101 --name s1 --description "first one" -j
check "the snapshot's copy is exact (manifest)" \
        sh -c "$MANIFEST manifest '$V/snapshots/s1/upper' | diff '$T/m1' -"
check "snapshots are root's alone" test "$(stat -c %a "$V/snapshots")" = 700
# Change things, then roll back.
rm -rf "$up/srv/www" "$up/etc/hello"
echo changed >"$up/etc/new"
touch -d @1600000000 "$up/srv/sparse"
vpsctl snapshot 101 --name s2 >/dev/null
expect_jq "snapshot-list: both, oldest first, with sizes" \
        '[.snapshots[].name] == ["s1", "s2"] and (.snapshots | all(.size > 0))' \
        vpsctl snapshot-list 101 -j
check "snapshot-list prints a table" sh -c "vpsctl() { \"$VPSCTL_BIN\" --socket '$SOCK' \"\$@\"; }; vpsctl snapshot-list 101 | grep -q '^s1 .* first one\$'"
expect_jq "switch of a stopped VPS" '.switched and (.restarted | not)' vpsctl snapshot-switch 101 s1 -j
check "switch round trip is exact (manifest of upper/)" \
        sh -c "$MANIFEST manifest '$up' | diff '$T/m1' -"
check "no switch debris" test ! -e "$V/.switch-upper"
vpsctl start 101 >/dev/null
expect_eq "the guest sees the snapshot's files" "hello snapshot" "$(vpsctl exec 101 -- cat /etc/hello)"
expect_eq "and not the later change" "" "$(vpsctl exec 101 -- sh -c 'cat /etc/new 2>/dev/null; true')"

# --- Bad input: one line, the right exit status, nothing made.
expect_error "path characters" "character 0x2f" vpsctl snapshot 101 --name a/b
expect_error "dot-dot" "must start with a letter|'..' not allowed" vpsctl snapshot 101 --name ..
expect_error "dot-dot inside" "'..' not allowed" vpsctl snapshot 101 --name a..b
expect_error "hidden name" "must start with a letter" vpsctl snapshot 101 --name .tmp-x
expect_error "too long" "too long" vpsctl snapshot 101 --name "$(printf 'n%.0s' $(seq 65))"
expect_error "duplicate" "already has a snapshot 's1'" vpsctl snapshot 101 --name s1
expect_error "no such snapshot (switch)" "has no snapshot 'nope'" vpsctl snapshot-switch 101 nope
expect_error "no such snapshot (delete)" "has no snapshot 'nope'" vpsctl snapshot-delete 101 nope
expect_error "bad name on delete" "must start with a letter" vpsctl snapshot-delete 101 ../../etc
expect_error "bad name on switch" "character 0x2f" vpsctl snapshot-switch 101 a/../../etc
expect_error "no such VPS" "VPS 999 does not exist" vpsctl snapshot 999
set +e
vpsctl snapshot 101 --name s1 >/dev/null 2>&1; rc_dup=$?
vpsctl snapshot-switch 101 nope >/dev/null 2>&1; rc_none=$?
set -e
expect_eq "exit status of a duplicate" 4 "$rc_dup"
expect_eq "exit status of a missing snapshot" 3 "$rc_none"
expect_jq "a refused switch left the VPS running" '.status == "running"' vpsctl status 101 -j
expect_jq "nothing made by the refusals" '[.snapshots[].name] == ["s1", "s2"]' vpsctl snapshot-list 101 -j

# --- A running VPS: a writer appends numbered, synced records; each snapshot holds a prefix.
pad=$(printf 'x%.0s' $(seq 100))
vpsctl exec 101 -- sh -c "setsid sh -c 'i=0; while :; do i=\$((i+1)); printf \"R%08d $pad\\n\" \$i >>/rec.log; sync /rec.log; done' </dev/null >/dev/null 2>&1 &"
sleep 0.5
frozen_ok=0
for k in 1 2 3 4 5; do
        out=$(vpsctl snapshot 101 --name "w$k" -j)
        jq -e '.running and .frozen_ms > 0' <<<"$out" >/dev/null && frozen_ok=$((frozen_ok + 1))
        sleep 0.2
done
expect_eq "5 snapshots of the running VPS, each frozen (frozen_ms > 0)" 5 "$frozen_ok"
prev=0 prefix_ok=0
for k in 1 2 3 4 5; do
        f=$V/snapshots/w$k/upper/rec.log
        n=$(awk -v pad="$pad" -v want=1 '
                $0 != sprintf("R%08d %s", want, pad) { bad = 1; exit }
                { want++ } END { if (bad) print -1; else print want - 1 }' "$f")
        # a torn record would be a last line without its newline
        last=$(tail -c 1 "$f" | od -An -c | tr -d ' ')
        if [ "$n" -gt "$prev" ] && [ "$last" = '\n' ]; then prefix_ok=$((prefix_ok + 1)); fi
        prev=$n
done
expect_eq "each snapshot holds a growing prefix of whole records ($prev in the last)" 5 "$prefix_ok"
check "the VPS runs on, thawed" sh -c "grep -qx 'frozen 0' '$CG_MOUNT$CG_PARENT/101/cgroup.events'"
expect_jq "stats show the snapshots" '.snapshots.count == 7 and .snapshots.size > 0' vpsctl stats 101 -j
expect_jq "switch of a running VPS through the API says stop first" '.error | test("is running: stop it first")' \
        curl -s --unix-socket "$SOCK" -X POST -d '{"name":"s1"}' http://x/v1/vps/101/snapshot-switch
vpsctl snapshot-delete 101 w1 >/dev/null
check "delete removes the files" test ! -e "$V/snapshots/w1"

# --- Disk full: an error, no partial snapshot, the VPS running unchanged.
mount -t tmpfs -o size=64k tmpfs "$V/snapshots"
expect_error "disk full is an error" "No space left on device" vpsctl snapshot 101 --name full
check "no partial snapshot left" sh -c "[ -z \"\$(ls -A '$V/snapshots')\" ]"
check "the VPS is thawed" sh -c "grep -qx 'frozen 0' '$CG_MOUNT$CG_PARENT/101/cgroup.events'"
expect_jq "and running" '.status == "running"' vpsctl status 101 -j
umount "$V/snapshots"

# --- Races: two snapshots of one name, a destroy against a snapshot.
set +e
vpsctl snapshot 101 --name same >/dev/null 2>"$T/r1" & p1=$!
vpsctl snapshot 101 --name same >/dev/null 2>"$T/r2" & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
set -e
check "two snapshots of one name: one wins, the other is told" \
        sh -c "[ \$(( ($r1 == 0) + ($r2 == 0) )) = 1 ] && grep -qh 'already has a snapshot' '$T/r1' '$T/r2'"

# --- kill -9 of vpsd in the middle of a snapshot: after the restart, done or not begun.
mkdir "$up/many"
for i in $(seq 40); do mkdir "$up/many/d$i"; for j in $(seq 50); do echo "$i $j" >"$up/many/d$i/f$j"; done; done
chown -R "$base:$base" "$up/many"
vpsctl snapshot 101 --name big >/dev/null 2>&1 &
for _ in $(seq 400); do [ -e "$V/snapshots/.tmp-big" ] && break; sleep 0.005; done
check "the snapshot was under way" test -e "$V/snapshots/.tmp-big"
kill_vpsd
wait || true
start_vpsd
check "no temporary left after the restart" sh -c "! ls -A '$V/snapshots' | grep -q '^\\.'"
check "the VPS runs, thawed" sh -c "grep -qx 'frozen 0' '$CG_MOUNT$CG_PARENT/101/cgroup.events'"
expect_jq "the VPS is still running for vpsd" '.status == "running"' vpsctl status 101 -j
expect_jq "and big is not listed" '[.snapshots[].name] | index("big") == null' vpsctl snapshot-list 101 -j
vpsctl snapshot 101 --name big >/dev/null
expect_jq "taken again, it is complete" '.snapshots[] | select(.name == "big") | .files > 2000' \
        vpsctl snapshot-list 101 -j

# --- Switch of a running VPS: stopped, switched, started, and said so.
out=$(vpsctl snapshot-switch 101 s1 2>&1)
check "switch of a running VPS says it stops and starts it" \
        sh -c "grep -q 'stopping it to switch' <<<'$out' && grep -q 'starting it again' <<<'$out' && grep -q 'stopped and started again' <<<'$out'"
expect_jq "it runs again" '.status == "running"' vpsctl status 101 -j
exec_false "with the snapshot's files (no record log)" 101 test -e /rec.log

set +e
vpsctl snapshot 101 --name racer >/dev/null 2>"$T/s" & p1=$!
vpsctl destroy 101 --force >/dev/null 2>"$T/d" & p2=$!
wait $p1; rs=$?; wait $p2; rd=$?
set -e
expect_eq "the destroy went through" 0 "$rd"
check "the snapshot either was taken first or was told the VPS is gone" \
        sh -c "[ $rs = 0 ] || grep -qE 'does not exist|is stopping' '$T/s'"
check "nothing left of VPS 101" sh -c "! ls -A '$ROOT/vps' | grep -q 101"
finish
