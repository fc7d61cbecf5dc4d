#!/usr/bin/env bash
# Disk limits on a storage root that cannot enforce them (a plain ext4 image, no project
# quotas): vpsd says so at start-up; --diskspace and --diskinodes are refused with an error
# that says what to change, and nothing changes; with enforce_limits = warn in vpsd.conf they are saved
# and the answer carries a warning. That quotas are enforced is shown by test_quota.sh.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT"
TEST_MOUNTS=$ROOT
truncate -s 64M "$T/plain.img"
mkfs.ext4 -q -F "$T/plain.img"
mount -o loop "$T/plain.img" "$ROOT"
start_vpsd
check "vpsd says the root has no project quotas" grep -q "disk quotas: not available on $ROOT: project quotas are off on this ext4 filesystem" "$ROOT/vpsd.log"
make_running_vps 701
before=$(vps_snapshot)
expect_error "create --diskspace is refused, saying what to change" \
        "cannot enforce --diskspace on $ROOT: project quotas are off on this ext4 filesystem \(it needs the project and quota features" \
        vpsctl create 702 --ostemplate busybox --diskspace 1G
expect_error "set --diskinodes is refused" "cannot enforce --diskinodes" vpsctl set 701 --diskinodes 10000
expect_error "soft above hard" "--diskspace: the soft limit 2G is above the hard limit 1G" vpsctl set 701 --diskspace 2G:1G
expect_error "a size that does not parse" "--diskspace: invalid size '1Q'" vpsctl set 701 --diskspace 1Q
expect_error "too small" "--diskspace: 1K is out of range" vpsctl set 701 --diskspace 1K
expect_error "inodes that do not parse" "--diskinodes: invalid number '12x'" vpsctl create 702 --ostemplate busybox --diskinodes 12x
expect_error "a bad pair through the API" "limit 'diskspace'" \
        sh -c "curl -s --unix-socket '$SOCK' -X PATCH -d '{\"limits\":{\"diskspace\":[1]}}' http://localhost/v1/vps/701 | jq -er .error >&2; exit 1"
expect_eq "nothing changed" "$before" "$(vps_snapshot)"
check "no VPS 702" test ! -e "$ROOT/vps/702"
expect_eq "list -j: no usage without quotas" null "$(vpsctl list -j | jq '.[0].diskspace')"

# Warn mode: saved, not enforced, and said so.
kill "$VPSD_PID"; while kill -0 "$VPSD_PID" 2>/dev/null; do sleep 0.05; done
# Warn mode from vpsd.conf (the settings file), as a provider would set it.
printf '# test\nenforce_limits = warn\nroot = %s\nsocket = %s\n' "$ROOT" "$SOCK" >"$T/vpsd.conf"
"$VPSD_BIN" --config "$T/vpsd.conf" --cgroup-parent "$CG_PARENT" --bridge "$BRIDGE" \
        --subnet "$SUBNET" --daemon
VPSD_PID=$(pgrep -f -x "$VPSD_BIN --config $T/vpsd.conf --cgroup-parent $CG_PARENT --bridge $BRIDGE --subnet $SUBNET --daemon" | head -n1)
check "vpsd took root and socket from vpsd.conf" test -S "$SOCK" -a -n "$VPSD_PID"
expect_error "a bad vpsd.conf stops vpsd with file and line" "bad.conf:2: unknown setting 'rot'" \
        sh -c "printf 'root = /x\nrot = /y\n' >'$T/bad.conf'; '$VPSD_BIN' --config '$T/bad.conf' --socket '$T/other.sock'"
rc=0; out=$(vpsctl set 701 --diskspace 1G:2G 2>&1) || rc=$?
expect_eq "warn mode: set --diskspace is accepted" 0 "$rc"
{ echo "$out"; check "and vpsctl prints the warning" grep -q "vpsctl: warning: --diskspace not enforced" <<<"$out"; }
expect_eq "the soft limit is saved" 1073741824 "$(jq .limits.diskspace.soft "$ROOT/vps/701/config.json")"
expect_eq "the hard limit is saved" 2147483648 "$(jq .limits.diskspace.hard "$ROOT/vps/701/config.json")"
expect_eq "list -j shows the limits" 2147483648 "$(vpsctl list -j | jq '.[0].limits.diskspace.hard')"
check "the log says it is not enforced" grep -q "VPS 701: warning: 'diskspace' not enforced" "$ROOT/vpsd.log"
check "set --diskspace unlimited" sh -c "'$VPSCTL_BIN' --socket '$SOCK' set 701 --diskspace unlimited >/dev/null"
expect_eq "diskspace removed" null "$(jq .limits.diskspace "$ROOT/vps/701/config.json")"
finish
