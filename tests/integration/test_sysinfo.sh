#!/usr/bin/env bash
# sysinfo(2) inside a VPS is answered by vpsd (seccomp user notification): busybox's uptime
# and free, and procps's free, ask it rather than /proc. Uptime counts from the VPS's start,
# for processes under its init (the console shell) and for `vpsctl exec` commands, and keeps
# being answered across a kill -9 of vpsd (the console keeper holds the init's listener) and
# an upgrade in place (SIGHUP). The memory figures (--ram, --swap) are shown in the VM layer,
# where the VPS cgroup has a memory controller.
. "$(dirname "$0")/lib.sh"
start_vpsd
make_running_vps 621
host_up=$(awk '{ print int($1) }' /proc/uptime)
[ "$host_up" -ge 180 ] || { echo "SKIP: the host has been up only ${host_up}s; uptimes would not differ"; exit 77; }
# busybox uptime: "up N min" below an hour, "up H:MM" or "up N days" above.
vps_minutes() { sed -n 's/.* up \([0-9]*\) min.*/\1/p'; }
on_console() { printf '%s\n' "$1" | "$VPSCTL_BIN" --socket "$SOCK" console 621 --timeout 2 | tr -d '\r'; }

expect_eq "exec: uptime counts from the VPS's start" 0 "$(vpsctl exec 621 -- uptime | vps_minutes)"
expect_eq "exec: the host's uptime differs" "" "$(uptime | vps_minutes | grep -x 0 || true)"
expect_eq "under the VPS's init (its console shell)" 0 "$(on_console 'uptime' | grep ' up ' | tail -n1 | vps_minutes)"
check "exec: free answers" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 621 -- free | grep -q '^ *Mem:'"
check "vpsd holds the init's sysinfo listener" sh -c "ls -l /proc/$VPSD_PID/fd | grep -q 'seccomp notify'"

# A background process under exec outlives its vpsctl: still answered.
vpsctl exec 621 -- sh -c '(sleep 1; uptime > /tmp/late) >/dev/null 2>&1 &'
check "exec returned before its background command ran" sh -c "! '$VPSCTL_BIN' --socket '$SOCK' exec 621 -- test -e /tmp/late"
sleep 1.5
expect_eq "a command left running by exec is still answered" 0 "$(vpsctl exec 621 -- cat /tmp/late | vps_minutes)"

# kill -9: the keeper keeps the init's listener; the new vpsd serves it again.
kill_vpsd
start_vpsd
expect_eq "after kill -9 of vpsd the init's processes are answered" 0 "$(on_console 'uptime' | grep ' up ' | tail -n1 | vps_minutes)"
check "and the new vpsd holds the listener" sh -c "ls -l /proc/$VPSD_PID/fd | grep -q 'seccomp notify'"
# SIGHUP: re-exec in place with the listeners.
kill -HUP "$VPSD_PID"
for _ in $(seq 50); do vpsctl list >/dev/null 2>&1 && grep -q "re-exec of" "$ROOT/vpsd.log" && break; sleep 0.1; done
sleep 0.3
expect_eq "after a re-exec the init's processes are answered" 0 "$(on_console 'uptime' | grep ' up ' | tail -n1 | vps_minutes)"
expect_eq "and exec'd ones" 0 "$(vpsctl exec 621 -- uptime | vps_minutes)"
# Listeners go when their processes have: none left over after a stop.
vpsctl stop 621 --fast >/dev/null
sleep 0.2
expect_eq "no listener left after the VPS stopped" 0 "$(ls -l /proc/$VPSD_PID/fd | grep -c 'seccomp notify' || true)"
finish
