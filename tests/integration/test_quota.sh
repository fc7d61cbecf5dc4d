#!/usr/bin/env bash
# Disk quotas (--diskspace, --diskinodes) enforced by project quotas on a loop-mounted XFS or
# ext4 image (QUOTA_FS, default xfs) made by scripts/prepare-storage: EDQUOT inside, df and
# df -i inside show the plan, set works live up and down, two VPSes are limited apart, a VPS
# cannot leave its project, destroy frees the project id. Needs a kernel with project quota
# support: this host's has none (exit 77); tests/vm/test_quota_{xfs,ext4}.sh run it in the
# qemu guest, whose Debian kernel has both.
. "$(dirname "$0")/lib.sh"
FS=${QUOTA_FS:-xfs}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=${VPS_PROBE:-$BUILD/tests/vps-escape-probe}
# What a write past a project quota fails with: ext4 says EDQUOT; XFS says ENOSPC, as if the
# VPS's tree were a filesystem of its own (xfs_trans_dqresv), which is what df inside shows.
case $FS in
xfs) FULL="No space left on device" ;;
*) FULL="Disk quota exceeded" ;;
esac

modprobe "$FS" 2>/dev/null || true
[ "$FS" = ext4 ] && { modprobe quota_v2 2>/dev/null || true; }
mkdir -p "$ROOT"
TEST_MOUNTS=$ROOT
# Only a kernel without project quotas skips: the same image mounts without prjquota, not
# with it (or mounts with it but does not enforce). Anything else (no mkfs, no loop device, a
# broken prepare-storage) fails.
if ! out=$("$TOP/scripts/prepare-storage" --fs "$FS" --size 600M "$T/disk.img" "$ROOT" 2>&1); then
        case $out in
        *"with prjquota failed"* | *"project quotas are not enforced"*) ;;
        *) echo "FAIL: prepare-storage: $out"; exit 1 ;;
        esac
        truncate -s 600M "$T/plain.img"
        case $FS in xfs) mkfs.xfs -q -f "$T/plain.img" ;; ext4) mkfs.ext4 -q -F "$T/plain.img" ;; esac
        mkdir -p "$T/plain"
        mount -t "$FS" -o loop "$T/plain.img" "$T/plain" || { echo "FAIL: cannot even loop-mount $FS here: $out"; exit 1; }
        umount "$T/plain"
        echo "SKIP: no $FS project quotas on this kernel ($FS mounts, not with prjquota): $out"
        exit 77
fi
echo "$out"
start_vpsd
check "vpsd says the root has project quotas" grep -q "disk quotas: project quotas on $FS" "$ROOT/vpsd.log"
vpsctl template build busybox >/dev/null

quiet() { "$@" >/dev/null; }
# df inside: the 1K-blocks total and the inode total of /.
df_total() { vpsctl exec "$1" -- df -k / | awk 'NR == 2 { print $2 }'; }
df_inodes() { vpsctl exec "$1" -- df -i / | awk 'NR == 2 { print $2 }'; }
used() { vpsctl list -a -j | jq -r --arg id "$1" ".[] | select(.id == \$id) | .$2.used"; }
# write ID MB FILE: dd of MB MiB inside; prints dd's exit status and its message
write() { vpsctl exec "$1" -- sh -c "dd if=/dev/zero of=$3 bs=1M count=$2 2>&1; echo rc=\$?"; }

check "create 601 --diskspace 20M --diskinodes 1000" quiet vpsctl create 601 --ostemplate busybox --diskspace 20M --diskinodes 1000
check "create 602 --diskspace 10M:12M" quiet vpsctl create 602 --ostemplate busybox --diskspace 10M:12M
check "start 601" quiet vpsctl start 601
check "start 602" quiet vpsctl start 602
P1=$(jq -r '.projid // 0' "$ROOT/vps/601/config.json")
P2=$(jq -r '.projid // 0' "$ROOT/vps/602/config.json")
check "601 and 602 have project ids of their own ($P1, $P2)" test "$P1" -gt 0 -a "$P2" -gt 0 -a "$P1" != "$P2"
expect_eq "upper/ of 601 is in project $P1 (lsattr -p)" "$P1" "$(lsattr -pd "$ROOT/vps/601/upper" | awk '{ print $1 }')"

# df inside shows the plan, not the host disk.
expect_eq "df inside 601: 20M" 20480 "$(df_total 601)"
expect_eq "df -i inside 601: 1000 inodes" 1000 "$(df_inodes 601)"
expect_eq "df inside 602: the soft limit, 10M" 10240 "$(df_total 602)"

# Past the hard limit: EDQUOT, the VPS keeps running; deleting frees the space.
out=$(write 601 30 /big)
check "writing 30M into 601 fails with '$FULL'" grep -q "$FULL" <<<"$out"
check "and dd failed" grep -q "rc=1" <<<"$out"
expect_eq "601 still running" running "$(vps_field 601 status)"
u=$(used 601 diskspace)
check "601's usage stays within 20M ($u bytes)" test "$u" -le $((20 * 1024 * 1024))
check "rm frees it" quiet vpsctl exec 601 -- rm -f /big
u=$(used 601 diskspace)
check "601's usage after rm is small ($u bytes)" test "$u" -lt $((1024 * 1024))
check "a 5M write fits again" grep -q "rc=0" <<<"$(write 601 5 /five)"
line=$(vpsctl list -a -o id,diskspace,diskinodes | awk '$1 == 601')
check "list -o diskspace,diskinodes shows used/limit ($line)" grep -qE "^601 +[0-9]+/20971520 +[0-9]+/1000$" <<<"$line"
st=$(vpsctl stats 601 -j)
expect_eq "stats: diskspace hard" 20971520 "$(jq .diskspace.hard <<<"$st")"
check "stats: diskspace used >= 5M" test "$(jq .diskspace.used <<<"$st")" -ge $((5 * 1024 * 1024))

# Inodes: files past --diskinodes fail the same way.
check "set 602 --diskinodes 200" quiet vpsctl set 602 --diskinodes 200
out=$(vpsctl exec 602 -- sh -c 'mkdir /many; i=0; while [ $i -lt 300 ]; do echo -n > /many/f$i || { echo "stopped at $i"; exit 1; }; i=$((i+1)); done; echo all' 2>&1 || true)
check "creating 300 files under --diskinodes 200 fails ($(tail -n1 <<<"$out"))" grep -q "stopped at" <<<"$out"
check "with '$FULL'" grep -q "$FULL" <<<"$out"
expect_eq "df -i inside 602: 200" 200 "$(df_inodes 602)"
check "rm frees inodes" quiet vpsctl exec 602 -- rm -rf /many
check "files can be made again" quiet vpsctl exec 602 -- touch /again

# Two VPSes on one filesystem, limited apart: 602 (12M hard) fails at 15M while 601 takes it.
check "15M into 602 fails" grep -q "$FULL" <<<"$(write 602 15 /f15)"
vpsctl exec 602 -- rm -f /f15
check "12M into 601 fits (5M used of 20M)" grep -q "rc=0" <<<"$(write 601 12 /f15)"
vpsctl exec 601 -- rm -f /f15

# set on the running VPS: at once, up and down.
check "set 601 --diskspace 50M" quiet vpsctl set 601 --diskspace 50M
expect_eq "df inside 601 at once: 50M" 51200 "$(df_total 601)"
check "40M fits in 601 now" grep -q "rc=0" <<<"$(write 601 40 /f40)"
expect_eq "config.json keeps 50M" 52428800 "$(jq .limits.diskspace.hard "$ROOT/vps/601/config.json")"
rc=0; out=$(vpsctl set 601 --diskspace 10M 2>&1) || rc=$?
expect_eq "set 601 --diskspace 10M below its usage is accepted" 0 "$rc"
check "with a warning that usage is above it" grep -q "warning: .*above the new --diskspace" <<<"$out"
expect_eq "df inside 601: 10M" 10240 "$(df_total 601)"
check "writing more fails at once" grep -q "$FULL" <<<"$(write 601 1 /one)"
vpsctl exec 601 -- rm -f /f40 /five /one
check "after rm, 601 writes again" grep -q "rc=0" <<<"$(write 601 2 /two)"

# Bad input: one line, nothing changed.
before=$(md5sum <"$ROOT/vps/601/config.json")
expect_error "soft above hard" "soft limit 20M is above the hard limit 10M" vpsctl set 601 --diskspace 20M:10M
expect_error "a size that does not parse" "--diskspace: invalid size" vpsctl set 601 --diskspace 10Q
expect_error "inodes that do not parse" "--diskinodes: invalid number" vpsctl set 601 --diskinodes lots
expect_eq "601's config unchanged" "$before" "$(md5sum <"$ROOT/vps/601/config.json")"
expect_eq "df inside 601 still 10M" 10240 "$(df_total 601)"

# No way out of the project from inside.
vpsctl exec 601 -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"
out=$(vpsctl exec 601 -- /probe 2>&1 || true)
check "the probe cannot change the project ($(grep 'quota project' <<<"$out"))" grep -q "change the disk quota project: blocked" <<<"$out"
expect_eq "upper/ of 601 still in project $P1" "$P1" "$(lsattr -pd "$ROOT/vps/601/upper" | awk '{ print $1 }')"
vpsctl exec 601 -- rm -f /probe /two
# A hard link to a template file copies it up first: it is charged, not shared for free.
u0=$(used 601 diskspace)
check "ln of a template file inside" quiet vpsctl exec 601 -- ln /bin/busybox /bb
u1=$(used 601 diskspace)
check "it is charged to 601 ($u0 -> $u1 bytes)" test "$u1" -ge $((u0 + 500000))
check "mv within the VPS keeps it in the project" quiet vpsctl exec 601 -- mv /bb /bb2
expect_eq "usage unchanged by mv" "$u1" "$(used 601 diskspace)"

# Destroy frees the project: no limits, no usage, and the id is handed out again.
check "stop 602" quiet vpsctl stop 602 --fast
check "destroy 602" quiet vpsctl destroy 602
case $FS in
xfs) left=$(xfs_quota -x -c "report -p -n -N" "$ROOT" | awk -v id="#$P2" '$1 == id && ($2 != 0 || $3 != 0 || $4 != 0)') ;;
ext4) left=$(repquota -P -n "$ROOT" | awk -v id="#$P2" '$1 == id && ($3 != 0 || $4 != 0 || $5 != 0)') ;;
esac
expect_eq "no quota left for project $P2" "" "$left"
check "create 603" quiet vpsctl create 603 --ostemplate busybox --diskspace 5M
expect_eq "603 gets the freed id" "$P2" "$(jq -r .projid "$ROOT/vps/603/config.json")"
finish
