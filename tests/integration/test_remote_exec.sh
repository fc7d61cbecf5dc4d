#!/usr/bin/env bash
# exec through the remote API (POST /v1/vps/ID/exec, vps-exec; issue 19): a customer's token
# with the exec verb runs commands in its VPS over vpsd's TLS: output, stdin, stderr, the exit
# status, -t, signals forwarded, `| head -n1` (quiet, the command's SIGPIPE status); refused without the verb (403), for another VPS (404), into
# a stopped or paused VPS (as a local exec is), past the per-VPS limit; and the command holds
# no fd of the host's (only its pipes, or the guest's pty).
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
free_port
start_vpsd --listen "127.0.0.1:$PORT"
URL=https://127.0.0.1:$PORT
make_running_vps 651
vpsctl create 652 --ostemplate busybox >/dev/null
make_running_vps 653

export XDG_CONFIG_HOME=$T/config
unset VPSCTL_REMOTE
FP=$("$VPSD_BIN" --root "$ROOT" --fingerprint)
add_remote() { printf '%s\n' "$2" | "$VPSCTL_BIN" remote add "$1" "$URL" --token - --fingerprint "$FP" >/dev/null; }
TOK=$(vpsctl token create --name cust --vps 651,652 --allow status,exec)
add_remote cust "$TOK"
add_remote noexec "$(vpsctl token create --name noexec --vps 651 --allow status,console)"
r() { "$VPSCTL_BIN" --remote cust "$@"; }
expect_exit() { # DESCRIPTION CODE PATTERN CMD...
        local d=$1 code=$2 pat=$3 out rc=0
        shift 3
        out=$("$@" 2>&1 </dev/null) || rc=$?
        if [ "$rc" = "$code" ] && grep -qE -- "$pat" <<<"$out"; then pass "$d"
        else fail "$d: exit $rc (want $code), output: $out"; fi
}

expect_eq "output through vpsd" hello-vps651 "$(r exec 651 -- sh -c 'echo hello-$(hostname)')"
expect_eq "stdin to the command" abc "$(printf abc | r exec 651 -- cat)"
expect_eq "a large stdin whole" 300000 "$(head -c 300000 /dev/zero | r exec 651 -- wc -c | tr -d ' ')"
expect_eq "stderr apart from stdout" err "$(r exec 651 -- sh -c 'echo out; echo err >&2' 2>&1 >/dev/null)"
expect_eq "the command's exit status is vpsctl's" 7 "$(r exec 651 -- sh -c 'exit 7' </dev/null; echo $?)"
expect_eq "a command not found: 127" 127 "$(r exec 651 -- nonesuch-cmd </dev/null 2>/dev/null; echo $?)"
# `| head -n1`: vpsctl used to die of SIGPIPE; now vpsd closes the command's stdout ('P'),
# the command ends as in a local pipeline, and its status is vpsctl's, with no message.
expect_eq "exec | head -n1: the line, the command's SIGPIPE status (141), no message" \
        "$(printf '1\n141\n')" "$(first_line "$VPSCTL_BIN" --remote cust exec 651 -- seq 1 200000)"
expect_eq "a command deaf to SIGPIPE ends on EPIPE with its own status" "$(printf 'y\n3\n')" \
        "$(first_line "$VPSCTL_BIN" --remote cust exec 651 -- sh -c 'trap "" PIPE; yes 2>/dev/null; exit 3')"
# gone_within_20s WORDS: yes once no process of VPS 651 shows WORDS in ps, or no after 20 s
# (and the ps on stderr).
gone_within_20s() {
        for _ in $(seq 100); do
                vpsctl exec 651 -- ps </dev/null | grep -qw -- "$1" || { echo yes; return; }
                sleep 0.2
        done
        echo no
        vpsctl exec 651 -- ps </dev/null >&2
}
# With -t vpsd reads the pty on: vpsctl leaves at once, as ssh -t does, with
# SIGPIPE's status, quietly; vpsd hangs the command up as for a client gone.
expect_eq "exec -t yes | head -n1: ends, 141, no message" "$(printf 'y\n141\n')" \
        "$(first_line "$VPSCTL_BIN" --remote cust exec -t 651 -- yes)"
expect_eq "and that yes is gone within seconds" yes "$(gone_within_20s yes)"
expect_eq "VPSCTL_REMOTE works as --remote" ok "$(VPSCTL_REMOTE=cust "$VPSCTL_BIN" exec 651 -- echo ok </dev/null)"
check "-t: a pty of the guest's" grep -qE '^/dev/pts/[0-9]+' <<<"$(r exec -t 651 -- tty </dev/null | tr -d '\r')"
# From a terminal: its size goes with the request (and the terminal is put back as it was).
if command -v script >/dev/null; then
        # (script may type a ^@ at its input's end, which the terminal echoes: numbers only)
        out=$(script -qec "stty cols 97 rows 33; '$VPSCTL_BIN' --remote cust exec -t 651 -- stty size; stty size; stty -a | grep -q ' icanon' && echo cooked" /dev/null </dev/null | tr -d '\r\0')
        expect_eq "-t from a terminal: its size, then it is restored" "33 97 33 97" "$(grep -oE '[0-9]+' <<<"$out" | xargs)"
        check "and the terminal is no longer raw" grep -q cooked <<<"$out"
fi

# The host-TTY property: the command holds its pipes (or the guest's pty), nothing else.
# (ls's own: its stdio, and the directory it lists)
fdlist() { sed -n 's/.* \([0-9][0-9]*\) -> \(.*\)/\1 \2/p' | tr -d '\r'; }
fds=$(r exec 651 -- ls -l /proc/self/fd </dev/null | fdlist)
check "the command's fds are its three pipes" test "$(grep -c ' pipe:' <<<"$fds")" -ge 3
check "and nothing else of the host's ($fds)" not grep -qvE ' pipe:|^[0-9]+ /proc/' <<<"$fds"
fds=$(r exec -t 651 -- ls -l /proc/self/fd </dev/null | fdlist)
check "with -t: the guest's pty ($fds)" test "$(grep -c ' /dev/pts/' <<<"$fds")" -ge 3
check "with -t: and nothing else ($fds)" not grep -qvE ' /dev/pts/[0-9]+$|^[0-9]+ /proc/' <<<"$fds"

# Refusals, with the local exec's messages and exit codes.
expect_exit "a token without exec: refused (403, exit 6)" 6 "." "$VPSCTL_BIN" --remote noexec exec 651 -- true
expect_exit "another customer's VPS: no such VPS (404, exit 3)" 3 "653" r exec 653 -- true
expect_exit "a stopped VPS: refused as locally" 5 "VPS 652 is not running" r exec 652 -- true
expect_exit "the local exec says the same" 5 "VPS 652 is not running" vpsctl exec 652 -- true
vpsctl pause 651 >/dev/null
expect_exit "a paused VPS: refused as locally" 5 "VPS 651 is paused: unpause it" r exec 651 -- true
vpsctl unpause 651 >/dev/null
out=$(curl -sk -w ' %{http_code}' -X POST "$URL/v1/vps/651/exec" -H "Authorization: Bearer $TOK" -H 'Upgrade: vps-exec' -d '{"argv": []}' | tr -d '\n')
check "an empty argv: 400 naming it ($out)" grep -q "'argv' must be a non-empty array.* 400$" <<<"$out"
out=$(curl -sk -w ' %{http_code}' -X POST "$URL/v1/vps/651/exec" -H "Authorization: Bearer $TOK" -d '{"argv": ["true"]}' | tr -d '\n')
check "no Upgrade header: 400 ($out)" grep -q "vps-exec.* 400$" <<<"$out"

# Signals: SIGTERM forwarded (the command's trap runs), SIGINT (Ctrl-C) too: 130.
set -m
"$VPSCTL_BIN" --remote cust exec 651 -- sh -c 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done' >"$T/term.out" </dev/null &
pid=$!
for _ in $(seq 100); do grep -q ready "$T/term.out" && break; sleep 0.05; done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
expect_eq "SIGTERM reaches the command's trap" "3 got-term" "$rc $(tail -n1 "$T/term.out")"
"$VPSCTL_BIN" --remote cust exec 651 -- sh -c 'echo ready; exec sleep 30' >"$T/int.out" </dev/null &
pid=$!
for _ in $(seq 100); do grep -q ready "$T/int.out" && break; sleep 0.05; done
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
expect_eq "Ctrl-C (SIGINT) ends it: 130" 130 "$rc"
check "and the command is gone in the VPS" not sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 651 -- ps | grep -q 'sleep 30'"
# A client that vanishes: its command is hung up on, then killed (2 s), not left running.
"$VPSCTL_BIN" --remote cust exec 651 -- sh -c 'trap "" HUP; echo ready; exec sleep 40' >"$T/gone.out" </dev/null &
pid=$!
for _ in $(seq 100); do grep -q ready "$T/gone.out" && break; sleep 0.05; done
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
expect_eq "the command of a client killed is gone within seconds" yes "$(gone_within_20s 'sleep 40')"
set +m
expect_eq "enter through the remote" 1 "$(printf 'echo in-$((6*7))\nexit\n' | r enter 651 2>&1 | tr -d '\r' | grep -cx 'in-42')"

# At most 8 at once into one VPS.
EIGHT=()
for i in $(seq 8); do "$VPSCTL_BIN" --remote cust exec 651 -- sleep 30 </dev/null & EIGHT+=($!); done
# (all eight running in the VPS first: seconds on a loaded machine)
sleepers() { # the VPS's processes running "sleep 30", counted from the host
        local ns p n=0
        ns=$(readlink "/proc/$(vps_field 651 pid)/ns/pid")
        for p in /proc/[0-9]*; do
                [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] &&
                        [ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" = "sleep 30 " ] && n=$((n + 1))
        done
        echo "$n"
}
eight_up() { [ "$(sleepers)" = 8 ]; }
check "eight commands run at once ($(eventually 20 eight_up; sleepers))" eight_up
expect_exit "a ninth at once is refused" 5 "already runs 8 commands" r exec 651 -- true
kill "${EIGHT[@]}"
wait "${EIGHT[@]}" 2>/dev/null || true
no_sleepers() { [ "$(sleepers)" = 0 ]; }
check "their clients killed (SIGTERM, sent on to the commands), the eight are gone" eventually 20 no_sleepers
expect_eq "then it works again" ok "$(r exec 651 -- echo ok </dev/null)"

# A re-exec of vpsd (SIGHUP) while a command runs: its TLS is vpsd's (libmicrohttpd relays
# the upgraded connection), so the connection ends: the client is told, the command is hung
# up on and gone, and the new image reaps its child (no zombie of vpsd's left).
r exec 651 -- sh -c 'echo ready; exec sleep 31' >"$T/across.out" 2>"$T/across.err" </dev/null &
pid=$!
for _ in $(seq 100); do grep -q ready "$T/across.out" && break; sleep 0.05; done
n0=$(grep -c "re-exec of" "$ROOT/vpsd.log" || true)
kill -HUP "$VPSD_PID"
for _ in $(seq 600); do [ "$(grep -c "re-exec of" "$ROOT/vpsd.log")" -gt "$n0" ] && vpsctl list >/dev/null 2>&1 && break; sleep 0.05; done
check "vpsd re-executed while the command ran" test "$(grep -c "re-exec of" "$ROOT/vpsd.log")" -gt "$n0"
rc=0; wait "$pid" || rc=$?
check "the client is told its connection ended" sh -c "test $rc != 0 && grep -q 'connection to vpsd ended' '$T/across.err'"
gone=no
for _ in $(seq 50); do
        vpsctl exec 651 -- ps </dev/null | grep -q 'sleep 31' || { gone=yes; break; }
        sleep 0.2
done
expect_eq "the command is hung up on and gone" yes "$gone"
zombies=1
for _ in $(seq 50); do
        zombies=$(ps --ppid "$VPSD_PID" -o stat= | grep -c '^Z' || true)
        [ "$zombies" = 0 ] && break
        sleep 0.1
done
expect_eq "its child reaped by the new image (no zombie of vpsd's)" 0 "$zombies"
finish
