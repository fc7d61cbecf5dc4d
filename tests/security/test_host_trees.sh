#!/usr/bin/env bash
# Deep trees made by a guest (issue 14): a 100,000-level directory tree in a VPS is removed by
# `vpsctl destroy` with vpsd on a 1 MiB stack and 256 fds, and by the vpsd that starts after a
# destroy was cut short; snapshot-switch, reinstall --no-keep, snapshot-delete and template
# remove drop such a tree while vpsd's loop keeps answering; a 100-level cgroup tree is
# removed when the VPS stops, and the VPS starts again; each guest's cgroup tree is bounded (cgroup.max.depth, .max.descendants), and
# a stop spends at most cgroup_remove_ms removing it in vpsd's loop (the rest: a child).
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

# 4. The other drops of a guest's tree: snapshot-switch (the current upper layer), reinstall
# --no-keep (the old one), snapshot-delete, template remove (a template made from a VPS's
# files). Each renames the tree to a .del-* name and is answered at once; a child of vpsd
# removes it while the loop answers a list within a second. On the old code the request
# removed the tree itself, in the loop: it and the list waited for the whole removal.
kill_vpsd
start_small 256
LIST_MAX_MS=${LIST_MAX_MS:-1000}
all_trash() { find "$ROOT/vps" "$ROOT/templates" -maxdepth 3 -name '.del-*' | wc -l; }
list_ms() {
        local t0 t1
        t0=$(date +%s%N)
        vpsctl list >/dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
}
# dropping WHAT CMD...: CMD drops a deep tree; answered within 2 s, while a removal child runs
# (the positive control: the tree was still there to remove), and a list is quick meanwhile.
dropping() {
        local what=$1 pid rc=0 ms remover= answered
        shift
        "$@" >"$T/drop.out" 2>&1 &
        pid=$!
        for _ in $(seq 40); do proc_gone "$pid" && break; sleep 0.05; done
        answered=no
        ! proc_gone "$pid" || answered=yes
        remover=$(pgrep -P "$VPSD_PID" -x vpsd-remove | head -n1 || true)
        ms=$(list_ms)
        expect_eq "$what: answered within 2 s" yes "$answered"
        check "$what: a list answers within $LIST_MAX_MS ms meanwhile (took $ms)" \
                test "$ms" -lt "$LIST_MAX_MS"
        wait "$pid" || rc=$?
        expect_eq "$what succeeds ($(cat "$T/drop.out"))" 0 "$rc"
        check "$what: its tree is removed by a child of vpsd" test -n "$remover"
}
# rebuild ID: a fresh deep tree in VPS ID's upper layer, the VPS stopped.
rebuild() {
        vpsctl start "$1" >/dev/null 2>&1 || true
        out=$(deep_tree "$1") || true
        expect_eq "the guest made its tree" "reached $LEVELS of $LEVELS levels" "$out"
        vpsctl stop "$1" --fast >/dev/null
}
make_running_vps 706
vpsctl snapshot 706 --name clean >/dev/null
rebuild 706
dropping "snapshot-switch" vpsctl snapshot-switch 706 clean
check "the switched VPS has no tree" test ! -e "$ROOT/vps/706/upper/root/d"
rebuild 706
dropping "reinstall --no-keep" vpsctl reinstall 706 --no-keep
rebuild 706
vpsctl reinstall 706 >/dev/null
kept=$(vpsctl snapshot-list 706 -j | jq -r '.snapshots[].name | select(startswith("reinstall-"))')
check "the reinstall kept the tree as snapshot ($kept)" \
        test -d "$ROOT/vps/706/snapshots/$kept/upper/root/d"
dropping "snapshot-delete" vpsctl snapshot-delete 706 "$kept"
check "the snapshot is gone from the list" \
        test -z "$(vpsctl snapshot-list 706 -j | jq -r '.snapshots[].name | select(startswith("reinstall-"))')"
rebuild 706
cp -a "$ROOT/templates/busybox" "$ROOT/templates/deep"
mv "$ROOT/vps/706/upper/root/d" "$ROOT/templates/deep/rootfs/root/d"
check "a template holds the guest's tree" test -d "$ROOT/templates/deep/rootfs/root/d"
dropping "template remove" vpsctl template remove deep
check "the template is gone" test ! -e "$ROOT/templates/deep"
for _ in $(seq 4500); do [ "$(all_trash)" = 0 ] && break; sleep 0.2; done
expect_eq "no .del-* left in vps/ID, its snapshots or templates" 0 "$(all_trash)"
check "vpsd is alive" alive
expect_eq "the VPS still works" hello "$(vpsctl start 706 >/dev/null && vpsctl exec 706 -- echo hello)"

# 5. Cgroup trees. An older vpsd knows neither setting (it would refuse the file): without it,
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

# A stop spends at most cgroup_remove_ms (default 1 s) removing the guest's cgroups in the
# loop; what is left then goes to a vpsd-remove child, and the stop is answered at once.
# With 1 ms, a guest's 1000 cgroups outlast it. An older vpsd refuses the setting.
kill_vpsd
echo "cgroup_remove_ms = 1" >"$T/vpsd.conf"
start_small - "$T/vpsd.conf"
check "vpsd takes cgroup_remove_ms" alive
vpsctl start 705 >/dev/null
made=$(vpsctl exec 705 -- sh -c 'i=0; while [ $i -lt 1000 ] && mkdir /sys/fs/cgroup/s$i 2>/dev/null; do i=$((i + 1)); done; find /sys/fs/cgroup -mindepth 1 -type d | wc -l')
expect_eq "the guest made 1000 cgroups again" 1000 "$made"
vpsctl stop 705 --fast >/dev/null 2>&1 || true
expect_eq "the stop is done" stopped "$(vps_field 705 status)"
check "the removal ran out of its 1 ms in the loop" grep -q "cgroup $CG_MOUNT$CG_PARENT/705: not done within 1 ms" "$ROOT/vpsd.log"
check "and the rest went to a child" grep -q "removing cgroup $CG_MOUNT$CG_PARENT/705 off the loop" "$ROOT/vpsd.log"
for _ in $(seq 100); do [ ! -e "$CG_MOUNT$CG_PARENT/705" ] && break; sleep 0.1; done
check "which removed them all" test ! -e "$CG_MOUNT$CG_PARENT/705"
check "the VPS starts again" vpsctl start 705
expect_eq "and runs" hello "$(vpsctl exec 705 -- echo hello)"
check "vpsd is alive" alive
finish
