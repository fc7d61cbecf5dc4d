#!/usr/bin/env bash
# sysinfo(2) inside a VPS is answered by vpsd (seccomp user notification): busybox's uptime
# and free, and procps's free, ask it rather than /proc. Uptime counts from the VPS's start,
# for processes under its init (the console shell) and for `vpsctl exec` commands, and keeps
# being answered across a kill -9 of vpsd (the console keeper holds the init's listener) and
# an upgrade in place (SIGHUP). The memory figures (--ram, --swap) are shown in the VM layer,
# where the VPS cgroup has a memory controller.
. "$(dirname "$0")/lib.sh"
start_vpsd
vpsctl template build busybox >/dev/null
S0=$(date +%s)
make_running_vps 621
S1=$(date +%s)
host_up=$(awk '{ print int($1) }' /proc/uptime)
[ "$host_up" -ge 180 ] || { echo "SKIP: the host has been up only ${host_up}s; uptimes would not differ"; exit 77; }
# busybox uptime: "up N min" below an hour, "up H:MM" or "up N days" above.
vps_minutes() { sed -n 's/.* up \([0-9]*\) min.*/\1/p'; }
# The minutes the VPS's uptime can show when read between host times R0 and R1 (date +%s):
# counted from its start, somewhere between S0 and S1 (whole seconds, so a second more either
# way). Mostly "0 0"; on a slow run the VPS may be a minute old or more, and that is right.
vps_minutes_range() {
        local lo=$(( $1 - S1 - 1 )) hi=$(( $2 + 1 - S0 ))
        [ "$lo" -ge 0 ] || lo=0
        echo "$((lo / 60)) $((hi / 60))"
}
# expect_vps_uptime DESCRIPTION COMMAND...: the last uptime line COMMAND prints says "up N min"
# with N the VPS's own age in minutes (the host's, up 3 min or more, would say otherwise).
expect_vps_uptime() {
        local what=$1; shift
        local r0 r1 out m lo hi
        r0=$(date +%s)
        out=$("$@" | grep ' up ' | tail -n1 || true)
        r1=$(date +%s)
        read -r lo hi <<<"$(vps_minutes_range "$r0" "$r1")"
        m=$(vps_minutes <<<"$out")
        if [ -n "$m" ] && [ "$m" -ge "$lo" ] && [ "$m" -le "$hi" ]; then
                pass "$what (up $m min)"
        else
                fail "$what: '$out', not up $lo to $hi min"
        fi
}
on_console() { console_say 621 "$1" ' up '; }
uptime_of_621() { vpsctl exec 621 -- uptime; }

expect_vps_uptime "exec: uptime counts from the VPS's start" uptime_of_621
read -r lo hi <<<"$(vps_minutes_range "$(date +%s)" "$(date +%s)")"
host_min=$(uptime | vps_minutes)
check "exec: the host's uptime differs (${host_min:-not in minutes}, the VPS's $lo to $hi min)" \
        test -z "$host_min" -o "${host_min:-0}" -lt "$lo" -o "${host_min:-0}" -gt "$hi"
expect_vps_uptime "under the VPS's init (its console shell)" on_console uptime
check "exec: free answers" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 621 -- free | grep -q '^ *Mem:'"
check "vpsd holds the init's sysinfo listener" sh -c "ls -l /proc/$VPSD_PID/fd | grep -q 'seccomp notify'"

# A background process under exec outlives its vpsctl: still answered. It writes a while
# after exec returned (under another name first, so the file is whole once it shows).
r0=$(date +%s)
vpsctl exec 621 -- sh -c '(sleep 5; uptime >/tmp/late.new && mv /tmp/late.new /tmp/late) >/dev/null 2>&1 &'
exec_false "exec returned before its background command ran" 621 test -e /tmp/late
for _ in $(seq 60); do vpsctl exec 621 -- test -e /tmp/late 2>/dev/null && break; sleep 0.5; done
late=$(vpsctl exec 621 -- cat /tmp/late 2>/dev/null || true)
read -r lo hi <<<"$(vps_minutes_range "$r0" "$(date +%s)")"
m=$(vps_minutes <<<"$late")
check "a command left running by exec is still answered ('$late', VPS up $lo to $hi min)" \
        test -n "$m" -a "${m:-0}" -ge "$lo" -a "${m:-0}" -le "$hi"

# kill -9: the keeper keeps the init's listener; the new vpsd serves it again.
kill_vpsd
start_vpsd
expect_vps_uptime "after kill -9 of vpsd the init's processes are answered" on_console uptime
check "and the new vpsd holds the listener" sh -c "ls -l /proc/$VPSD_PID/fd | grep -q 'seccomp notify'"
# SIGHUP: re-exec in place with the listeners.
kill -HUP "$VPSD_PID"
for _ in $(seq 300); do vpsctl list >/dev/null 2>&1 && grep -q "re-exec of" "$ROOT/vpsd.log" && break; sleep 0.1; done
check "vpsd re-executed and answers" sh -c "grep -q 're-exec of' '$ROOT/vpsd.log' && '$VPSCTL_BIN' --socket '$SOCK' list >/dev/null"
expect_vps_uptime "after a re-exec the init's processes are answered" on_console uptime
expect_vps_uptime "and exec'd ones" uptime_of_621
# Listeners go when their processes have: none left over after a stop.
vpsctl stop 621 --fast >/dev/null
listeners() { ls -l "/proc/$VPSD_PID/fd" | grep -c 'seccomp notify' || true; }
for _ in $(seq 100); do [ "$(listeners)" = 0 ] && break; sleep 0.1; done
expect_eq "no listener left after the VPS stopped" 0 "$(listeners)"
finish
