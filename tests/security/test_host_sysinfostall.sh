#!/usr/bin/env bash
# A guest must not freeze vpsd through sysinfo(2) either (issue 14). vpsd answers a VPS's
# sysinfo calls by writing the figures into the caller's memory (/proc/PID/mem). VPS 721
# (--features fuse) puts that buffer in a private mapping of a file whose FUSE daemon (its own)
# never answers a read, and declares FUSE_ALLOW_IDMAP (with default_permissions, Linux 6.12 and
# later), so the kernel sends the read that vpsd's write faults in on to that daemon instead of
# failing it at once for a caller the mount's user namespace does not map: the write waits for
# ever. A process of the guest touching the file waits too (the positive control). Until the
# sysinfo thread, vpsd did that write in its loop: list, status, and every neighbour's `free`
# hung with it. Now a writer process does it with a deadline (guest_timeout, 2 s here): the
# call fails with EFAULT when it passes, at most four writers work for one VPS (a fifth call
# waits, and fails at the same deadline), and meanwhile vpsd answers list and status, and a
# neighbour's sysinfo calls go on being answered.
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-fuse
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
[ -e /dev/fuse ] || { echo "SKIP: this host has no /dev/fuse"; exit 77; }
TIMEOUT=2
printf 'guest_timeout = %s\n' "$TIMEOUT" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 721 --ostemplate busybox --features fuse >/dev/null
vpsctl create 722 --ostemplate busybox >/dev/null
vpsctl start 721 >/dev/null
vpsctl start 722 >/dev/null
quiet() { "$@" >/dev/null 2>&1; }

# The neighbour's processes ask sysinfo(2) (busybox free) in a loop, counting the answers
# into a file of its upper layer, which the host reads without asking vpsd.
vpsctl exec 722 -- sh -c 'i=0; while :; do free >/dev/null && i=$((i + 1)); echo $i >/root/n.new; mv /root/n.new /root/n; sleep 0.1; done >/dev/null 2>&1 &'
count722() { cat "$ROOT/vps/722/upper/root/n" 2>/dev/null || echo 0; }
for _ in $(seq 50); do [ "$(count722)" -gt 0 ] && break; sleep 0.1; done
check "the neighbour's sysinfo loop runs" test "$(count722)" -gt 0

vpsctl exec 721 -- sh -c 'cat > /probe-fuse && chmod 755 /probe-fuse && mkdir -p /mnt/stall' <"$PROBE"
out=$(timeout 10 "$VPSCTL_BIN" --socket "$SOCK" exec 721 -- /probe-fuse --file /mnt/stall 2>&1) || true
check "the guest mounted its FUSE file system ($out)" grep -q '^mounted over /mnt/stall' <<<"$out"
# Positive control: reading the file waits (its daemon never answers a read).
rc=0
timeout -k 2 2 "$VPSCTL_BIN" --socket "$SOCK" exec 721 -- head -c 1 /mnt/stall/f >/dev/null 2>&1 || rc=$?
check "a read of its file hangs (killed by timeout: $rc)" test "$rc" = 124 -o "$rc" = 137

# Five stalled sysinfo calls at once (each its own file, so each its own FUSE read), in the
# background: at most four writers work for one VPS, so four writes wait until the deadline
# and the fifth call waits for a writer that never comes free; all five fail with EFAULT.
( timeout -k 2 20 "$VPSCTL_BIN" --socket "$SOCK" exec 721 -- sh -c \
        'for i in 1 2 3 4 5; do /probe-fuse --sysinfo /mnt/stall/g$i & done; wait' \
        >"$T/si.out" 2>&1; echo "$?" >"$T/si.done" ) &
sleep 0.3
n0=$(count722)
check "list answers while 721's sysinfo writes wait" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" list
check "status of 722 answers meanwhile" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" status 722
grew722() { [ "$(count722)" -gt "$1" ]; }
check "the neighbour's sysinfo calls are answered meanwhile ($n0 -> $(eventually 5 grew722 "$n0"; count722))" grew722 "$n0"
for _ in $(seq 100); do [ -f "$T/si.done" ] && break; sleep 0.1; done
out=$(cat "$T/si.out" 2>/dev/null || true)
check "the stalled calls ended ($(tr '\n' ';' <<<"$out"))" test -f "$T/si.done"
check "all five with EFAULT, after guest_timeout ($TIMEOUT s) and within a second more" \
        test "$(grep -cE "^sysinfo: EFAULT $TIMEOUT\\." <<<"$out")" = 5
expect_eq "four writes passed their deadline (vpsd.log)" 4 \
        "$(grep -c "VPS 721: a sysinfo answer was not written" "$ROOT/vpsd.log")"
expect_eq "and one call found no writer of 721 free" 1 \
        "$(grep -c "VPS 721: a sysinfo call found no writer free" "$ROOT/vpsd.log")"
check "vpsd is still running" kill -0 "$VPSD_PID"
check "list still answers" quiet timeout 2 "$VPSCTL_BIN" --socket "$SOCK" list
# The VPS stops (its FUSE daemon dies with it).
check "721 stops" quiet timeout 20 "$VPSCTL_BIN" --socket "$SOCK" stop 721 --fast
n1=$(count722)
check "and the neighbour is still answered ($n1 -> $(eventually 5 grew722 "$n1"; count722))" grew722 "$n1"
# The writers killed at the deadline may have been held beyond SIGKILL (here they wait in the
# FUSE requests its daemon read): reaped once 721's daemon is gone, with a writer left for 722.
# (A child reaped by no one shows as "[vpsd] <defunct>".)
children() { ps -o stat=,args= --ppid "$VPSD_PID"; }
stuck() { children | awk '$1 ~ /Z/ || ($1 ~ /D/ && $3 == "--sysinfo-writer")'; }
for _ in $(seq 50); do [ -z "$(stuck)" ] && break; sleep 0.1; done
check "no writer of vpsd is left waiting on 721 or unreaped ($(children | tr '\n' ';'))" \
        sh -c "ps -o stat=,args= --ppid '$VPSD_PID' | awk '\$1 ~ /Z/ || (\$1 ~ /D/ && \$3 == \"--sysinfo-writer\") { bad++ } \$3 == \"--sysinfo-writer\" { n++ } END { exit !(n > 0 && bad == 0) }'"
finish
