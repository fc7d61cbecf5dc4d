#!/usr/bin/env bash
# vpsctl pause / unpause (issue 18): a counter loop inside stops advancing while paused and
# goes on after; what needs the guest is refused in one line with exit status 5; paused
# survives a kill -9 of vpsd and a SIGHUP re-exec (and a freeze no state asked for is
# undone); a snapshot leaves it paused; stop, restart and destroy --force of a paused VPS work.
# GET /metrics names the state as the API does (paused; starting while a start is under way).
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null; }
start_vpsd
make_running_vps 181
CG=$(vps_field 181 cgroup)
COUNTER=$ROOT/vps/181/upper/counter

# A counter the guest writes every 10 ms, read from the host (exec is refused while paused).
vpsctl exec 181 -- sh -c '(i=0; while :; do i=$((i+1)); echo $i >/counter; sleep 0.01; done) </dev/null >/dev/null 2>&1 &'
for _ in $(seq 100); do [ -s "$COUNTER" ] && break; sleep 0.05; done
# The guest's `echo >` truncates before it writes: an empty read is read again.
counter() {
        local v
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                v=$(cat "$COUNTER" 2>/dev/null) && [ -n "$v" ] && { echo "$v"; return; }
                sleep 0.005
        done
        echo 0
}
# advances SECONDS: whether the counter moved within that time.
advances() { local a; a=$(counter); sleep "$1"; [ "$(counter)" != "$a" ]; }
check "the counter runs" advances 0.3

# expect_exit DESCRIPTION STATUS PATTERN COMMAND...: that status, one line matching.
expect_exit() {
        local what=$1 want=$2 pat=$3; shift 3
        local out rc=0
        out=$("$@" 2>&1 >/dev/null </dev/null) || rc=$?
        if [ "$rc" != "$want" ]; then fail "$what: exit $rc, not $want ($out)"; return; fi
        if [ "$(printf '%s\n' "$out" | wc -l)" != 1 ]; then fail "$what: not one line: $out"; return; fi
        if ! grep -qE -- "$pat" <<<"$out"; then fail "$what: '$out' !~ /$pat/"; return; fi
        pass "$what ($out)"
}

expect_eq "pause says so" "VPS 181 paused" "$(vpsctl pause 181)"
expect_eq "status paused" "VPS 181 exists paused" "$(vpsctl status 181)"
expect_jq "status -j and list -j say paused" '.status == "paused"' vpsctl status 181 -j
expect_eq "list (up only) shows it" paused "$(vpsctl list -j | jq -r '.[] | select(.id == "181") | .status')"
# GET /metrics says the state the API says (it said running for a paused VPS).
metric() { curl -s --unix-socket "$SOCK" http://localhost/metrics | grep -x "$1"; }
check "metrics: vps_state paused" metric 'vps_state{id="181",state="paused"} 1'
check "metrics: vps_up 1 while paused" metric 'vps_up{id="181"} 1'
expect_eq "its top cgroup is frozen" 1 "$(cat "$CG/cgroup.freeze")"
check "the kernel says frozen" grep -qx "frozen 1" "$CG/cgroup.events"
check "the counter stands still" sh -c "! { a=\$(cat '$COUNTER'); sleep 0.5; [ \"\$(cat '$COUNTER')\" != \"\$a\" ]; }"
check "the run state says paused" sh -c "jq -e '.paused == true' '$(state_file 181)' >/dev/null"

expect_exit "exec is refused" 5 "VPS 181 is paused: unpause it" vpsctl exec 181 -- true
expect_exit "enter is refused" 5 "VPS 181 is paused" vpsctl enter 181
expect_exit "console is refused" 5 "VPS 181 is paused: unpause it .* to use its console" vpsctl console 181 --timeout 1
expect_exit "set --hostname is refused" 5 "VPS 181 is paused: unpause it .* hostname" vpsctl set 181 --hostname other
expect_exit "set --userpasswd is refused" 5 "is paused" vpsctl set 181 --userpasswd root:x
expect_exit "a second pause" 5 "already paused" vpsctl pause 181
expect_exit "pause of a VPS that does not exist" 3 "does not exist" vpsctl pause 999
check "pause without an ID: a usage error (2)" sh -c "'$VPSCTL_BIN' --socket '$SOCK' pause 2>&1 | grep -q 'missing VPS ID'; [ \${PIPESTATUS[0]} = 2 ]"
check "a setting that does not enter the guest still goes" quiet vpsctl set 181 --onboot yes
expect_jq "the API route answers with the VPS (curl)" '.status == "paused" and .id == "181"' \
        curl -s --unix-socket "$SOCK" http://localhost/v1/vps/181

# A snapshot copies a paused VPS without thawing it.
check "a snapshot of the paused VPS" quiet vpsctl snapshot 181 --name p1
expect_eq "still paused after it" paused "$(vps_field 181 status)"
expect_eq "and frozen" 1 "$(cat "$CG/cgroup.freeze")"

# Paused across vpsd's restarts: a kill -9, then a re-exec.
kill_vpsd
start_vpsd
expect_eq "paused after a kill -9 of vpsd" paused "$(vps_field 181 status)"
check "the counter stands still" sh -c "! { a=\$(cat '$COUNTER'); sleep 0.3; [ \"\$(cat '$COUNTER')\" != \"\$a\" ]; }"
kill -HUP "$VPSD_PID"
for _ in $(seq 200); do [ "$(grep -c 'listening on' "$ROOT/vpsd.log")" -ge 3 ] && vpsctl list >/dev/null 2>&1 && break; sleep 0.05; done
expect_eq "paused after a SIGHUP re-exec" paused "$(vps_field 181 status)"
expect_eq "still frozen" 1 "$(cat "$CG/cgroup.freeze")"

before=$(counter)
expect_eq "unpause says so" "VPS 181 unpaused" "$(vpsctl unpause 181)"
expect_eq "running again" running "$(vps_field 181 status)"
check "the counter goes on from where it stood" advances 0.3
check "from where it stood, not from 0" test "$(counter)" -gt "$before"
expect_exit "unpause of a VPS that is not paused" 5 "is not paused" vpsctl unpause 181
check "exec works again" quiet vpsctl exec 181 -- true

# A freeze that no paused state asked for (a snapshot child killed with vpsd) is undone by
# the next vpsd; a paused state whose cgroup was thawed behind vpsd's back is frozen again.
kill_vpsd
echo 1 >"$CG/cgroup.freeze"
start_vpsd
expect_eq "a stray freeze is thawed at start-up" 0 "$(cat "$CG/cgroup.freeze")"
expect_eq "and the VPS runs" running "$(vps_field 181 status)"
quiet vpsctl pause 181
kill_vpsd
echo 0 >"$CG/cgroup.freeze"
start_vpsd
expect_eq "a paused VPS thawed behind vpsd's back is frozen again" 1 "$(cat "$CG/cgroup.freeze")"

# A start under way is starting in the metrics, not stopped: held there by a frozen cgroup
# parent (the start's setup process is born frozen into the VPS's cgroup below it).
vpsctl create 182 --ostemplate busybox >/dev/null
quiet vpsctl backup 182 --to "$T/b182.tar.zst"
echo 1 >"$CG_MOUNT$CG_PARENT/cgroup.freeze"
"$VPSCTL_BIN" --socket "$SOCK" start 182 >"$T/start182.out" 2>&1 &
starter=$!
for _ in $(seq 100); do [ "$(vps_field 182 status)" = starting ] && break; sleep 0.05; done
expect_eq "182 is starting while its setup is frozen" starting "$(vps_field 182 status)"
check "metrics: vps_state starting" metric 'vps_state{id="182",state="starting"} 1'
check "metrics: vps_up 0 while starting" metric 'vps_up{id="182"} 0'
# No other change while it starts (as the API's routes refuse them), restore --force and a
# backup included: a restore replaced the VPS's record, freed under its start (or a resume's
# criu job, both "starting" and stopped), which then wrote into freed memory.
expect_error "restore --force of a starting VPS: busy" "^vpsctl: VPS 182 is busy: it is starting; try again\$" \
        vpsctl restore "$T/b182.tar.zst" 182 --force
expect_error "a backup of it: busy" "^vpsctl: VPS 182 is busy: it is starting; try again\$" \
        vpsctl backup 182 --to "$T/b182b.tar.zst"
echo 0 >"$CG_MOUNT$CG_PARENT/cgroup.freeze"
check "the start ends once thawed" wait "$starter"
check "metrics: vps_state running" metric 'vps_state{id="182",state="running"} 1'
quiet vpsctl stop 182 --fast
# The starter (vpsd --starter, which clones each start's setup) holds its stdio and its socket
# to vpsd alone, nothing a setup (or a guest) could inherit; killed, vpsd starts another at
# once and starts go on through it.
sp=$(starter_pid)
expect_eq "the starter's fds: stdio and its socket" "0 1 2 3" \
        "$(ls "/proc/$sp/fd" 2>&1 | sort -n | tr '\n' ' ' | sed 's/ $//')"
kill -9 "$sp"
np=
for _ in $(seq 100); do np=$(starter_pid); [ -z "$np" ] || [ "$np" = "$sp" ] || break; sleep 0.05; done
check "a killed starter is replaced at once (PID $sp, then ${np:-none})" test -n "$np" -a "$np" != "$sp"
check "vpsd's log says so" grep -q "the starter exited: started again, PID $np" "$ROOT/vpsd.log"
check "a start after it" quiet vpsctl start 182
expect_eq "running" running "$(vps_field 182 status)"
quiet vpsctl stop 182 --fast

# Stop, restart and destroy --force of a paused VPS: thawed, then stopped cleanly.
pid=$(vps_field 181 pid)
t0=$(date +%s%N)
check "stop of a paused VPS" quiet vpsctl stop 181 --timeout 20
t1=$(date +%s%N)
expect_eq "stopped" stopped "$(vps_field 181 status)"
check "cleanly (its init halted, not killed at the timeout): $(( (t1 - t0) / 1000000 )) ms" \
        grep -q "VPS 181 stopped (clean" "$ROOT/vpsd.log"
check "its init is gone" proc_gone "$pid"
expect_exit "pause of a stopped VPS" 5 "is not running" vpsctl pause 181
quiet vpsctl start 181
quiet vpsctl pause 181
check "restart of a paused VPS" quiet vpsctl restart 181 --timeout 20
expect_eq "running, not paused" running "$(vps_field 181 status)"
quiet vpsctl pause 181
check "destroy --force of a paused VPS" quiet vpsctl destroy 181 --force
expect_exit "it is gone" 3 "does not exist" vpsctl status 181
check "its cgroup is gone" test ! -d "$CG"
finish
