#!/usr/bin/env bash
# A guest chooses how much a switch back to its snapshot costs (issue 14): the size of the
# snapshot's upper layer, which `snapshot-switch` copies. The copy runs in a child of vpsd,
# as a snapshot's and a clone's do (copy_job.c): while VPS 751 switches to a snapshot holding
# MIB MiB (1 GiB), `vpsctl list` and `vpsctl status` of another VPS each answer within 0.5 s,
# time after time (counted only while ID/.switch-upper is seen, at least three samples);
# meanwhile a change of 751 is refused as busy. Then: the switch is whole, the layer it
# replaced removed; a copy that fails (a tree deeper than the copy goes) says why and leaves
# the VPS as it was; a kill -9 of vpsd leaves it not begun; a destroy during a switch cancels
# it and leaves nothing. Before, the copy ran in the loop: the first `list` waited for all of
# it, and no second sample came.
. "$(dirname "$0")/../integration/lib.sh"
MIB=${VPS_TEST_BUSY_MIB:-1024}
start_vpsd
vpsctl template build busybox >/dev/null
for id in 751 752; do vpsctl create $id --ostemplate busybox >/dev/null; done
b=$(vps_field 751 uid_base)
up=$ROOT/vps/751/upper
dd if=/dev/zero of="$up/big" bs=1M count="$MIB" status=none
echo before >"$up/marker"
chown "$b:$b" "$up/big" "$up/marker"
vpsctl snapshot 751 --name big >/dev/null
rm -f "$up/big"
echo after >"$up/marker"
vpsctl start 752 >/dev/null

vpsctl snapshot-switch 751 big -j >"$T/switch.json" 2>&1 &
sw=$!
n_sw=0 busy=0 t0=$SECONDS
while kill -0 "$sw" 2>/dev/null; do
        sample_answers 752
        # under way at the end of the sample: so during all of it
        if [ -e "$ROOT/vps/751/.switch-upper" ]; then
                n_sw=$((n_sw + 1))
                if [ "$busy" = 0 ]; then
                        rc=0
                        "$VPSCTL_BIN" --socket "$SOCK" start 751 >"$T/start.out" 2>&1 || rc=$?
                        [ "$rc" = 5 ] && grep -q 'is busy: a switch of it is under way' "$T/start.out" && busy=1
                        [ "$busy" = 1 ] || { busy=2; echo "start during the switch: exit $rc: $(cat "$T/start.out")"; }
                fi
        fi
        sleep 0.05
done
max=$SAMPLE_MAX
wait "$sw" || fail "the switch failed: $(cat "$T/switch.json")"
echo "the switch took $((SECONDS - t0)) s; $SAMPLE_N samples ($n_sw during the copy), the slowest list + status $max s"
check "the switch's copy was under way for at least 3 samples ($n_sw)" test "$n_sw" -ge 3
check "list and status of another VPS answered within 0.5 s each time (slowest $max s)" \
        awk -v m="$max" 'BEGIN { exit !(m < 0.5) }'
expect_eq "a start of the VPS during the switch: 409 busy (exit 5)" 1 "$busy"
expect_jq "the switch answered" '.id == "751" and .name == "big" and .switched' cat "$T/switch.json"
check "the VPS has the snapshot's files" sh -c "[ \$(stat -c %s '$up/big') = $((MIB << 20)) ] && grep -qx before '$up/marker'"
for _ in $(seq 100); do [ -z "$(ls -A "$ROOT/vps/751" | grep '^\.')" ] && break; sleep 0.1; done
check "the layer it replaced is gone, no debris" sh -c "[ -z \"\$(ls -A '$ROOT/vps/751' | grep '^\\.')\" ]"
expect_jq "the snapshot stays" '[.snapshots[].name] == ["big"]' vpsctl snapshot-list 751 -j

# A copy that fails: the error comes back, the VPS is as it was.
vpsctl snapshot 751 --name deep >/dev/null
echo current >"$up/marker"
p=$ROOT/vps/751/snapshots/deep/upper/d
mkdir -p "$p"
python3 - "$p" <<'PY'
import os, sys
os.chdir(sys.argv[1])
for _ in range(1100):
    os.mkdir("d")
    os.chdir("d")
PY
expect_error "a switch whose copy fails says why" "switching VPS 751 to snapshot deep: .*deeper than 1024 levels" \
        vpsctl snapshot-switch 751 deep
check "the VPS keeps its files" sh -c "grep -qx current '$up/marker' && [ \$(stat -c %s '$up/big') = $((MIB << 20)) ]"
for _ in $(seq 100); do [ -z "$(ls -A "$ROOT/vps/751" | grep '^\.')" ] && break; sleep 0.1; done
check "and no debris" sh -c "[ -z \"\$(ls -A '$ROOT/vps/751' | grep '^\\.')\" ]"
vpsctl start 751 >/dev/null
expect_jq "it starts" '.status == "running"' vpsctl status 751 -j
vpsctl stop 751 --fast >/dev/null

# vpsd killed (-9) during a switch: its child dies with it; after the restart the switch is
# not begun (the VPS's own files, nothing left of the copy).
vpsctl snapshot-switch 751 big >/dev/null 2>&1 &
sw=$!
for _ in $(seq 200); do [ -e "$ROOT/vps/751/.switch-upper" ] && break; sleep 0.02; done
check "the switch was under way when vpsd was killed" test -e "$ROOT/vps/751/.switch-upper"
kill_vpsd
wait "$sw" || true
start_vpsd
for _ in $(seq 100); do [ -z "$(ls -A "$ROOT/vps/751" | grep '^\.')" ] && break; sleep 0.1; done
check "after the restart: not begun, no debris" \
        sh -c "grep -qx current '$up/marker' && [ -z \"\$(ls -A '$ROOT/vps/751' | grep '^\\.')\" ]"

# A destroy during a switch cancels it.
vpsctl snapshot-switch 751 big >"$T/cancel.out" 2>&1 &
sw=$!
for _ in $(seq 200); do [ -e "$ROOT/vps/751/.switch-upper" ] && break; sleep 0.02; done
check "the second switch was under way" test -e "$ROOT/vps/751/.switch-upper"
vpsctl destroy 751 >/dev/null || fail "the destroy during the switch failed"
rc=0
wait "$sw" || rc=$?
check "the switch was told (exit $rc)" sh -c "[ $rc != 0 ] && grep -q 'was destroyed' '$T/cancel.out'"
for _ in $(seq 100); do ! ls -A "$ROOT/vps" | grep -q 751 && break; sleep 0.1; done
check "nothing left of VPS 751" sh -c "[ -z \"\$(ls -A '$ROOT/vps' | grep 751)\" ]"
expect_jq "the other VPS runs on" '.status == "running"' vpsctl status 752 -j
finish
