#!/usr/bin/env bash
# Issue 14, escape 1: a VPS's root must not reach the operator's terminal. A real pty runs a
# host shell into which this test types vpsctl exec (with and without -t, stdin a terminal or
# redirected) and enter, each running a guest program that tries to push "touch MARKER" into
# every terminal it can reach (TIOCSTI on fd 0, 1, 2 and a fresh /dev/tty, TIOCLINUX): no
# marker may appear once the shell has read on. Positive controls: the same program run by
# that shell on the host does create its marker; a pty the guest makes its own controlling
# terminal, where the kernel allows TIOCSTI, is refused with EPERM (the seccomp filter), also
# with the request's high bits set. Then the pipe relay that replaced the terminal (stdin EOF,
# status, stderr apart, binary and large data, no deadlock, signals, fds, session) and
# io_uring: refused by default, allowed with --features io_uring.
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-tty
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: needs python3 for the pty"; exit 77; }
start_vpsd
make_running_vps 701
put_probe() { vpsctl exec "$1" -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"; }
put_probe 701
expect_eq "the probe arrives whole through exec's stdin" "$(sha256sum <"$PROBE" | cut -d' ' -f1)" \
        "$(vpsctl exec 701 -- sha256sum /probe | cut -d' ' -f1)"

# The host side: an interactive bash on a pty of its own, driven line by line. "send TEXT"
# types TEXT and a newline; "expect REGEX" waits for it in what the pty shows; "mark NAME"
# starts a section of the transcript. The prompt is given by the environment, so it shows
# only as the prompt, never in the echo of what is typed.
cat >"$T/ptydrive.py" <<'EOF'
import os, pty, re, select, sys, time
log = open(sys.argv[1], "w")
pid, fd = pty.fork()
if pid == 0:
    env = {"PATH": os.environ["PATH"], "HOME": "/root", "TERM": "dumb", "PS1": "__ps__ "}
    os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
buf = ""
def expect(pattern, timeout):
    global buf
    end = time.time() + timeout
    while True:
        m = re.search(pattern, buf)
        if m:
            buf = buf[m.end():]
            return
        left = end - time.time()
        if left <= 0:
            log.write("\n=== TIMEOUT waiting for %r\n" % pattern)
            log.close()
            sys.exit(1)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 65536).decode("utf-8", "replace")
            except OSError:
                data = ""
            if not data:
                log.write("\n=== EOF waiting for %r\n" % pattern)
                log.close()
                sys.exit(1)
            log.write(data)
            log.flush()
            buf += data
for line in sys.stdin:
    cmd, _, arg = line.rstrip("\n").partition(" ")
    if cmd == "send":
        os.write(fd, (arg + "\n").encode())
    elif cmd == "expect":
        expect(arg, 120)
    elif cmd == "expect15":
        expect(arg, 15)
    elif cmd == "ctrlc":
        os.write(fd, b"\x03")
    elif cmd == "pause":
        time.sleep(float(arg))
    elif cmd == "mark":
        log.write("\n=== %s\n" % arg)
os.write(fd, b"exit\n")
os.waitpid(pid, 0)
EOF

V="$VPSCTL_BIN --socket $SOCK"
SYNC=0
# One case: CMD typed at the host shell (it runs the probe inside and returns to the prompt),
# then a line that shows the shell has read on past anything pushed into its input meanwhile.
run_case() {
        local name=$1 cmd=$2
        SYNC=$((SYNC + 1))
        printf 'mark %s\nsend %s\nexpect inject: done\nexpect __ps__ \n' "$name" "$cmd"
        printf 'send echo sync-$((%d+1000))\nexpect sync-%d\nexpect __ps__ \n' "$SYNC" $((SYNC + 1000))
}
inject() { echo "/probe inject 'touch $T/marker-$1'"; }
{
        echo "expect __ps__ "
        # Positive control: on the host, in the shell's own terminal, the push works.
        run_case host "$PROBE inject 'touch $T/marker-host'"
        run_case exec-tty "$V exec 701 -- $(inject exec-tty)"
        run_case exec-devnull "$V exec 701 -- $(inject exec-devnull) </dev/null"
        run_case exec-no-stdio "$V exec 701 -- $(inject exec-no-stdio) </dev/null >$T/no-stdio.out 2>&1; cat $T/no-stdio.out"
        run_case exec-t "$V exec -t 701 -- $(inject exec-t)"
        run_case exec-t-devnull "$V exec -t 701 -- $(inject exec-t-devnull) </dev/null"
        # enter: a guest shell on a guest pty; the probe runs from it, then exit.
        SYNC=$((SYNC + 1))
        printf 'mark enter\nsend %s\nsend echo in-$((40+2))\nexpect in-42\n' "$V enter 701"
        printf 'send %s\nexpect inject: done\nsend exit\nexpect __ps__ \n' "$(inject enter)"
        printf 'send echo sync-$((%d+1000))\nexpect sync-%d\nexpect __ps__ \n' "$SYNC" $((SYNC + 1000))
} >"$T/drive.in"
rc=0
timeout 600 python3 "$T/ptydrive.py" "$T/transcript" <"$T/drive.in" || rc=$?
tr -d '\r' <"$T/transcript" >"$T/t.txt"
expect_eq "the pty session ran through" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    /' "$T/t.txt"
section() { awk -v s="=== $1" '$0 == s { on = 1; next } /^=== / { on = 0 } on' "$T/t.txt"; }
# has NAME REGEX: the probe's output in that case's section matches.
has() { section "$1" | grep -qE -- "$2"; }
not_has() { ! has "$@"; }

check "positive control: the probe's push reaches the host shell it runs in" test -e "$T/marker-host"
check "positive control: it pushed through fd 0" has host '^fd 0: tty=yes TIOCSTI=ok'
for c in exec-tty exec-devnull exec-no-stdio exec-t exec-t-devnull enter; do
        check "$c: the probe ran in the VPS" has "$c" '^inject: done'
        check "$c: nothing reached the host shell" test ! -e "$T/marker-$c"
done
# The class, not just the ioctl: no fd of the guest's is a terminal of the host's.
for c in exec-tty exec-devnull; do
        for fd in 0 1 2; do
                check "$c: fd $fd is no terminal (a pipe)" has "$c" "^fd $fd: tty=no TIOCSTI=EPERM TIOCLINUX=EPERM"
        done
        check "$c: no controlling terminal to open" has "$c" '^/dev/tty: open=ENXIO'
done
check "exec-no-stdio: no controlling terminal either" grep -q '^/dev/tty: open=ENXIO' "$T/no-stdio.out"
# With a pty (-t, enter) the terminal is the guest's own, and TIOCSTI on it is refused.
for c in exec-t exec-t-devnull enter; do
        check "$c: fd 0 is the guest's pty, TIOCSTI refused" has "$c" '^fd 0: tty=yes TIOCSTI=EPERM TIOCLINUX=EPERM'
        check "$c: /dev/tty is it too, refused" has "$c" '^/dev/tty: tty=yes TIOCSTI=EPERM'
done

# The EPERM is the filter's: a pty the probe makes its own controlling terminal, where the
# kernel allows TIOCSTI (it does on the host, shown first), is refused inside.
# line_without PATTERN WORD TEXT: TEXT has a line matching PATTERN, and it lacks WORD.
line_without() {
        local l
        l=$(grep -m1 -e "$1" <<<"$3") || return 1
        [[ "$l" != *"$2"* ]]
}
out=$(script -qec "'$PROBE' own-pty" /dev/null | tr -d '\r')
printf '%s\n' "$out" | sed 's/^/    host: /'
check "host: own pty, TIOCSTI works and reads back" grep -q '^own-pty plain: TIOCSTI=ok read-back=yes' <<<"$out"
check "host: with the high bits set too (the kernel ignores them)" grep -q '^own-pty high-bits: TIOCSTI=ok read-back=yes' <<<"$out"
check "host: TIOCLINUX reaches the kernel (not EPERM)" line_without '^own-pty: TIOCLINUX=' EPERM "$out"
out=$(vpsctl exec 701 -- /probe own-pty 2>&1)
printf '%s\n' "$out" | sed 's/^/    vps: /'
check "vps: the pty is the probe's controlling terminal" grep -q '^own-pty: ctty=yes' <<<"$out"
check "vps: TIOCSTI refused with EPERM" grep -q '^own-pty plain: TIOCSTI=EPERM read-back=no' <<<"$out"
check "vps: with the high bits set too" grep -q '^own-pty high-bits: TIOCSTI=EPERM read-back=no' <<<"$out"
check "vps: TIOCLINUX refused with EPERM" grep -q '^own-pty: TIOCLINUX=EPERM' <<<"$out"

# Ctrl-C at the host terminal, exec without -t: vpsctl is in the terminal's foreground group,
# the command is not (its own session), so vpsctl forwards the SIGINT. A command that dies of
# it ends with 130; one that ignores it survives the first, and a second Ctrl-C kills it
# (its process group) and vpsctl exits 130.
cat >"$T/ctrlc.in" <<CTRLC
expect __ps__ 
mark ctrlc-dies
send $V exec 701 -- sh -c 'echo started-\$((0+1)); exec sleep 300'; echo rc=\$?
expect started-1
ctrlc
expect15 rc=[0-9]+
mark ctrlc-ignored
send $V exec 701 -- sh -c 'trap "" INT; echo \$\$ >/ign.pid; sleep 300 & echo \$! >/ign.sleep; echo started-\$((1+1)); wait; echo survived'; echo rc=\$?
expect started-2
ctrlc
pause 1.5
mark ctrlc-second
ctrlc
expect15 rc=[0-9]+
CTRLC
rc=0
timeout 300 python3 "$T/ptydrive.py" "$T/ctrlc.transcript" <"$T/ctrlc.in" || rc=$?
# The terminal echoes a Ctrl-C as "^C", on the line of what comes next.
tr -d '\r' <"$T/ctrlc.transcript" | sed 's/\^C//g' >"$T/t.txt"
expect_eq "the Ctrl-C session ran through" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    /' "$T/t.txt"
check "a command that dies of Ctrl-C: vpsctl exits 130" has ctrlc-dies '^rc=130$'
check "one that ignores it: still running after the first" not_has ctrlc-ignored '^(rc=[0-9]+|survived)$'
check "the second Ctrl-C ends vpsctl with 130" has ctrlc-second '^rc=130$'
check "and the command did not finish on its own" not_has ctrlc-second '^survived$'
alive_in() { "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- sh -c "kill -0 \$(cat $1)" </dev/null 2>/dev/null; }
dead_in() { ! alive_in "$1"; }
"$VPSCTL_BIN" --socket "$SOCK" exec 701 -- sh -c 'echo 1 >/init.pid' </dev/null
check "positive control: a live process (the init) is seen so" alive_in /init.pid
check "the command is killed" dead_in /ign.pid
for _ in $(seq 50); do alive_in /ign.sleep || break; sleep 0.1; done
check "and its process group (the sleep)" dead_in /ign.sleep

# The relay that stands in for the terminal.
vx() { "$VPSCTL_BIN" --socket "$SOCK" exec "$@"; }
expect_eq "stdin's EOF reaches the command" "abc" "$(printf abc | timeout 60 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- cat)"
expect_eq "wc sees the end of its input" 3 "$(printf 'a\nb\nc\n' | timeout 60 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- wc -l)"
expect_eq "exit status passes through" 7 "$(vx 701 -- sh -c 'exit 7' </dev/null >/dev/null 2>&1; echo $?)"
expect_eq "killed by a signal is 128+N" 137 "$(vx 701 -- sh -c 'kill -9 $$' </dev/null >/dev/null 2>&1; echo $?)"
vx 701 -- sh -c 'echo to-out; echo to-err >&2' >"$T/out" 2>"$T/err" </dev/null
expect_eq "stdout apart" "to-out" "$(cat "$T/out")"
expect_eq "stderr apart" "to-err" "$(cat "$T/err")"
head -c 8000000 /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
expect_eq "8 MB of binary data round-trip (cat < big | sha256sum)" "$want" \
        "$(timeout 120 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- cat <"$T/big" | sha256sum | cut -d' ' -f1)"
timeout 120 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- sh -c 'cat > /big' <"$T/big"
# A command that writes all its output before it reads any input, and one that fills stdout
# and stderr at once: a relay that blocks on one fd would deadlock.
expect_eq "output first, then input: no deadlock" "$want" \
        "$(timeout 120 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- sh -c 'cat /big; cat >/dev/null' <"$T/big" | sha256sum | cut -d' ' -f1)"
timeout 120 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- sh -c 'cat /big >&2 & cat /big; wait' </dev/null \
        2>"$T/big.err" | sha256sum | cut -d' ' -f1 >"$T/big.out.sum"
expect_eq "stdout and stderr full at once: stdout whole" "$want" "$(cat "$T/big.out.sum")"
expect_eq "and stderr whole" "$want" "$(sha256sum <"$T/big.err" | cut -d' ' -f1)"
# Nobody reads vpsctl's stdout any more: the command's next write fails as in a local
# pipeline (SIGPIPE, 128+13), rather than either of them waiting for ever.
expect_eq "stdout closed early: the command gets SIGPIPE" 141 \
        "$(timeout 60 "$VPSCTL_BIN" --socket "$SOCK" exec 701 -- cat /big </dev/null | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}")"
# A signal to vpsctl reaches the command (its process group), and vpsctl reports it.
vx 701 -- rm -f /sleeping </dev/null
"$VPSCTL_BIN" --socket "$SOCK" exec 701 -- sh -c 'trap "echo got-term; exit 3" TERM; sleep 300 & echo $! >/sleeping; wait' \
        </dev/null >"$T/sig.out" 2>&1 &
p=$!
for _ in $(seq 300); do vx 701 -- test -s /sleeping </dev/null && break; sleep 0.1; done
check "before: the command's background sleep runs" vx 701 -- sh -c 'kill -0 "$(cat /sleeping)"' </dev/null
kill -TERM "$p"
rc=0
wait "$p" || rc=$?
expect_eq "SIGTERM to vpsctl reaches the command" "got-term" "$(cat "$T/sig.out")"
expect_eq "and its status comes back" 3 "$rc"
gone() { ! vx 701 -- sh -c 'kill -0 "$(cat /sleeping)"' </dev/null 2>/dev/null; }
for _ in $(seq 50); do gone && break; sleep 0.1; done
check "its process group went with it (the sleep in the background too)" gone
# What the command holds: its pipes and nothing else of the host's (an fd 9 vpsctl inherited
# included), its own session, no controlling terminal.
expect_eq "stdio are three pipes" "pipe pipe pipe" \
        "$(vx 701 -- sh -c 'for f in 0 1 2; do readlink /proc/self/fd/$f; done' </dev/null 9<"$T/big" 2>&1 | sed 's/:.*//' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "no other fd" "0 1 2" \
        "$(vx 701 -- sh -c 'cd /proc/self/fd && for f in *; do [ -e "$f" ] && echo "$f"; done' </dev/null 9<"$T/big" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "its own session, no controlling terminal (pid = sid, tty_nr 0)" "same 0" \
        "$(vx 701 -- sh -c 'read -r pid comm st ppid pgrp sid tty rest </proc/self/stat; [ "$pid" = "$sid" ] && echo same $tty' </dev/null)"
out=$(vx -t 701 -- sh -c 'tty; read -r pid comm st ppid pgrp sid tty rest </proc/self/stat; [ "$pid" = "$sid" ] && [ "$tty" != 0 ] && echo session-ok; for f in 0 1 2; do readlink /proc/self/fd/$f; done; ls /proc/self/fd | wc -l' </dev/null | tr -d '\r')
printf '%s\n' "$out" | sed 's/^/    exec -t: /'
pts=$(sed -n 1p <<<"$out")
check "exec -t: a pty of the guest's devpts" grep -qE '^/dev/pts/[0-9]+$' <<<"$pts"
check "exec -t: its own session with that pty as controlling terminal" grep -qx session-ok <<<"$out"
expect_eq "exec -t: fds 0-2 are that pty" "$pts $pts $pts" "$(sed -n 3,5p <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "exec -t: no other fd (ls's own directory aside)" 4 "$(sed -n 6p <<<"$out")"

# io_uring: refused by default, allowed with --features io_uring.
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" != 0 ]; then
        echo "note: io_uring is disabled on this host (kernel.io_uring_disabled): its checks skipped"
else
        out=$("$PROBE" io_uring)
        check "host: io_uring works here (positive control)" grep -q '^io_uring_setup=ok' <<<"$out"
        out=$(vx 701 -- /probe io_uring </dev/null)
        printf '%s\n' "$out" | sed 's/^/    default: /'
        for s in setup enter register; do
                check "default VPS: io_uring_$s refused with EPERM" grep -q "^io_uring_$s=EPERM" <<<"$out"
        done
        vpsctl create 702 --ostemplate busybox --features io_uring >/dev/null
        expect_eq "--features io_uring is saved" '["io_uring"]' "$(jq -c .features "$ROOT/vps/702/config.json")"
        vpsctl start 702 >/dev/null
        put_probe 702
        out=$(vx 702 -- /probe io_uring </dev/null)
        printf '%s\n' "$out" | sed 's/^/    io_uring: /'
        check "with the feature: io_uring_setup works" grep -q '^io_uring_setup=ok' <<<"$out"
        check "and io_uring_enter" grep -q '^io_uring_enter=ok' <<<"$out"
        check "and io_uring_register reaches the kernel" line_without '^io_uring_register=' EPERM "$out"
        out=$(vx 702 -- /probe own-pty </dev/null 2>&1)
        check "with the feature, TIOCSTI stays refused" grep -q '^own-pty plain: TIOCSTI=EPERM' <<<"$out"
fi
finish
