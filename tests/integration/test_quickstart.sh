#!/usr/bin/env bash
# The README's first command, scripts/quickstart, run as a newcomer would, twice, against a
# vpsd of this test's own (VPSD_ROOT, VPSD_SOCKET and VPSD_CONFIG, which quickstart passes on
# to vpsd and vpsctl): a VPS 101 from the busybox template, running, reachable and listed;
# the second run reuses all of it.
NET_TEST=1
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)

cat >"$T/vpsd.conf" <<EOF
# quickstart's vpsd, in this test's scratch space
root = $ROOT
socket = $SOCK
cgroup_parent = $CG_PARENT
bridge = $BRIDGE
subnet = $SUBNET
EOF
export VPSD_ROOT=$ROOT VPSD_SOCKET=$SOCK VPSD_CONFIG=$T/vpsd.conf
# quickstart makes sure LXCFS runs; one it starts here is stopped with the test.
lxcfs_before=$(pgrep -x lxcfs | tr '\n' ' ' || true)
quickstart() { "$REPO/scripts/quickstart" </dev/null 2>&1 | tee -a "$T/quickstart.out"; }

out=$(quickstart) && rc=0 || rc=$?
expect_eq "quickstart succeeds" 0 "$rc"
for pid in $(pgrep -x lxcfs); do
        # Stopped with the test, its FUSE mount detached too (scripts/lxcfs-up would clear a
        # dead one anyway).
        case " $lxcfs_before " in *" $pid "*) ;; *) TEST_PIDS="${TEST_PIDS:-} $pid" TEST_MOUNTS="${TEST_MOUNTS:-} /var/lib/lxcfs" ;; esac
done
VPSD_PID=$(vpsctl version -j | jq -r .server.pid)
check "its vpsd runs, in the background" kill -0 "$VPSD_PID"
expect_eq "with the test's root" "$ROOT" "$(vpsctl version -j | jq -r .server.root)"
check "it said it started vpsd, with the log's path" grep -q "quickstart: vpsd started (log: $ROOT/vpsd.log)" <<<"$out"
expect_eq "and built the busybox template" busybox "$(vpsctl template list -j | jq -r '[.[].name] | join(" ")')"
expect_eq "VPS 101 runs" running "$(vps_field 101 status)"
expect_eq "from busybox" busybox "$(vps_field 101 ostemplate)"
expect_eq "on host 101 of vpsd's subnet" "$NETPFX.101" "$(vpsctl status 101 -j | jq -r '.ip[0]')"
check "uname -a ran inside (the VPS's hostname in it)" grep -q "^Linux vps101 " <<<"$out"
check "the VPS answered the ping" grep -q "1 packets received" <<<"$out"
check "vpsctl list showed it running" grep -qE "^ *101 .*running" <<<"$out"
check "and it says what to try next, with this socket" grep -q "curl --unix-socket $SOCK " <<<"$out"
installed=$(awk -F= '/^CMAKE_INSTALL_PREFIX:/ { p = $2 } /^CMAKE_INSTALL_SBINDIR:/ { s = $2 }
        END { print (s ~ /^\// ? s : p "/" s) }' "$REPO/build/CMakeCache.txt")/vpsctl
check "it says it installed them there" grep -qx "quickstart: installed vpsd and vpsctl in ${installed%/vpsctl}" <<<"$out"
check "it installed what it built: $installed" cmp "$REPO/build/bin/vpsctl" "$installed"
expect_eq "and vpsctl is on PATH now, the installed one" "$installed" "$(type -P vpsctl)"
check "so is its bash completion" test -f "${installed%/sbin/vpsctl}/share/bash-completion/completions/vpsctl"
check "the host reaches it now too" sh -c "ping -c 1 -W 2 $NETPFX.101 >/dev/null"
init=$(vps_field 101 pid)

out2=$(quickstart) && rc=0 || rc=$?
expect_eq "a second run succeeds too" 0 "$rc"
check "it finds vpsd running" grep -q "quickstart: vpsd is already running" <<<"$out2"
expect_eq "the same vpsd" "$VPSD_PID" "$(vpsctl version -j | jq -r .server.pid)"
expect_eq "the same VPS, not restarted" "$init" "$(vps_field 101 pid)"
expect_eq "one VPS, one template" "1 1" "$(vpsctl list -j | jq length) $(vpsctl template list -j | jq length)"
check "and shows it again" grep -qE "^ *101 .*running" <<<"$out2"
finish
