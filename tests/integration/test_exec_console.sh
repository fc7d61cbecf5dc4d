#!/usr/bin/env bash
# exec passes stdio and the exit status through (and ends quietly under `| head -n1`); enter gets a real pty inside the VPS; the
# console is a shell on a pty logged to console.log; reboot and poweroff inside work.
. "$(dirname "$0")/lib.sh"
start_vpsd
make_running_vps 401

expect_eq "exit status passes through" 7 "$(vpsctl exec 401 -- sh -c 'exit 7' >/dev/null 2>&1; echo $?)"
expect_eq "killed by a signal is 128+N" 137 "$(vpsctl exec 401 -- sh -c 'kill -9 $$' >/dev/null 2>&1; echo $?)"
expect_eq "stdin passes through" "hello stdin" "$(echo 'hello stdin' | vpsctl exec 401 -- cat)"
expect_eq "stderr passes through" "to stderr" "$(vpsctl exec 401 -- sh -c 'echo to stderr >&2' 2>&1 >/dev/null)"
# `vpsctl exec ... | head -n1`: the command's stdout closes with vpsctl's, so it ends of
# SIGPIPE as in a local pipeline; vpsctl says nothing and exits with its status.
expect_eq "exec | head -n1: the line, the command's SIGPIPE status (141), no message" \
        "$(printf '1\n141\n')" "$(first_line "$VPSCTL_BIN" --socket "$SOCK" exec 401 -- seq 1 200000)"
expect_eq "a command deaf to SIGPIPE ends on EPIPE with its own status" "$(printf 'y\n3\n')" \
        "$(first_line "$VPSCTL_BIN" --socket "$SOCK" exec 401 -- sh -c 'trap "" PIPE; yes 2>/dev/null; exit 3')"
expect_eq "missing command is 127" 127 "$(vpsctl exec 401 -- /nonexistent >/dev/null 2>&1; echo $?)"
expect_eq "exec runs in the VPS's exec cgroup, beside the guest's (its namespace root)" "0::/../vpsd-exec" "$(vpsctl exec 401 -- cat /proc/self/cgroup | grep "^0::")"
# ls's own fds: 0-2 and the directory it reads (3); none of vpsctl's or vpsd's.
expect_eq "no host fd leaks into exec" "0 1 2 3" "$(vpsctl exec 401 -- ls /proc/self/fd | tr '\n' ' ' | sed 's/ $//')"
init_pidns=$(readlink "/proc/$(vps_field 401 pid)/ns/pid")
expect_eq "exec runs in the VPS's PID namespace (its init's, $init_pidns)" "$init_pidns" \
        "$(vpsctl exec 401 -- readlink /proc/self/ns/pid)"
check "which is not the host's" test "$init_pidns" != "$(readlink /proc/self/ns/pid)"

# enter: an interactive shell on a pty from the VPS's own devpts.
out=$(printf 'tty; echo inside-$((40+2)); echo uid-$(id -u); exit\n' | script -qec "'$VPSCTL_BIN' --socket '$SOCK' enter 401" /dev/null | tr -d '\r')
check "enter gets a pty inside" sh -c "printf '%s' \"$out\" | grep -q '^/dev/pts/[0-9]'"
check "enter runs a shell" sh -c "printf '%s' \"$out\" | grep -q inside-42"
check "as root inside" sh -c "printf '%s' \"$out\" | grep -q '^uid-0'"

# The console: a shell on the VPS's console, also written to console.log.
out=$(console_say 401 'echo console-$((6*7))' console-42)
check "console answers" grep -q console-42 <<<"$out"
check "console output is logged" grep -q console-42 "$ROOT/vps/401/console.log"
expect_error "console of a stopped VPS" "not running" sh -c "'$VPSCTL_BIN' --socket '$SOCK' create 402 --ostemplate busybox >/dev/null; '$VPSCTL_BIN' --socket '$SOCK' console 402 </dev/null"

# reboot inside restarts the VPS; poweroff inside stops it.
pid=$(vps_field 401 pid)
vpsctl exec 401 -- reboot
for _ in $(seq 300); do
        new=$(vps_field 401 pid)
        [ "$new" != "$pid" ] && [ "$new" != null ] && break
        sleep 0.1
done
expect_eq "reboot inside: running again" running "$(vps_field 401 status)"
check "reboot inside: a new init" test "$(vps_field 401 pid)" != "$pid"
# What the guest writes to its console just before it ends is in the log once it shows stopped
# (vpsd drains the console when it sees the init exit).
vpsctl exec 401 -- sh -c 'echo last-words-$((6*7)) >/dev/console; poweroff -f' || true # the exec ends with the VPS
for _ in $(seq 300); do [ "$(vps_field 401 status)" = stopped ] && break; sleep 0.1; done
expect_eq "poweroff inside stops it" stopped "$(vps_field 401 status)"
check "the console's last words are logged" grep -q last-words-42 "$ROOT/vps/401/console.log"
check "cgroup removed after poweroff" test ! -d "$CG_MOUNT$CG_PARENT/401"

# The API answers curl directly, as documented.
expect_jq "curl lists VPSes" 'length == 2' curl -sf --unix-socket "$SOCK" http://localhost/v1/vps
expect_jq "curl reads the version" '.api == "v1"' curl -sf --unix-socket "$SOCK" http://localhost/v1/version
expect_eq "the version names vpsd's PID, root, bridge, subnet and default netmode" \
        "$VPSD_PID $ROOT $BRIDGE $SUBNET bridged" \
        "$(curl -sf --unix-socket "$SOCK" http://localhost/v1/version | jq -r '"\(.pid) \(.root) \(.bridge) \(.subnet) \(.netmode)"')"
check "vpsctl version prints them" sh -c "'$VPSCTL_BIN' --socket '$SOCK' version | grep -qx 'vpsd PID $VPSD_PID, root $ROOT, bridge $BRIDGE on $SUBNET, default netmode bridged'"
expect_eq "socket is mode 0600" 600 "$(stat -c %a "$SOCK")"
finish
