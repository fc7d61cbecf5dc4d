#!/usr/bin/env bash
# Crash-safe state: vpsd killed -9 at random moments while it rewrites config.json (set) and
# state.json (start/stop), ROUNDS times (default 30; 200 with VPS_TEST_FULL=1). After each
# restart every config parses and holds a value that was asked for, no temporary file is
# left, and the VPSes' own files (upper/) were never touched by the recovery.
. "$(dirname "$0")/lib.sh"
ROUNDS=${CRASH_ROUNDS:-$([ "${VPS_TEST_FULL:-0}" = 1 ] && echo 200 || echo 30)}
start_vpsd
make_running_vps 961
vpsctl create 962 --ostemplate busybox >/dev/null
vpsctl exec 961 -- sh -c 'echo precious > /root/data'
# The guest's own files (its /root); /etc/hostname and /etc/hosts are vpsd's to rewrite.
data_sum() { (cd "$ROOT/vps/961/upper/root" && find . -type f -print0 | sort -z | xargs -0 md5sum) | md5sum; }
sum0=$(data_sum)
bad=0
# The writer runs in a process group of its own (job control on while it starts), so that
# the vpsctl it may just have forked goes with it: none may reach the restarted vpsd (its
# half-done set would leave a temporary file the checks below would see).
writer_gone() {
        local p
        for p in $(pgrep -g "$1" 2>/dev/null); do proc_gone "$p" || return 1; done
}
for round in $(seq 1 "$ROUNDS"); do
        set -m
        ( for n in $(seq 1 50); do
                "$VPSCTL_BIN" --socket "$SOCK" set 962 --hostname "h$round-$n" --nameserver "10.1.$round.$n" >/dev/null 2>&1
                "$VPSCTL_BIN" --socket "$SOCK" set 961 --hostname "r$round-$n" >/dev/null 2>&1
                "$VPSCTL_BIN" --socket "$SOCK" start 962 >/dev/null 2>&1 || "$VPSCTL_BIN" --socket "$SOCK" stop 962 --fast >/dev/null 2>&1
        done ) &
        writer=$!
        set +m
        sleep "0.0$(( RANDOM % 90 + 10 ))"
        kill_vpsd
        kill -KILL -- "-$writer" 2>/dev/null || true
        wait "$writer" 2>/dev/null || true
        gone_by=$((SECONDS + 30))
        until writer_gone "$writer"; do
                [ "$SECONDS" -lt "$gone_by" ] || { fail "round $round: the writer's processes outlived SIGKILL for 30 s"; bad=1; break; }
                sleep 0.05
        done
        start_vpsd
        for id in 961 962; do
                h=$(jq -r .hostname "$ROOT/vps/$id/config.json" 2>/dev/null) ||
                        { fail "round $round: $id's config.json does not parse"; bad=1; continue; }
                case $h in "vps$id" | r*-* | h*-*) ;; *) fail "round $round: $id's hostname is '$h'"; bad=1 ;; esac
        done
        left=$(find "$ROOT/vps" -mindepth 2 -maxdepth 2 -name '.*' | head -n3)
        [ -z "$left" ] || { fail "round $round: temporary files left: $left"; bad=1; }
        [ "$(vpsctl list -a -j | jq length)" = 2 ] || { fail "round $round: vpsd lost a VPS"; bad=1; }
        [ "$bad" = 0 ] || break
done
[ "$bad" = 0 ] && pass "$ROUNDS kills during writes: configs whole, nothing left over"
expect_eq "961 still running" running "$(vps_field 961 status)"
expect_eq "the VPS's own files untouched" "$sum0" "$(data_sum)"
expect_eq "its data readable inside" precious "$(vpsctl exec 961 -- cat /root/data)"
finish
