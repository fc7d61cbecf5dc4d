#!/usr/bin/env bash
# Exit statuses a script can tell apart (vpsctl(8), EXIT STATUS), -j on the commands that
# change something (the resulting object on stdout), errors as one JSON line on stderr with
# -j, and `vpsctl help [COMMAND]`.
. "$(dirname "$0")/lib.sh"

# expect_exit DESCRIPTION STATUS COMMAND...: the exit status, and with -j in the command a
# JSON error on stderr carrying the same status.
expect_exit() {
        local what=$1 want=$2; shift 2
        local rc=0 err
        err=$("$@" 2>&1 >/dev/null) || rc=$?
        if [ "$rc" != "$want" ]; then fail "$what: exit $rc, expected $want ($err)"; return; fi
        if [[ " $* " == *" -j "* ]]; then
                local jexit
                jexit=$(jq -er .exit <<<"$err" 2>/dev/null) || { fail "$what: stderr is not JSON: $err"; return; }
                expect_eq "$what: JSON error says exit $want" "$want" "$jexit"
                check "$what: JSON error has a message and errno" jq -e '(.error | length > 0) and (.errno > 0)' <<<"$err"
        else
                pass "$what (exit $rc)"
        fi
}

expect_exit "no vpsd at the socket" 8 vpsctl list
expect_exit "no vpsd at the socket, -j" 8 vpsctl list -j
start_vpsd
vpsctl template build busybox >/dev/null

out=$(vpsctl create 401 --ostemplate busybox -j)
expect_eq "create -j prints the new VPS" "401 stopped" "$(jq -er '"\(.id) \(.status)"' <<<"$out")"
out=$(vpsctl start 401 -j)
expect_eq "start -j prints it running" "401 running" "$(jq -er '"\(.id) \(.status)"' <<<"$out")"
check "start -j has the init's PID" jq -e '.pid > 1' <<<"$out"
out=$(vpsctl set 401 --hostname jhost -j)
expect_eq "set -j prints the VPS as saved" "jhost" "$(jq -er .hostname <<<"$out")"
out=$(vpsctl restart 401 --fast -j)
expect_eq "restart -j prints it running" "running" "$(jq -er .status <<<"$out")"

expect_exit "usage: unknown option" 2 vpsctl start 401 --frobnicate
expect_exit "usage: unknown option, -j" 2 vpsctl start 401 --frobnicate -j
expect_exit "bad value: an invalid ID" 2 vpsctl start 0201 -j
expect_exit "bad value: a size vpsd refuses" 2 vpsctl set 401 --ram lots -j
expect_exit "no such VPS" 3 vpsctl start 999
expect_exit "no such VPS, -j" 3 vpsctl status 999 -j
expect_exit "no such template" 3 vpsctl create 402 --ostemplate nosuch -j
expect_exit "already exists" 4 vpsctl create 401 --ostemplate busybox -j
expect_exit "wrong state: already running" 5 vpsctl start 401 -j
expect_exit "wrong state: destroy while running" 5 vpsctl destroy 401 -j
expect_exit "permission: a host user who is not root" 6 \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$VPSCTL_BIN" --socket "$SOCK" list -j

out=$(vpsctl stop 401 -j)
expect_eq "stop -j prints it stopped" "stopped" "$(jq -er .status <<<"$out")"
expect_exit "wrong state: not running" 5 vpsctl stop 401 -j
out=$(vpsctl destroy 401 -j)
expect_eq "destroy -j" "401 true" "$(jq -er '"\(.id) \(.destroyed)"' <<<"$out")"
out=$(vpsctl template remove busybox -j)
expect_eq "template remove -j" "busybox true" "$(jq -er '"\(.name) \(.removed)"' <<<"$out")"
out=$(vpsctl template build busybox -j)
expect_eq "template build -j prints the template, no progress" "busybox" "$(jq -er .name <<<"$out")"

expect_eq "vpsctl help start is start --help" "$(vpsctl start --help)" "$(vpsctl help start)"
expect_eq "vpsctl help is --help" "$(vpsctl --help)" "$(vpsctl help)"
expect_exit "vpsctl help of an unknown command" 2 vpsctl help frobnicate
check "--help lists the exit statuses" sh -c "'$VPSCTL_BIN' --help | grep -q '3 no such VPS'"
finish
