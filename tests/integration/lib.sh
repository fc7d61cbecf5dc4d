# Shared by the integration tests: each test starts its own vpsd with its own state root,
# socket and cgroup parent, and removes all of it on exit (its VPSes are stopped by PID).
set -euo pipefail

BUILD=${VPS_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
VPSD_BIN=$BUILD/bin/vpsd
VPSCTL_BIN=$BUILD/bin/vpsctl

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$VPSD_BIN" ] && [ -x "$VPSCTL_BIN" ] || { echo "FAIL: build first ($BUILD)"; exit 1; }

T=$(mktemp -d /var/tmp/vpstest.XXXXXX)
chmod 0711 "$T"
ROOT=$T/root
SOCK=$T/vpsd.sock
CG_PARENT=/vpstest-$$-$RANDOM
CG_MOUNT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
VPSD_PID=
FAILS=0
# Networked tests get their own bridge and subnet (set NET_TEST=1 before sourcing).
# 10.N/16 must be free on this host (another bridge, a quickstart's vpsbr0 on 10.88/16).
HOST_ROUTES=$(ip -4 route show table all 2>/dev/null || true)
# A lock per N, held for the test's life, keeps tests run side by side (ctest -j, several
# checkouts) off each other's bridge and subnet before either vpsd has claimed them.
mkdir -p /run/lock/vpstest
for _ in $(seq 50); do
        N=$(( ($$ + RANDOM) % 200 + 20 ))
        grep -qE "(^| )10\.$N\." <<<"$HOST_ROUTES" && continue
        exec {NET_LOCK_FD}>"/run/lock/vpstest/net-$N"
        flock -n "$NET_LOCK_FD" && break
        exec {NET_LOCK_FD}>&-
done
BRIDGE=vpsbt$N
SUBNET=10.$N.0.0/24
NETPFX=10.$N.0
# The host-side interface names vpsd gives a VPS on this (non-default) bridge: "v" TAG ID ".0"
# (ifb: "i" ...), TAG 4 hex digits of an FNV-1a hash of the bridge's name (runtime/net/network.c).
fnv1a() {
        local s=$1 h=2166136261 i c
        for ((i = 0; i < ${#s}; i++)); do
                printf -v c '%d' "'${s:i:1}"
                h=$(( ((h ^ c) * 16777619) & 0xffffffff ))
        done
        echo "$h"
}
NET_TAG=$(printf '%04x' $(( $(fnv1a "$BRIDGE") & 0xffff )))
veth_of() { if [ ${#1} -le 8 ]; then echo "${2:-v}$NET_TAG$1.0"; else printf '%s%s.%08x\n' "${2:-v}" "$NET_TAG" "$(fnv1a "$1")"; fi; }
ifb_of() { veth_of "$1" i; }
# nft_elem "FAMILY TABLE" SET ID [ADDR]: whether VPS ID's port (with ADDR: the pair port . ADDR)
# is an element of vpsd's set or map SET (they are keyed by port name).
nft_elem() { { nft list set $1 "$2" 2>/dev/null || nft list map $1 "$2" 2>/dev/null; } |
        grep -qwF "\"$(veth_of "$3")\"${4:+ . $4}"; }
# not COMMAND...: succeeds when COMMAND fails (a check's script cannot start with "!").
not() { ! "$@"; }
# For the scripts of check (bash -c).
export NET_TAG
export -f fnv1a veth_of nft_elem not

vpsctl() { "$VPSCTL_BIN" --socket "$SOCK" "$@"; }

# start_vpsd [OPTION...]: this test's vpsd, with more options of vpsd's if given.
start_vpsd() {
        "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
                --bridge "$BRIDGE" --subnet "$SUBNET" "$@" --daemon
        # Its PID as it says it (pgrep reads every process's cmdline, and blocks on one held
        # in a FUSE fault by another test on this host); pgrep where the API does not answer.
        VPSD_PID=$(vpsctl version -j 2>/dev/null | jq -r '.server.pid // empty' || true)
        [ -n "$VPSD_PID" ] || VPSD_PID=$(pgrep -f -x "$VPSD_BIN --root $ROOT --socket $SOCK --cgroup-parent $CG_PARENT --bridge $BRIDGE --subnet $SUBNET${*:+ $*} --daemon" | head -n1)
        [ -n "$VPSD_PID" ] || fail "vpsd did not start"
}

# free_port: a TCP port that nothing listens on now, into PORT (for a TLS listener).
free_port() {
        local _
        for _ in $(seq 50); do
                PORT=$((20000 + RANDOM % 40000))
                ss -Htln "sport = :$PORT" | grep -q . || return 0
        done
        fail "no free port found"
}

kill_vpsd() {
        [ -n "$VPSD_PID" ] && kill -9 "$VPSD_PID" 2>/dev/null || true
        while [ -n "$VPSD_PID" ] && kill -0 "$VPSD_PID" 2>/dev/null; do sleep 0.05; done
        VPSD_PID=
}

# The run state of this root's VPSes (ID.json while running): vpsd keeps it on /run, in a
# directory named after the root's device and inode.
# run_state_dir [ROOT]: of this test's root unless another is named.
run_state_dir() {
        local root=${1:-$ROOT}
        [ -d "$root" ] || return 0
        printf '/run/vps/state-%x-%x\n' "$(stat -c %d "$root")" "$(stat -c %i "$root")"
}
state_file() { echo "$(run_state_dir)/$1.json"; }

# stop_daemon PID CG_PARENT: the VPSes in a vpsd's cgroup parent killed, the vpsd stopped
# (SIGTERM; SIGKILL after 30 s, as a sanitizer's exit on a loaded machine is slow: it must not
# outlive its root nor hold the names the next test reuses), then the cgroup tree removed.
stop_daemon() {
        local pid=$1 cg=$CG_MOUNT$2 k
        for k in "$cg"/*/cgroup.kill; do
                [ -f "$k" ] && echo 1 >"$k" 2>/dev/null || true
        done
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 300); do proc_gone "$pid" && break; sleep 0.1; done
                proc_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
                until proc_gone "$pid"; do sleep 0.05; done
        fi
        [ ! -d "$cg" ] || find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}

# stop_node PID ROOT CG_PARENT BRIDGE: another vpsd a test started (a fleet's node) stopped,
# and what it leaves on the host removed: its run state, meminfo mount, bridge and nft tables.
stop_node() {
        local run
        run=$(run_state_dir "$2")
        stop_daemon "$1" "$3"
        [ -z "$run" ] || rm -rf "$run" || true
        if [ -n "$run" ] && mountpoint -q "${run/state-/meminfo-}"; then
                umount -l "${run/state-/meminfo-}" || true
        fi
        [ -z "$run" ] || rmdir "${run/state-/meminfo-}" 2>/dev/null || true
        nft delete table ip "vpsd_$4" 2>/dev/null || true
        nft delete table bridge "vpsd_$4" 2>/dev/null || true
        ip link del "$4" 2>/dev/null || true
}

# check_node_logs RC NODE...: returns RC, or 1 when a sanitizer reported in a node's log
# ($T/root-NODE/vpsd.log); when failing, shows each node's last cluster lines.
check_node_logs() {
        local rc=$1 n
        shift
        for n; do
                if grep -qE 'Sanitizer|runtime error:' "$T/root-$n/vpsd.log" 2>/dev/null; then
                        echo "FAIL: sanitizer report in node $n's vpsd.log"
                        grep -A30 -E 'Sanitizer|runtime error:' "$T/root-$n/vpsd.log" | head -60
                        [ "$rc" != 0 ] || rc=1
                fi
        done
        if [ "$rc" != 0 ]; then
                for n; do echo "--- node $n"; grep cluster "$T/root-$n/vpsd.log" | tail -n 15; done
        fi
        return "$rc"
}

# cleanup [RC]: on exit (the trap); a test with an EXIT trap of its own passes its status.
cleanup() {
        local rc=$?
        [ $# -eq 0 ] || rc=$1
        local rundir
        rundir=$(run_state_dir)
        # Stop every VPS this test made: the init PIDs are in their state files.
        for st in ${rundir:+"$rundir"/*.json}; do
                # vpsd may remove it meanwhile (the VPS stopping): then there is nothing to stop.
                pidcg=$(jq -r '"\(.pid) \(.cgroup)"' "$st" 2>/dev/null) || continue
                read -r pid cg <<<"$pidcg"
                [ -n "$pid" ] && [ -n "$cg" ] || continue
                [ -f "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
                kill -9 "$pid" 2>/dev/null || true
        done
        # And whatever else runs in this test's cgroups (a start cut short by a failure).
        stop_daemon "$VPSD_PID" "$CG_PARENT"
        # Under ASan/UBSan a report in the daemon's log fails the test.
        if grep -qE 'Sanitizer|runtime error:' "$ROOT/vpsd.log" 2>/dev/null; then
                echo "FAIL: sanitizer report in vpsd.log"; grep -A30 -E 'Sanitizer|runtime error:' "$ROOT/vpsd.log" | head -60
                [ "$rc" = 0 ] && rc=1
        fi
        if [ "$rc" != 0 ] && [ -f "$ROOT/vpsd.log" ]; then
                echo "--- vpsd.log"; tail -n 30 "$ROOT/vpsd.log"
        fi
        # Filesystems the test mounted (a storage root on a loop image): lazily, as VPS mount
        # namespaces may still hold them; the loop device goes with the last reference.
        # Helpers a test started (an LXCFS), by PID.
        for pid in ${TEST_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
        for mnt in ${TEST_MOUNTS:-}; do umount -l "$mnt" 2>/dev/null || true; done
        # The bridge and nftables tables vpsd made for this test's subnet.
        nft delete table ip "vpsd_$BRIDGE" 2>/dev/null || true
        nft delete table bridge "vpsd_$BRIDGE" 2>/dev/null || true
        nft delete table inet "vpsr_$BRIDGE" 2>/dev/null || true
        ip link del "$BRIDGE" 2>/dev/null || true
        for ns in ${TEST_NETNS:-}; do ip netns del "$ns" 2>/dev/null || true; done
        # Host settings a test changed through vpsd ("path=value" to put back).
        for kv in ${TEST_SYSCTL_RESTORE:-}; do echo "${kv#*=}" >"${kv%%=*}" 2>/dev/null || true; done
        # The run state first, while the root still exists: its name is the root's device and
        # inode, which a test started meanwhile (ctest -j) may get once the root is removed.
        [ -z "$rundir" ] || rm -rf "$rundir"
        # vpsd's tmpfs of /proc/meminfo views (lxcfs.h), beside the run state.
        if [ -n "$rundir" ] && mountpoint -q "${rundir/state-/meminfo-}"; then
                umount -l "${rundir/state-/meminfo-}" 2>/dev/null || true
        fi
        [ -z "$rundir" ] || rmdir "${rundir/state-/meminfo-}" 2>/dev/null || true
        rm -rf "$T"
        exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds. Under pipefail: a pipeline
# fails when any command in it does (a listing that failed is not an empty one). "sh -c SCRIPT"
# runs in bash for that (dash has no pipefail), its stdin /dev/null, with grep and head that
# read a piped input to the end (grep -q stops at the first match, head after its lines: the
# writer's SIGPIPE would count as a failure). Not a negated SCRIPT ("! a | grep -q b"): there
# pipefail would pass a listing that failed after printing a match. A negative check on a VPS
# goes through exec_denied, exec_false or exec_lacks below instead.
CHECK_BASH_PRELUDE='grep() { command grep "$@"; local r=$?; [ ! -p /dev/stdin ] || cat >/dev/null; return $r; }
head() { command head "$@"; local r=$?; [ ! -p /dev/stdin ] || cat >/dev/null; return $r; }
'
check() {
        local what=$1; shift
        local -
        set -o pipefail
        if [ "$#" -ge 3 ] && [ "$1" = sh ] && [ "$2" = -c ] && [ "${3#!}" = "$3" ]; then
                local script=$CHECK_BASH_PRELUDE$3
                shift 3
                if bash -o pipefail -c "$script" "$@" </dev/null; then pass "$what"; else fail "$what"; fi
                return
        fi
        if "$@"; then pass "$what"; else fail "$what"; fi
}
# eventually SECONDS COMMAND...: COMMAND succeeds, tried every 0.1 s for up to SECONDS (what a
# loaded machine makes late is waited for, not slept for and hoped). Used as `check "..."
# eventually 5 test ...`, or to wait before a check of its own.
eventually() {
        local end=$(( $(date +%s%N) + ${1%.*} * 1000000000 )); shift
        until "$@"; do
                [ "$(date +%s%N)" -lt "$end" ] || return 1
                sleep 0.1
        done
}
# expect_jq DESCRIPTION FILTER COMMAND...: COMMAND succeeds and prints JSON of which FILTER is
# true. jq -e alone is no check at the end of a pipeline: jq 1.6 exits 0 on empty input.
expect_jq() {
        local what=$1 filter=$2; shift 2
        local out rc=0
        out=$("$@") || rc=$?
        if [ "$rc" != 0 ]; then fail "$what: '$*' exited $rc"; return; fi
        if [ -z "$out" ]; then fail "$what: '$*' printed nothing"; return; fi
        if jq -e "$filter" >/dev/null <<<"$out"; then pass "$what"; else
                fail "$what: not true: $filter, of: $(head -c 300 <<<"$out")"
        fi
}
expect_eq() { # expect_eq DESCRIPTION EXPECTED ACTUAL
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
# expect_error DESCRIPTION PATTERN COMMAND...: non-zero exit, one line on stderr matching
expect_error() {
        local what=$1 pat=$2; shift 2
        local out rc=0
        out=$("$@" 2>&1 >/dev/null) || rc=$?
        if [ "$rc" = 0 ]; then fail "$what: exit 0"; return; fi
        if [ "$(printf '%s\n' "$out" | wc -l)" != 1 ]; then fail "$what: not one line: $out"; return; fi
        if ! printf '%s' "$out" | grep -qE -- "$pat"; then fail "$what: '$out' !~ /$pat/"; return; fi
        pass "$what ($out)"
}

# Negative checks inside a VPS: "the guest cannot X" must not pass because the exec never ran
# (a stopped VPS, a wrong socket, vpsctl aborting under a sanitizer). vps_try runs COMMAND in
# VPS ID behind a marker: the marker (naming a mount namespace other than this shell's) and
# COMMAND's exit status must come back, with vpsctl itself exiting 0 and saying nothing.
# vps_try ID COMMAND...: TRY_OUT is COMMAND's output (stdout and stderr), TRY_RC its status;
# returns 1 with TRY_OUT saying why when COMMAND did not run in the VPS.
vps_try() {
        local id=$1; shift
        local raw rc=0 first last err
        raw=$(vpsctl exec "$id" -- sh -c 'echo "vps-exec-ran $(readlink /proc/self/ns/mnt)"
                "$@" 2>&1; r=$?; echo; echo "vps-exec-rc=$r"' vps-exec "$@" 2>"$T/vps_try.err") || rc=$?
        err=$(head -c 300 "$T/vps_try.err")
        first=$(head -n1 <<<"$raw")
        last=$(tail -n1 <<<"$raw")
        TRY_OUT=$(sed '1d;$d' <<<"$raw")
        TRY_RC=${last#vps-exec-rc=}
        if [ "$rc" != 0 ] || [ -n "$err" ]; then
                TRY_OUT="the exec did not run: vpsctl exited $rc${err:+, saying: $err}"
        elif [[ ! $first =~ ^vps-exec-ran\ mnt:\[[0-9]+\]$ ]] || [ "${first#vps-exec-ran }" = "$(readlink /proc/self/ns/mnt)" ]; then
                TRY_OUT="the exec did not run in the VPS (its first line: '$first')"
        elif [[ ! $last =~ ^vps-exec-rc=[0-9]+$ ]]; then
                TRY_OUT="the command did not finish (its last line: '$last')"
        else
                return 0
        fi
        return 1
}
# exec_denied DESCRIPTION ID PATTERN COMMAND...: COMMAND ran in VPS ID and failed with an error
# matching PATTERN (ERE: "Permission denied", "Read-only file system"...), not another one.
exec_denied() {
        local what=$1 id=$2 pat=$3; shift 3
        if ! vps_try "$id" "$@"; then fail "$what: $TRY_OUT"
        elif [ "$TRY_RC" = 0 ]; then fail "$what: '$*' succeeded in VPS $id${TRY_OUT:+: $TRY_OUT}"
        elif ! grep -qE -- "$pat" <<<"$TRY_OUT"; then fail "$what: '$*' failed ($TRY_RC) but not with /$pat/: $TRY_OUT"
        else pass "$what ($(head -n1 <<<"$TRY_OUT"))"; fi
}
# exec_false DESCRIPTION ID COMMAND...: COMMAND (test -e, grep -q) ran in VPS ID and answered
# no: exit status 1 and nothing said (2 and a message is grep's error, not its answer).
exec_false() {
        local what=$1 id=$2; shift 2
        if ! vps_try "$id" "$@"; then fail "$what: $TRY_OUT"
        elif [ "$TRY_RC" != 1 ] || [ -n "$TRY_OUT" ]; then fail "$what: '$*' in VPS $id: exit $TRY_RC${TRY_OUT:+: $TRY_OUT}"
        else pass "$what"; fi
}
# exec_lacks DESCRIPTION ID PATTERN COMMAND...: COMMAND ran in VPS ID, succeeded and printed
# something, none of it matching PATTERN (ERE).
exec_lacks() {
        local what=$1 id=$2 pat=$3; shift 3
        if ! vps_try "$id" "$@"; then fail "$what: $TRY_OUT"
        elif [ "$TRY_RC" != 0 ] || [ -z "$TRY_OUT" ]; then fail "$what: '$*' in VPS $id: exit $TRY_RC, output '$TRY_OUT'"
        elif grep -E -- "$pat" <<<"$TRY_OUT" >"$T/vps_try.match"; then fail "$what: /$pat/ in: $(head -c 300 "$T/vps_try.match")"
        else pass "$what"; fi
}
# The number a guest's counter loop last wrote to FILE, or 0: its `echo $i >FILE` truncates
# before it writes, so a read can fall between the two (an empty read is read again).
count_of() {
        local v
        for _ in $(seq 20); do
                v=$(cat "$1" 2>/dev/null) || true
                [ -n "$v" ] && { echo "$v"; return 0; }
                sleep 0.05
        done
        echo 0
}

finish() {
        if [ "$FAILS" != 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
        echo "all checks passed"
}

# A process is gone when it no longer exists or is a zombie nobody reaped yet (after vpsd
# died, a VPS init is re-parented to whatever reaper the host has).
# strace on vpsd while a command runs: trace_vpsd FILE SYSCALLS, then untrace_vpsd. Each
# process is let go at its exec (-b execve): following the init past it would trace the
# guest's own children, and strace 6.1 can lose one that busybox init vforks in the new pid
# namespace, leaving it in a ptrace stop and strace deaf to SIGTERM.
# vpsd's starter (vpsd --starter, its child) is traced too: it clones each start's setup.
starter_pid() {
        local p
        for p in $(pgrep -P "$VPSD_PID" 2>/dev/null); do
                [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "vpsd --starter " ] && echo "$p"
        done
        return 0
}
trace_vpsd() {
        local starter _ p seized
        starter=$(starter_pid)
        strace -f -qq -b execve -p "$VPSD_PID" ${starter:+-p "$starter"} -e trace="$2" -o "$1" &
        TRACER=$!
        for _ in $(seq 200); do # until strace has seized vpsd (and the starter)
                seized=1
                for p in "$VPSD_PID" $starter; do
                        case $(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) in
                        "" | 0) seized=0 ;;
                        esac
                done
                [ "$seized" = 0 ] || return 0
                sleep 0.05
        done
        fail "strace did not attach to vpsd"
}
untrace_vpsd() {
        local _
        kill "$TRACER" 2>/dev/null || true
        for _ in $(seq 100); do proc_gone "$TRACER" && break; sleep 0.05; done
        kill -9 "$TRACER" 2>/dev/null || true # its tracees go free when it dies
        wait "$TRACER" 2>/dev/null || true
}
proc_gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# first_line CMD...: CMD run as `CMD | head -n1` runs it (its stdout closed after the first
# line), stdin empty; prints that line, CMD's exit status ("signal N" when a signal ended it,
# "timeout" after 30 s) and what it wrote on stderr, on three lines.
first_line() {
        python3 - "$@" <<'PY'
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
line = p.stdout.readline().decode(errors="replace").rstrip("\r\n")
p.stdout.close()
try:
    rc = p.wait(timeout=30)
    status = str(rc) if rc >= 0 else "signal %d" % -rc
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
    status = "timeout"
err = p.stderr.read().decode(errors="replace").strip()
print(line)
print(status)
print(err)
PY
}

# ext4_root SIZE: the state root on a loop-mounted ext4 of SIZE (truncate's units), no blocks
# reserved; unmounted at the end (TEST_MOUNTS).
ext4_root() {
        mkdir -p "$ROOT"
        TEST_MOUNTS=$ROOT
        truncate -s "$1" "$T/root.img"
        mkfs.ext4 -q -F -m 0 "$T/root.img"
        mount -o loop "$T/root.img" "$ROOT"
}

# sample_answers ID: one `vpsctl list` and one `vpsctl status ID`, timed (the loop's answers
# while something else runs); SAMPLE_MAX is the slowest pair so far, in seconds, SAMPLE_N
# their number.
SAMPLE_MAX=0 SAMPLE_N=0
sample_answers() {
        local a b
        SAMPLE_N=$((SAMPLE_N + 1))
        a=$(date +%s.%N)
        "$VPSCTL_BIN" --socket "$SOCK" list >/dev/null || fail "list failed"
        "$VPSCTL_BIN" --socket "$SOCK" status "$1" >/dev/null || fail "status $1 failed"
        b=$(date +%s.%N)
        SAMPLE_MAX=$(awk -v m="$SAMPLE_MAX" -v a="$a" -v b="$b" 'BEGIN { d = b - a; print (d > m ? d : m) }')
}

vps_field() { vpsctl list -a -j | jq -r --arg id "$1" ".[] | select(.id == \$id) | .$2"; }

# A busybox template and VPS $1 (running), for tests that need one.
# What vpsd keeps of its VPSes: the directories and every config.json, not what the running
# guests write (their upper/ and work/ trees, console.log*, which appears with the first output).
vps_snapshot() {
        (cd "$ROOT/vps" && find . -maxdepth 2 ! -name 'console.log*' | sort; cat ./*/config.json) | md5sum
}

# console_say ID LINE PATTERN: types LINE on the VPS's console and prints what came back
# (carriage returns removed), waiting longer each time until PATTERN shows (the relay goes
# vpsctl -> vpsd -> pty -> the guest's shell and back, slow under a sanitizer on a busy host).
console_say() {
        local out t
        for t in 1 3 8; do
                out=$(printf '%s\n' "$2" | vpsctl console "$1" --timeout "$t" 2>&1 | tr -d '\r') || true
                grep -qE -- "$3" <<<"$out" && break
        done
        printf '%s\n' "$out"
}

make_running_vps() {
        [ -d "$ROOT/templates/busybox" ] || vpsctl template build busybox >/dev/null
        vpsctl create "$1" --ostemplate busybox ${2:+--hostname "$2"} >/dev/null
        vpsctl start "$1" >/dev/null
}

# two_hosts NS_A NS_B IF_A IF_B IP_A IP_B: two network namespaces standing for two hosts
# (removed at the end), joined by a veth pair (the wire: IF_A in NS_A with IP_A/24, IF_B in
# NS_B with IP_B/24, both up, and each namespace's lo); in_a and in_b run a command in them.
two_hosts() {
        TH_A=$1 TH_B=$2
        ip netns add "$1"
        ip netns add "$2"
        TEST_NETNS="${TEST_NETNS:-} $1 $2"
        ip link add "$3" type veth peer name "$4"
        ip link set "$3" netns "$1"
        ip link set "$4" netns "$2"
        ip -n "$1" addr add "$5/24" dev "$3"
        ip -n "$2" addr add "$6/24" dev "$4"
        ip -n "$1" link set lo up
        ip -n "$2" link set lo up
        ip -n "$1" link set "$3" up
        ip -n "$2" link set "$4" up
}
in_a() { nsenter --net="/run/netns/$TH_A" "$@"; }
in_b() { nsenter --net="/run/netns/$TH_B" "$@"; }
# b_neighbour ADDR...: a neighbour on B's bridge (a host on B's segment: namespace $NB)
# holding a stale entry at a wrong MAC ($WRONG) for each ADDR. Nothing is sent to it, so only
# an announcement on B's bridge sets an entry right. nb_mac ADDR: the MAC its entry says.
WRONG=02:00:00:00:00:99
b_neighbour() {
        NB=vpsmnb$N
        local port=vmn$N a
        TEST_NETNS="$TEST_NETNS $NB"
        in_b ip link add "$BRIDGE" type bridge
        in_b ip link set "$BRIDGE" up
        ip netns add "$NB"
        ip link add "$port" type veth peer name eth0 netns "$NB"
        ip link set "$port" netns "$TH_B"
        in_b ip link set "$port" master "$BRIDGE" up
        ip -n "$NB" addr add "$NETPFX.250/24" dev eth0
        ip -n "$NB" link set eth0 up
        for a in "$@"; do ip -n "$NB" neigh replace "$a" lladdr "$WRONG" dev eth0 nud stale; done
}
nb_mac() { ip -n "$NB" neigh show "$1" dev eth0 | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'; }

# sshd_on_b IP PORT [CONFIG_LINE...]: an sshd in in_b's namespace at IP:PORT (SSHD_PID, its
# log $T/sshd.log) with a host key of its own that accepts only the key $T/id made here (its
# known_hosts line in $T/known_hosts), the lines given added to its config; returns once A
# reaches it (10 s at most).
sshd_on_b() {
        local ip=$1 port=$2 line
        shift 2
        ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
        ssh-keygen -q -t ed25519 -N '' -f "$T/id"
        cp "$T/id.pub" "$T/authorized_keys"
        echo "[$ip]:$port $(cut -d' ' -f1,2 "$T/hostkey.pub")" >"$T/known_hosts"
        {
                printf '%s\n' "Port $port" "ListenAddress $ip" "HostKey $T/hostkey" \
                        "AuthorizedKeysFile $T/authorized_keys" "AuthenticationMethods publickey" \
                        "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
                        "PermitRootLogin prohibit-password" "AllowUsers root" "UsePAM no" \
                        "StrictModes no" "PidFile none"
                for line in "$@"; do printf '%s\n' "$line"; done
        } >"$T/sshd_config"
        mkdir -p /run/sshd
        # nsenter itself, not in_b in a subshell: nsenter execs sshd (-D: no fork), so $! is
        # sshd's PID and stop_b's kill reaches it (a subshell's PID left sshd behind).
        nsenter --net="/run/netns/$TH_B" "$SSHD" -D -e -f "$T/sshd_config" </dev/null >/dev/null \
                2>"$T/sshd.log" &
        SSHD_PID=$!
        for _ in $(seq 100); do in_a bash -c "echo >/dev/tcp/$ip/$port" 2>/dev/null && return; sleep 0.1; done
}

# guest_sleeper ID: a `sleep 100000` of its own session in VPS ID; prints its PID inside once
# it runs (the sh that sets it off returns before setsid's child has exec'd sleep), or
# nothing after 5 s.
guest_sleeper() {
        local pid
        vpsctl exec "$1" -- sh -c 'setsid sleep 100000 </dev/null >/dev/null 2>&1 &'
        for _ in $(seq 50); do
                pid=$(vpsctl exec "$1" -- pidof sleep) && { echo "$pid"; return; }
                sleep 0.1
        done
}

# The debian-12 template in this vpsd (call after start_vpsd): from the tarball cache under
# VPS_TEST_CACHE when a test built it before, else built now (minutes; vpsctl's output
# in $T/debian-build.out, DEBIAN_BUILT=1) and cached for the next tests. The tarball is named
# after a hash of the sources that define the template (its recipe, fix-ups and builder): a
# changed package list builds it anew.
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEBIAN_CACHE=${VPS_TEST_CACHE:-$SRC_DIR/build/test-cache}
DEBIAN_KEY=$(cat "$SRC_DIR"/templates/{distro.c,debian.c,include/templates/templates.h} \
        "$SRC_DIR"/runtime/template/template_build.c | sha256sum | cut -c1-12)
DEBIAN_BUILT=0
debian_template() {
        local tarball=$DEBIAN_CACHE/debian-12-$DEBIAN_KEY.tar
        [ -d "$ROOT/templates/debian-12" ] && return 0
        if [ -f "$tarball" ]; then
                tar -C "$ROOT/templates" --numeric-owner --xattrs --xattrs-include='*' -xf "$tarball"
                return
        fi
        vpsctl template build debian-12 >"$T/debian-build.out" 2>&1 || return 1
        DEBIAN_BUILT=1
        mkdir -p "$DEBIAN_CACHE"
        tar -C "$ROOT/templates" --numeric-owner --xattrs --xattrs-include='*' \
                -cf "$tarball.tmp.$$" debian-12 && mv "$tarball.tmp.$$" "$tarball"
}

# migrate_hosts [SIZE]: two "hosts" for vpsctl migrate: two network namespaces joined by a
# veth pair (two_hosts), this test's vpsd on A (start_a) and a second on B (start_b: its root
# ROOTB, on a loop-mounted ext4 of SIZE if given; socket SOCKB, cgroup parent CGB; its claims
# in $T/claimsb, bound on /run/vps/claims in a mount namespace of its own, as another host's
# are its own), B's sshd accepting only the test's key, busybox built on both at one version
# (FULL=--full when B's differs). Then v2 is vpsctl on B, migrate ARGS... vpsctl migrate run
# on A to DEST (B's sshd), stop_b stops B's side (on exit too).
migrate_hosts() {
        NSA=vpsmig-a-$N-$$ NSB=vpsmig-b-$N-$$ WA=vmw${N}a WB=vmw${N}b
        A_IP=10.$N.9.1 B_IP=10.$N.9.2 PORT=2222
        ROOTB=$T/rootb SOCKB=$T/b.sock CGB=$CG_PARENT-b PIDB= SSHD_PID= EV_PIDS=
        trap 'rc=$?; stop_b; cleanup "$rc"' EXIT
        two_hosts "$NSA" "$NSB" "$WA" "$WB" "$A_IP" "$B_IP"
        start_a
        mkdir -p "$ROOTB" "$T/claimsb" /run/vps/claims
        chmod 0700 "$T/claimsb"
        if [ -n "${1:-}" ]; then
                truncate -s "$1" "$T/rootb.img"
                mkfs.ext4 -q -F -m 0 "$T/rootb.img"
                mount -o loop "$T/rootb.img" "$ROOTB"
                TEST_MOUNTS=$ROOTB
        fi
        start_b
        sshd_on_b "$B_IP" "$PORT" "ClientAliveInterval 1" "ClientAliveCountMax 3"
        SSH_OPTS=(--ssh-option "IdentityFile=$T/id" --ssh-option IdentitiesOnly=yes
                --ssh-option "UserKnownHostsFile=$T/known_hosts" --ssh-option StrictHostKeyChecking=yes
                --ssh-option ServerAliveInterval=1 --ssh-option ServerAliveCountMax=3
                --ssh-option ConnectTimeout=3)
        DEST=root@$B_IP:$PORT
        vpsctl template build busybox >/dev/null
        v2 template build busybox >/dev/null
        # The two builds are of the same busybox binary but stamped with their build time: B's
        # gets A's stamp, as two hosts fed from one template repository have the same version.
        FULL=
        local va
        va=$(jq -r .version "$ROOT/templates/busybox/meta.json")
        jq --arg v "$va" '.version = $v' "$ROOTB/templates/busybox/meta.json" >"$T/meta.json"
        cp "$T/meta.json" "$ROOTB/templates/busybox/meta.json"
        [ "$(v2 template list -j | jq -r '.[] | select(.name == "busybox") | .version')" = "$va" ] || FULL=--full
}
# start_a: this test's vpsd, in A's network namespace (again, after a kill).
start_a() {
        in_a "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
                --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
        VPSD_PID=$(vpsctl version -j | jq -r '.server.pid // empty')
        [ -n "$VPSD_PID" ] || fail "vpsd A did not start"
}
start_b() {
        in_b unshare -m --propagation slave sh -c 'mount --bind "$0" /run/vps/claims && exec "$@"' \
                "$T/claimsb" "$VPSD_BIN" --root "$ROOTB" --socket "$SOCKB" --cgroup-parent "$CGB" \
                --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
        PIDB=$(v2 version -j | jq -r '.server.pid // empty')
        [ -n "$PIDB" ] || fail "vpsd B did not start"
}
v2() { "$VPSCTL_BIN" --socket "$SOCKB" "$@"; }
migrate() { in_a "$VPSCTL_BIN" --socket "$SOCK" migrate "$@" "${SSH_OPTS[@]}" \
        --remote-vpsctl "$VPSCTL_BIN" --remote-socket "$SOCKB"; }
stop_b() {
        [ -z "${EV_PIDS:-}" ] || kill $EV_PIDS 2>/dev/null || true
        local run2
        run2=$(run_state_dir "$ROOTB")
        stop_daemon "$PIDB" "$CGB"
        [ -z "$SSHD_PID" ] || { kill "$SSHD_PID" 2>/dev/null || true; }
        [ -z "$run2" ] || rm -rf "$run2"
}
