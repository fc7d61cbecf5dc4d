#!/usr/bin/env bash
# Issue 14, escape 2: another host user talks to vpsd's local sockets. Every Unix socket that
# vpsd and its console keeper listen on (found at run time from their fds and /proc/net/unix,
# so a new one is covered without changing this test) is tried as nobody, as nobody with
# CAP_DAC_OVERRIDE (past the directory and file modes, to reach the peer check itself), and as
# root: the first two get nothing back, root gets answers (the probe really speaks each
# protocol). Nobody plants a console with the keeper's P. A listener bound by another user
# first (the old abstract names, an API socket in a directory others can write to) is not
# trusted by vpsd, vpsctl or vpsd --shutdown-all.
. "$(dirname "$0")/../integration/lib.sh"
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
PY=/usr/bin/python3 # root's may live under /root, out of nobody's reach
[ -x "$PY" ] || { echo "SKIP: no $PY"; exit 77; }
PROBE=$T/sockprobe.py
install -m 0755 "$(dirname "$0")/sockprobe.py" "$PROBE"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
as_nobody() { $NOBODY "$@"; }
as_nobody_dac() {
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+dac_override \
                --ambient-caps=+dac_override "$@"
}

# Before vpsd starts: another user binds the abstract names an older vpsd used for this root
# (its keeper and sysinfo sockets) and logs whatever comes.
mkdir -p "$ROOT"
RID=$(printf '%x-%x' "$(stat -c %d "$ROOT")" "$(stat -c %i "$ROOT")")
SPOOFS=$T/spoofs
mkdir -m 0777 "$SPOOFS"
for name in keeper sysinfo; do
        # Not through a function, so that $! is the spoofer itself (killed on exit); its
        # output away from ctest's pipe, which it would otherwise hold open.
        $NOBODY "$PY" "$PROBE" spoof "@vpsd-$name-$RID" "$SPOOFS/$name.log" </dev/null >/dev/null 2>&1 &
        TEST_PIDS="${TEST_PIDS:-} $!"
done
for _ in $(seq 100); do
        [ -s "$SPOOFS/keeper.log" ] && [ -s "$SPOOFS/sysinfo.log" ] && break
        sleep 0.05
done
check "the spoofers listen on @vpsd-keeper-$RID and @vpsd-sysinfo-$RID" \
        grep -q listening "$SPOOFS/keeper.log" "$SPOOFS/sysinfo.log"

start_vpsd
make_running_vps 301
INIT=$(vps_field 301 pid)
vpsctl exec 301 -- true
sleep 2.5 # the spoofers give a silent connection 2 s
for name in keeper sysinfo; do
        got=$(grep -E 'connection: ([1-9][0-9]* bytes|[0-9]+ bytes, [1-9][0-9]* fds)' "$SPOOFS/$name.log" || true)
        expect_eq "a listener bound first at @vpsd-$name-$RID gets nothing from vpsd or vpsctl" "" "$got"
done

# The keeper: a vpsd binary running --console-keeper with a socket named after this root.
keeper_pids() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(readlink "$p/exe" 2>/dev/null)" = "$(readlink -f "$VPSD_BIN")" ] || continue
                tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- '--console-keeper' || continue
                listening "${p#/proc/}" | grep -q -- "$RID" && echo "${p#/proc/}"
        done
        return 0
}
# listening PID...: "TYPE ADDRESS" of each Unix socket these processes listen on (or, for a
# datagram socket, are bound to), from /proc/net/unix.
listening() {
        local inodes
        inodes=$(for p in "$@"; do ls -l "/proc/$p/fd" 2>/dev/null; done |
                sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | sort -u | tr '\n' ' ')
        awk -v inodes=" $inodes" '
                NR > 1 && index(inodes, " " $7 " ") && $8 != "" {
                        acc = $4 == "00010000" # __SO_ACCEPTCON: listening
                        type = $5 == "0001" ? "stream" : $5 == "0005" ? "seqpacket" : $5 == "0002" ? "dgram" : "other"
                        if (acc || type == "dgram") print type, $8
                }' /proc/net/unix | sort -u
}
KEEPER=$(keeper_pids | head -n1)
check "this root's console keeper runs (PID ${KEEPER:-none})" test -n "$KEEPER"
SOCKETS=$(listening "$VPSD_PID" $KEEPER)
echo "sockets of vpsd ($VPSD_PID) and its keeper (${KEEPER:-none}):"
sed 's/^/  /' <<<"$SOCKETS"
check "the API socket is among them" grep -qx "stream $SOCK" <<<"$SOCKETS"
check "and the keeper's and a sysinfo socket: at least 3" test "$(wc -l <<<"$SOCKETS")" -ge 3
expect_eq "no abstract socket (any user of the network namespace could bind its name first)" \
        "" "$(awk '$2 ~ /^@/' <<<"$SOCKETS")"

while read -r type addr; do
        [ -n "$type" ] || continue
        out=$("$PY" "$PROBE" probe "$type" "$addr")
        case $out in
        answered* | open*) pass "root is served at $addr: $out" ;;
        *) fail "root is not served at $addr (so the probe proves nothing there): $out" ;;
        esac
        for who in as_nobody as_nobody_dac; do
                out=$($who "$PY" "$PROBE" probe "$type" "$addr")
                case $out in
                refused* | closed*) pass "$who gets nothing at $addr: $out" ;;
                *) fail "$who at $addr: $out" ;;
                esac
        done
done <<<"$SOCKETS"

# The keeper's P from another user: the VPS's console must stay its own.
KADDR=$(awk '$1 == "seqpacket" && $2 ~ /keeper/ { print $2; exit }' <<<"$SOCKETS")
check "the keeper's socket is known (${KADDR:-none})" test -n "$KADDR"
if [ -n "$KADDR" ]; then
        for who in as_nobody as_nobody_dac; do
                $who "$PY" "$PROBE" plant "$KADDR" 301 >/dev/null || true
        done
        # Positive control: root's P and G work (the same message format vpsd sends).
        "$PY" "$PROBE" plant "$KADDR" 999 >/dev/null
        held=$("$PY" "$PROBE" keeper-get "$KADDR")
        echo "the keeper holds (ID, PID of the pidfd, fds):"; sed 's/^/  /' <<<"$held"
        expect_eq "root's P is taken (a console for 999 with the test shell's pidfd)" \
                "999 $$ 3" "$(awk '$1 == 999' <<<"$held")"
        check "VPS 301's console is still its init's (PID $INIT)" \
                grep -qE "^301 $INIT [34]\$" <<<"$held"
        "$PY" "$PROBE" drop "$KADDR" 999
fi
check "the console still reaches VPS 301's shell" \
        grep -q hello-301 <<<"$(console_say 301 'echo hello-$((300+1))' hello-301)"

# An API socket in a directory another user can write to: that user's listener there gets
# no request from vpsctl, nor from vpsd --shutdown-all.
API_SPOOF=$SPOOFS/vpsd.sock
$NOBODY "$PY" "$PROBE" spoof "$API_SPOOF" "$SPOOFS/api.log" </dev/null >/dev/null 2>&1 &
TEST_PIDS="${TEST_PIDS:-} $!"
for _ in $(seq 100); do [ -S "$API_SPOOF" ] && break; sleep 0.05; done
check "nobody listens at $API_SPOOF" test -S "$API_SPOOF"
expect_error "vpsctl refuses a listener that is not root's" "not vpsd's" \
        "$VPSCTL_BIN" --socket "$API_SPOOF" set 301 --userpasswd root:secret-301
expect_error "vpsd --shutdown-all refuses it too" "not vpsd's" \
        "$VPSD_BIN" --socket "$API_SPOOF" --shutdown-all --timeout 1
eventually 10 grep -q '^connection' "$SPOOFS/api.log" || true
check "the spoofed API socket was reached" grep -q '^connection' "$SPOOFS/api.log"
expect_eq "and got not a byte" "" "$(grep -E 'connection: [1-9]' "$SPOOFS/api.log" || true)"
# vpsd itself will not put its API socket where another user could put one first.
expect_error "vpsd refuses an API socket directory others may write to" "writable by root only" \
        timeout 10 "$VPSD_BIN" --root "$T/root2" --socket "$SPOOFS/api2.sock" --cgroup-parent "$CG_PARENT-2"
check "and has made nothing (no root)" test ! -e "$T/root2"
finish
