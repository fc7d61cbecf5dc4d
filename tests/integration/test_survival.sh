#!/usr/bin/env bash
# kill -9 of vpsd: running VPSes keep running and the next vpsd re-adopts them; a VPS that
# stopped meanwhile shows stopped, and what it left is cleaned up.
. "$(dirname "$0")/lib.sh"
start_vpsd
make_running_vps 201
make_running_vps 202
pid1=$(vps_field 201 pid)
pid2=$(vps_field 202 pid)

kill_vpsd
check "VPS 201 survives kill -9 of vpsd" kill -0 "$pid1"
check "VPS 202 survives kill -9 of vpsd" kill -0 "$pid2"
# 202's init dies while no vpsd is watching.
echo 1 >"$CG_MOUNT$CG_PARENT/202/cgroup.kill"
while ! proc_gone "$pid2"; do sleep 0.05; done

start_vpsd
expect_eq "201 re-adopted as running" running "$(vps_field 201 status)"
# Its console came back from the keeper (one process per root, not per VPS): not hung up.
expect_eq "201's console is back after kill -9" true "$(vpsctl list -j | jq '.[] | select(.id == "201") | .console')"
out=$(console_say 201 'echo alive-$((40+2))' alive-42)
check "and its shell inside answers on it" grep -q alive-42 <<<"$out"
check "the log says so" grep -q "console keeper: 1 console taken back" "$ROOT/vpsd.log"
expect_eq "201 keeps its PID" "$pid1" "$(vps_field 201 pid)"
expect_eq "201 still answers" hi "$(vpsctl exec 201 -- echo hi)"
expect_eq "202 shows stopped" stopped "$(vps_field 202 status)"
check "202's cgroup was removed" test ! -d "$CG_MOUNT$CG_PARENT/202"
check "202's state file was removed" test ! -e "$(state_file 202)"
vpsctl start 202 >/dev/null
expect_eq "202 starts again" running "$(vps_field 202 status)"

# An adopted VPS (not vpsd's child) still stops cleanly.
vpsctl stop 201 --timeout 10 >/dev/null
expect_eq "adopted VPS stops" stopped "$(vps_field 201 status)"
check "adopted VPS init gone" proc_gone "$pid1"
check "adopted VPS cgroup removed" test ! -d "$CG_MOUNT$CG_PARENT/201"

# Several kills in a row while VPSes run.
for i in 1 2 3; do
        kill_vpsd
        start_vpsd
done
expect_eq "202 still running after 3 daemon restarts" running "$(vps_field 202 status)"
check "its run state is on /run ($(state_file 202))" test -f "$(state_file 202)"
check "and nothing of it in the VPS's directory" test ! -e "$ROOT/vps/202/state.json"

# An upgrade from a vpsd that kept state.json in the VPS's directory: adopted, and moved.
pid=$(vps_field 202 pid)
kill_vpsd
mv "$(state_file 202)" "$ROOT/vps/202/state.json"
start_vpsd
expect_eq "a state.json of an older vpsd is adopted" "running $pid" "$(vps_field 202 status) $(vps_field 202 pid)"
check "and moved to /run" sh -c "test -f '$(state_file 202)' && test ! -e '$ROOT/vps/202/state.json'"

# A VPS whose config.json is damaged does not keep vpsd (and every other VPS) down: it is
# skipped and said in the log, its files left alone; once repaired, the next vpsd has it back.
vpsctl create 203 --ostemplate busybox >/dev/null
echo keep >"$ROOT/vps/203/upper/keep203"
pid=$(vps_field 202 pid)
kill_vpsd
cp "$ROOT/vps/203/config.json" "$T/config203.json"
printf '{"id": ' >"$ROOT/vps/203/config.json"
start_vpsd
check "vpsd starts with a damaged config.json of another VPS" test -n "$VPSD_PID"
expect_eq "the running VPS is adopted all the same" "running $pid" "$(vps_field 202 status) $(vps_field 202 pid)"
expect_eq "the damaged one is not listed" "" "$(vps_field 203 id)"
check "the log names it" grep -q "skipped: loading VPS 203" "$ROOT/vpsd.log"
check "its files are left alone" grep -qx keep "$ROOT/vps/203/upper/keep203"
expect_error "its ID cannot be taken meanwhile" "creating VPS 203: VPS 203 already exists" \
        vpsctl create 203 --ostemplate busybox
check "and its files are still there" grep -qx keep "$ROOT/vps/203/upper/keep203"
# That create failed at its last step (publishing the directory it made, upper and work and
# config.json included, under the ID): what it made is gone with it.
check "the failed create leaves no half-made directory" test -z "$(ls -A "$ROOT/vps" | grep '^\.' || true)"
kill_vpsd
cp "$T/config203.json" "$ROOT/vps/203/config.json"
start_vpsd
expect_eq "repaired, it is back" stopped "$(vps_field 203 status)"
vpsctl destroy 203 >/dev/null

# A state an older vpsd wrote (no pidfd_ino): its init is known by its start time.
pid=$(vps_field 202 pid)
kill_vpsd
st=$(state_file 202)
jq "del(.pidfd_ino)" "$st" >"$st.x" && mv "$st.x" "$st"
start_vpsd
expect_eq "a state without pidfd_ino: its init is adopted" "running $pid" \
        "$(vps_field 202 status) $(vps_field 202 pid)"
# A PID reused by another process is never mistaken for the VPS init: the state's identity of
# the init (its pidfs inode, Linux 6.9 and later) is not that process's, or, in a state
# without it (an older vpsd's, or a kernel without pidfs), its start time is not.
pid=$(vps_field 202 pid)
kill_vpsd
st=$(state_file 202)
if [ "$(jq '.pidfd_ino // 0' "$st")" != 0 ]; then
        jq ".pidfd_ino = 1" "$st" >"$st.x" && mv "$st.x" "$st"
        start_vpsd
        expect_eq "a wrong pidfd identity is not adopted" stopped "$(vps_field 202 status)"
        check "and its processes were killed" proc_gone "$pid"
        vpsctl start 202 >/dev/null
        pid=$(vps_field 202 pid)
        kill_vpsd
fi
jq "del(.pidfd_ino) | .starttime = 1" "$st" >"$st.x" && mv "$st.x" "$st"
start_vpsd
expect_eq "a wrong start time is not adopted" stopped "$(vps_field 202 status)"
check "and its processes were killed" proc_gone "$pid"
# A state that names a live process outside the VPS's cgroup, with that process's own start
# time (a hand-edited or planted state file): not adopted, and that process is not touched.
vpsctl start 202 >/dev/null
pid=$(vps_field 202 pid)
sleep 300 &
foreign=$!
TEST_PIDS="${TEST_PIDS:-} $foreign"
kill_vpsd
st=$(state_file 202)
jq ".pid = $foreign | .starttime = $(awk '{ print $22 }' "/proc/$foreign/stat")" "$st" >"$st.x" && mv "$st.x" "$st"
start_vpsd
expect_eq "a process outside the VPS's cgroup is not adopted as its init" stopped "$(vps_field 202 status)"
check "that process is left alone" kill -0 "$foreign"
check "the VPS's own processes were killed" proc_gone "$pid"
check "and its cgroup removed" test ! -d "$CG_MOUNT$CG_PARENT/202"
expect_eq "it starts again" running "$(vpsctl start 202 >/dev/null; vps_field 202 status)"
check "and the other process still runs" kill -0 "$foreign"
# The keeper leaves once it holds no console and no vpsd is connected.
keeper=$(ss -xlpn 2>/dev/null | awk -v n="$(run_state_dir)/keeper.sock" '$5 == n' | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)
check "a console keeper runs for this root (PID ${keeper:-none})" test -n "$keeper"
for id in $(vpsctl list -j | jq -r '.[].id'); do vpsctl stop "$id" --fast >/dev/null; done
kill_vpsd
for _ in $(seq 300); do [ -z "$keeper" ] || ! kill -0 "$keeper" 2>/dev/null && break; sleep 0.1; done
check "and it is gone once nothing is left to keep" sh -c "! kill -0 ${keeper:-0} 2>/dev/null"
finish
