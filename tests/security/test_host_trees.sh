#!/usr/bin/env bash
# Deep trees made by a guest (issue 14): a 100,000-level directory tree in a VPS is removed by
# `vpsctl destroy` with vpsd on a 1 MiB stack and 256 fds, and by the vpsd that starts after a
# destroy was cut short; a 100-level cgroup tree is removed when the VPS stops, and the VPS
# starts again; each guest's cgroup tree is bounded (cgroup.max.depth, .max.descendants).
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-deeptree
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
LEVELS=${TREE_LEVELS:-100000}
VPSD_CMD="$VPSD_BIN --root $ROOT --socket $SOCK --cgroup-parent $CG_PARENT --bridge $BRIDGE --subnet $SUBNET --daemon"

# start_small NOFILE|- [CONF]: vpsd on a 1 MiB stack with NOFILE fds (soft and hard: it cannot
# raise them; -: as many as this shell may have), with the settings file CONF if given.
start_small() {
        VPSD_PID=
        local n=$1
        [ "$n" != - ] || n=$(ulimit -Hn)
        (ulimit -s 1024 && ulimit -n "$n" && VPSD_CONFIG=${2:-} exec $VPSD_CMD) || true
        VPSD_PID=$(pgrep -f -x "$VPSD_CMD" | head -n1 || true)
}
alive() { [ -n "$VPSD_PID" ] && kill -0 "$VPSD_PID" 2>/dev/null && vpsctl list >/dev/null; }
# deep_tree ID [N]: the probe's chain of N (LEVELS) directories under /root of VPS ID.
deep_tree() {
        vpsctl exec "$1" -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"
        vpsctl exec "$1" -- /probe dir /root "${2:-$LEVELS}"
}
trash_left() { find "$ROOT/vps" -mindepth 1 -maxdepth 1 -name '.del-*' | wc -l; }

# 1. Destroy, vpsd at 1 MiB of stack and 256 fds.
start_small 256
check "vpsd runs on a 1 MiB stack" grep -qE '^Max stack size +1048576 ' "/proc/$VPSD_PID/limits"
check "and 256 fds" grep -qE '^Max open files +256 +256 ' "/proc/$VPSD_PID/limits"
make_running_vps 701
out=$(deep_tree 701) || true
expect_eq "the guest made its tree" "reached $LEVELS of $LEVELS levels" "$out"
vpsctl stop 701 --fast >/dev/null
out=$(vpsctl destroy 701 2>&1) && rc=0 || rc=$?
expect_eq "destroy succeeds ($out)" 0 "$rc"
check "VPS 701's directory is gone" test ! -e "$ROOT/vps/701"
expect_eq "no .del-* left" 0 "$(trash_left)"
check "vpsd is alive and answers" alive
check "the removal ran in a child, not in vpsd" grep -q 'vps/.del-701 removed' "$ROOT/vpsd.log"

# 2. A destroy cut short: vpsd killed after the rename, before the files were gone (the
# rename done by hand, so the tree is whole). The next vpsd, on a 1 MiB stack, removes it
# (minutes on a loaded machine).
make_running_vps 702
out=$(deep_tree 702) || true
expect_eq "the guest made a second tree" "reached $LEVELS of $LEVELS levels" "$out"
vpsctl stop 702 --fast >/dev/null
kill_vpsd
mv "$ROOT/vps/702" "$ROOT/vps/.del-702"
start_small -
check "vpsd starts with a deep .del-702 to clean" alive
for _ in $(seq 4500); do [ "$(trash_left)" = 0 ] && break; sleep 0.2; done
expect_eq "no .del-* left after start-up" 0 "$(trash_left)"
check "vpsd is still alive" alive
expect_eq "VPS 702 is not listed" "" "$(vps_field 702 id)"

# 3. A destroy under way when vpsd is killed: its child dies with it (nothing is removed
# behind the next vpsd's back) and the next vpsd finishes the job. A shorter tree will do:
# its removal only has to outlast the kill.
make_running_vps 703
out=$(deep_tree 703 20000) || true
vpsctl stop 703 --fast >/dev/null
vpsctl destroy 703 >/dev/null 2>&1 &
destroyer=$!
for _ in $(seq 100); do [ "$(trash_left)" != 0 ] && break; sleep 0.05; done
remover=$(pgrep -P "$VPSD_PID" -x vpsd-remove | head -n1 || true)
kill_vpsd
wait "$destroyer" 2>/dev/null || true
if [ -n "$remover" ]; then
        for _ in $(seq 100); do proc_gone "$remover" && break; sleep 0.05; done
        check "the removal child died with vpsd" proc_gone "$remover"
fi
start_small -
for _ in $(seq 4500); do [ "$(trash_left)" = 0 ] && break; sleep 0.2; done
expect_eq "the next vpsd finished the removal" 0 "$(trash_left)"
check "vpsd is alive" alive

# 4. Cgroup trees. An older vpsd knows neither setting (it would refuse the file): without it,
# the guest's tree is as deep as it likes, as before.
kill_vpsd
cat >"$T/vpsd.conf" <<EOF
cgroup_max_depth = 200
EOF
conf=
"$VPSD_BIN" --help | grep -q cgroup_max_depth && conf=$T/vpsd.conf
start_small - "$conf"
make_running_vps 704
vpsctl exec 704 -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"
out=$(vpsctl exec 704 -- /probe cgroup /sys/fs/cgroup 100) || true
expect_eq "the guest made a 100-level cgroup tree" "reached 100 of 100 levels" "$out"
vpsctl stop 704 --fast >/dev/null 2>&1 || true
check "its cgroups are removed at stop" test ! -e "$CG_MOUNT$CG_PARENT/704"
check "the VPS starts again" vpsctl start 704
expect_eq "and runs" hello "$(vpsctl exec 704 -- echo hello)"

# The default bounds: 16 levels below the guest's cgroup root, 1000 cgroups.
kill_vpsd
start_small -
make_running_vps 705
vpsctl exec 705 -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"
out=$(vpsctl exec 705 -- /probe cgroup /sys/fs/cgroup 100) || true
expect_eq "the guest's cgroup tree stops at 16 levels (EAGAIN)" \
        "reached 16 of 100 levels, stopped by Resource temporarily unavailable (errno 11)" "$out"
made=$(vpsctl exec 705 -- sh -c 'i=0; while [ $i -lt 1100 ] && mkdir /sys/fs/cgroup/s$i 2>/dev/null; do i=$((i + 1)); done; find /sys/fs/cgroup -mindepth 1 -type d | wc -l')
expect_eq "and at 1000 cgroups in all" 1000 "$made"
vpsctl stop 705 --fast >/dev/null 2>&1 || true
check "all 1000 are removed at stop" test ! -e "$CG_MOUNT$CG_PARENT/705"
check "vpsd is alive" alive
finish
