#!/usr/bin/env bash
# A guest chooses how much a copy of it costs (issue 14): the size and the file count of its
# upper layer. The copies of a clone and of a snapshot run in children of vpsd, off its loop:
# while a clone of a VPS holding MIB MiB (1 GiB) and a snapshot of a running VPS holding
# FILES files are both under way, `vpsctl list` and `vpsctl status` of a third VPS each answer
# within 0.5 s, time after time. The positive control: the samples are counted only while the
# copies are seen under way (vps/.clone-NEWID and snapshots/.tmp-NAME exist), at least three
# during each. Before, both copies ran in the loop: the first `list` waited for the clone
# (seconds), and no second sample came while it ran.
. "$(dirname "$0")/../integration/lib.sh"
MIB=${VPS_TEST_BUSY_MIB:-1024}
FILES=${VPS_TEST_BUSY_FILES:-20000}
start_vpsd
vpsctl template build busybox >/dev/null
for id in 741 742 743; do vpsctl create $id --ostemplate busybox >/dev/null; done
# 741: the clone's source, stopped, with one big file (zeros are data all the same: no holes).
b1=$(vps_field 741 uid_base)
dd if=/dev/zero of="$ROOT/vps/741/upper/big" bs=1M count="$MIB" status=none
chown "$b1:$b1" "$ROOT/vps/741/upper/big"
# 742: the snapshot's source, running, with many small files.
b2=$(vps_field 742 uid_base)
python3 - "$ROOT/vps/742/upper/many" "$FILES" "$b2" <<'PY'
import os, sys
d, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    sub = os.path.join(d, "d%03d" % (i % 300))
    if not os.path.isdir(sub):
        os.makedirs(sub)
        os.lchown(sub, base, base)
    p = os.path.join(sub, "f%d" % i)
    with open(p, "w") as f:
        f.write("%d\n" % i)
    os.lchown(p, base, base)
os.lchown(d, base, base)
PY
vpsctl start 742 >/dev/null
vpsctl start 743 >/dev/null

now() { date +%s.%N; }
vpsctl clone 741 744 -j >"$T/clone.json" 2>&1 &
clone=$!
vpsctl snapshot 742 --name busy -j >"$T/snap.json" 2>&1 &
snap=$!
# Sample until both have ended: each sample a list and a status of 743, timed.
n_clone=0 n_snap=0 t0=$(now)
while kill -0 "$clone" 2>/dev/null || kill -0 "$snap" 2>/dev/null; do
        sample_answers 743
        # under way at the end of the sample: so during all of it
        [ -e "$ROOT/vps/.clone-744" ] && n_clone=$((n_clone + 1))
        [ -e "$ROOT/vps/742/snapshots/.tmp-busy" ] && n_snap=$((n_snap + 1))
        sleep 0.05
done
t1=$(now)
max=$SAMPLE_MAX n=$SAMPLE_N
wait "$clone" || fail "the clone failed: $(cat "$T/clone.json")"
wait "$snap" || fail "the snapshot failed: $(cat "$T/snap.json")"
echo "copies took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; $n samples ($n_clone during the clone, $n_snap during the snapshot), the slowest list + status $max s"
check "the clone was under way for at least 3 samples ($n_clone)" test "$n_clone" -ge 3
check "the snapshot was under way for at least 3 samples ($n_snap)" test "$n_snap" -ge 3
check "list and status of another VPS answered within 0.5 s each time (slowest $max s)" \
        awk -v m="$max" 'BEGIN { exit !(m < 0.5) }'
expect_jq "the clone is whole" '.id == "744" and .status == "stopped"' cat "$T/clone.json"
check "with its big file" test "$(stat -c %s "$ROOT/vps/744/upper/big")" = $((MIB << 20))
expect_jq "the snapshot is whole" ".running and .frozen_ms > 0 and .files > $FILES" cat "$T/snap.json"
expect_jq "the source runs on" '.status == "running"' vpsctl status 742 -j
check "thawed" sh -c "grep -qx 'frozen 0' '$CG_MOUNT$CG_PARENT/742/cgroup.events'"
finish
