#!/usr/bin/env bash
# A guest must not hold vpsd's loop by wedging its own processes in an execve (issue 14). A
# process that execs while it holds a close-on-exec file of a FUSE mount waits, inside the
# execve, for its FLUSH; a daemon that never answers it keeps the process there for good,
# holding its exec locks. On such a process the kernel makes every ptrace-mode check wait
# (Linux 6.18: /proc/PID/stat, wchan, ns/N, fd/N) and so do syscall, stack, io, environ and
# mem; status and cgroup do not. VPS 731 (--features fuse) makes its init do that: its
# /sbin/init mounts a FUSE file system whose FLUSH is never answered, opens a file of it and
# execs. vpsd read the init's /proc/PID/stat (its start time, to re-adopt it after a restart or
# re-exec; vpsctl exec checked it too) and, for the view of a VPS and a stop, its
# /proc/PID/syscall and mem (does the init take its halt signal yet?). Now list, status, exec,
# a stop, a re-exec and a restart of vpsd all go on, the init is re-adopted (the same process,
# from its pidfd's identity), and a neighbour is unaffected. A forward refused for a host port
# in use names the host process that holds it: that search (readlinks of every process's fds)
# no longer waits on the held init either.
NET_TEST=1
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/net_helpers.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-fuse
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
[ -e /dev/fuse ] || { echo "SKIP: this host has no /dev/fuse"; exit 77; }
printf 'guest_timeout = 2\n' >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 731 --ostemplate busybox --features fuse >/dev/null
vpsctl create 732 --ostemplate busybox --ipadd "$NETPFX.32" >/dev/null
vpsctl start 731 >/dev/null
vpsctl start 732 >/dev/null
quiet() { "$@" >/dev/null 2>&1; }
v() { timeout -k 1 "$1" "$VPSCTL_BIN" --socket "$SOCK" "${@:2}"; }
init_of() { jq -r .pid "$(state_file "$1")" 2>/dev/null; }
name_of() { awk '$1 == "Name:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

# vpsd killed (-9) and started again, in the foreground so that its PID is known even when it
# never answers (the code before: its start-up waited on the held init). [JQ]: applied to
# 731's state in between. UP=1 once it answers.
restart_vpsd() {
        kill -9 "$VPSD_PID" 2>/dev/null || true
        while ! proc_gone "$VPSD_PID"; do sleep 0.05; done
        local st
        st=$(state_file 731)
        [ -z "${1:-}" ] || { jq "$1" "$st" >"$st.x" && mv "$st.x" "$st"; }
        "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
                --bridge "$BRIDGE" --subnet "$SUBNET" >>"$T/vpsd.out" 2>&1 &
        VPSD_PID=$!
        UP=0
        for _ in $(seq 100); do
                v 1 version >/dev/null 2>&1 && { UP=1; return; }
                sleep 0.1
        done
}

# The guest's own init, from now on: it wedges itself in an execve.
vpsctl exec 731 -- sh -c 'cat > /probe-fuse && chmod 755 /probe-fuse' <"$PROBE"
vpsctl exec 731 -- sh -c 'rm -f /sbin/init && printf "%s\n" "#!/bin/sh" \
        "mkdir -p /mnt/hold && /probe-fuse --noflush /mnt/hold >/dev/null" \
        "exec /probe-fuse --exec-hold /mnt/hold/f /bin/sh" >/sbin/init && chmod 755 /sbin/init'
check "731 stops" quiet v 20 stop 731 --fast
check "and starts with that init" quiet v 10 start 731
pid=$(init_of 731)
# The script execs the probe (its name then), which execs /bin/sh and stays in that execve.
for _ in $(seq 100); do [ "$(name_of "$pid")" = probe-fuse ] && break; sleep 0.05; done
sleep 0.5
check "its init ($pid) is held in its execve ($(name_of "$pid"))" test "$(name_of "$pid")" = probe-fuse
# Positive control: a read of its /proc/PID/stat waits (in the background: it cannot be killed
# until the VPS's FUSE daemon dies, when the test's clean-up kills the VPS).
( cat "/proc/$pid/stat"; touch "$T/stat.read" ) >/dev/null 2>&1 &
sleep 1
check "a read of the init's /proc/PID/stat waits" test ! -e "$T/stat.read"

check "list answers" quiet v 3 list
expect_eq "status of 731 answers: running" running "$(v 3 status 731 -j 2>/dev/null | jq -r .status)"
# pid_ino (what vpsctl exec checks its pidfd against, when the kernel has pidfs) is the
# inode number of a pidfd of the init.
ino=$(v 3 status 731 -j 2>/dev/null | jq -r '.pid_ino // 0') || ino=0
if [ "$ino" != 0 ]; then
        expect_eq "the API's pid_ino of 731 is its init's pidfd inode" "$ino" \
                "$(python3 -c 'import os, sys; print(os.fstat(os.pidfd_open(int(sys.argv[1]))).st_ino)' "$pid")"
fi
expect_eq "vpsctl exec into 731 works" ok "$(v 5 exec 731 -- echo ok 2>/dev/null)"
expect_eq "and into the neighbour" ok "$(v 5 exec 732 -- echo ok 2>/dev/null)"
HP=$(free_port)
busybox nc -ll -p "$HP" -e true </dev/null >/dev/null 2>&1 &
LPID=$!
TEST_PIDS=$LPID
listening "$HP" ss -ltn || fail "the test's host listener on $HP did not come up"
expect_error "a forward of a host port in use is refused, naming its process" \
        "host port tcp $HP is in use on the host: busybox \\(pid $LPID\\) listens on it" \
        v 5 set 732 --forward "tcp:$HP:80"

# A re-exec of vpsd (SIGHUP) re-adopts the init.
kill -HUP "$VPSD_PID"
sleep 0.5
check "after a re-exec, list answers" quiet v 5 list
expect_eq "731 is still running, its init re-adopted" "running $pid" \
        "$(v 3 status 731 -j 2>/dev/null | jq -r '"\(.status) \(.pid)"')"
expect_eq "732 too" running "$(v 3 status 732 -j 2>/dev/null | jq -r .status)"

# A restart of vpsd (kill -9, then a new one) re-adopts it too.
restart_vpsd
check "a new vpsd starts and answers within 10 s" test "$UP" = 1
expect_eq "731 is re-adopted, the same init" "running $pid" \
        "$(v 3 status 731 -j 2>/dev/null | jq -r '"\(.status) \(.pid)"')"
expect_eq "732 too" running "$(v 3 status 732 -j 2>/dev/null | jq -r .status)"
expect_eq "exec into 731 works" ok "$(v 5 exec 731 -- echo ok 2>/dev/null)"
# A state without the init's pidfd identity (an older vpsd's): its start time cannot be read,
# the start-up waits for it half a second, then knows the init as PID 1 of a pid namespace in
# the VPS's cgroup.
restart_vpsd 'del(.pidfd_ino)'
check "a vpsd starts on a state without pidfd_ino and answers within 10 s" test "$UP" = 1
expect_eq "and re-adopts 731's held init" "running $pid" \
        "$(v 3 status 731 -j 2>/dev/null | jq -r '"\(.status) \(.pid)"')"

# A stop: the init cannot take its halt signal, so it is killed at the timeout.
check "a stop of 731 ends (killed at its 2 s timeout)" quiet v 10 stop 731 --timeout 2
expect_eq "731 is stopped" stopped "$(v 3 status 731 -j 2>/dev/null | jq -r .status)"
check "the neighbour still answers" test "$(v 5 exec 732 -- echo ok 2>/dev/null)" = ok
check "vpsd is still running" kill -0 "$VPSD_PID"
finish
