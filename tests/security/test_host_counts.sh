#!/usr/bin/env bash
# Issue 14, "kernel counts shared with the host": one VPS takes every inotify instance and every
# pty it can (vps-probe-counts, which reports how many it got and why it stopped, then holds
# them); meanwhile host root's inotify_init() works, a neighbour VPS gets inotify instances of
# its own, `vpsctl exec -t` into the neighbour gets a pty, and the host opens ptys. The VPS's
# user namespace is owned by its own host uid (NS_GET_OWNER_UID), so the kernel charges the
# per-user counts inside it to that uid; its devpts has a max= (vpsd.conf devpts_max).
. "$(dirname "$0")/../integration/lib.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-counts
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
# vpsd raises the per-user inotify limits at start-up: put the host's values back at the end.
for k in fs/inotify/max_user_instances fs/inotify/max_user_watches; do
        TEST_SYSCTL_RESTORE="${TEST_SYSCTL_RESTORE:-} /proc/sys/$k=$(cat "/proc/sys/$k")"
done
start_vpsd
make_running_vps 711
make_running_vps 712
for id in 711 712; do vpsctl exec "$id" -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"; done

# NS_GET_OWNER_UID (_IO(0xb7, 4)) on the init's user namespace.
ns_owner() {
        python3 -c 'import fcntl, os, struct, sys
fd = os.open("/proc/%s/ns/user" % sys.argv[1], os.O_RDONLY)
print(struct.unpack("I", fcntl.ioctl(fd, 0xb704, b"\0" * 4))[0])' "$1"
}
for id in 711 712; do
        expect_eq "VPS $id's user namespace is owned by its own host uid" "$(vps_field "$id" uid_base)" \
                "$(ns_owner "$(vps_field "$id" pid)")"
done
check "the log names the host limits" grep -q 'host limits: fs.inotify.max_user_instances = ' "$ROOT/vpsd.log"
check "and the pty pool" grep -q 'host limits: kernel.pty.max = .* at most 1024 per VPS' "$ROOT/vpsd.log"

# 711 takes all it can and holds it.
vpsctl exec 711 -- /probe hold >"$T/hold.out" 2>&1 &
HOLDER=$!
for _ in $(seq 600); do grep -q '^holding' "$T/hold.out" && break; sleep 0.1; done
cat "$T/hold.out"
read -r _ got_inotify inotify_errno < <(grep '^inotify ' "$T/hold.out") || true
read -r _ got_ptys ptys_errno < <(grep '^ptys ' "$T/hold.out") || true
# Positive controls: the probe reached the kernel's limit, and it was the kernel's (EMFILE for
# inotify: the per-user count; ENOSPC for ptys: devpts max), not its own fd table.
check "711 took inotify instances until the kernel refused ($got_inotify, $inotify_errno)" \
        test "${got_inotify:-0}" -ge 100 -a "${inotify_errno:-}" = errno=24
limit=$(cat /proc/sys/fs/inotify/max_user_instances)
check "no more than the per-user limit ($got_inotify <= $limit)" test "${got_inotify:-0}" -le "$limit"
check "711 took ptys until the kernel refused ($got_ptys, $ptys_errno)" \
        test "${got_ptys:-0}" -ge 900 -a "${ptys_errno:-}" = errno=28
check "no more than devpts_max ($got_ptys <= 1024)" test "${got_ptys:-0}" -le 1024

# Meanwhile.
out=$("$PROBE" inotify 1 2>&1)
expect_eq "host root's inotify_init still works" "inotify 1 errno=0" "$out"
out=$(vpsctl exec 712 -- /probe inotify 20 2>&1)
expect_eq "the neighbour gets inotify instances of its own" "inotify 20 errno=0" "$out"
out=$(script -qec "'$VPSCTL_BIN' --socket '$SOCK' exec -t 712 -- tty" /dev/null </dev/null 2>&1 | tr -d '\r') || true
check "exec -t into the neighbour gets a pty ($out)" grep -q '/dev/pts/[0-9]' <<<"$out"
out=$(script -qec tty /dev/null </dev/null 2>&1 | tr -d '\r') || true
check "the host still opens ptys ($out)" grep -q '^/dev/pts/[0-9]' <<<"$out"
kill "$HOLDER" 2>/dev/null || true
vpsctl stop --fast 711 >/dev/null

# devpts_max from vpsd.conf: a restarted vpsd, a VPS started by it.
kill_vpsd
printf 'devpts_max = 50\n' >"$T/vpsd.conf"
VPSD_CONFIG=$T/vpsd.conf start_vpsd
vpsctl start 711 >/dev/null
out=$(vpsctl exec 711 -- /probe ptys 2>&1)
expect_eq "devpts_max = 50: 50 ptys, then ENOSPC" "ptys 50 errno=28" "$out"
printf 'devpts_max = 0\n' >"$T/bad.conf"
expect_error "a bad devpts_max is refused" "devpts_max takes a number from 1 to" \
        env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$T/other" --socket "$T/other.sock"
finish
