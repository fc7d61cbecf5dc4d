#!/usr/bin/env bash
# Snapshot -> switch and clone round trips on reflink storage (issue 17): the state root on a
# loop-mounted XFS made with reflink=1. Each copy is exact (a manifest of every file) and made
# by reflinks (FICLONE): its data extents are shared with the source's (filefrag), the free
# space drops by far less than the data's size, and the snapshot counts its reflinked files.
. "$(dirname "$0")/lib.sh"
MANIFEST="python3 $(dirname "$0")/tree_manifest.py"
# Reads change atimes; XFS shows each POSIX ACL again as trusted.SGI_ACL_* (the same bytes
# on disk, the ids compared in the system.posix_acl_* form).
strip() { sed 's/ atime=[0-9]*//; s/ xattr:trusted\.SGI_ACL_[A-Z]*=[0-9a-f]*//g'; }
mf() { $MANIFEST manifest "$1" "${@:2}" | strip; }
export -f strip mf
export MANIFEST
avail() { sync; df --output=avail -B1 "$ROOT" | tail -n1; }
shared() { filefrag -v "$1" | grep -q shared; }
command -v mkfs.xfs >/dev/null && command -v filefrag >/dev/null || { echo "SKIP: no mkfs.xfs or filefrag"; exit 77; }
mkdir -p "$ROOT"
truncate -s 512M "$T/root.img"
mkfs.xfs -q -m reflink=1 "$T/root.img" || { echo "SKIP: mkfs.xfs cannot make reflink=1"; exit 77; }
mount -o loop "$T/root.img" "$ROOT" || { echo "SKIP: cannot mount an XFS image"; exit 77; }
TEST_MOUNTS=$ROOT
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox >/dev/null
base=$(vps_field 101 uid_base)
U=$ROOT/vps/101/upper
$MANIFEST populate "$U" "$base"
head -c 64M /dev/urandom >"$U/srv/big"
chown "$base:$base" "$U/srv/big"
MB=$((1024 * 1024))
mf "$U" >"$T/m0"

# --- snapshot -> switch
a0=$(avail)
expect_jq "a snapshot on reflink storage reflinks its files" '.reflinked > 0' vpsctl snapshot 101 --name s1 -j
a1=$(avail)
check "the snapshot's copy of 64 MiB took under 8 MiB of free space ($(((a0 - a1) / MB)) MiB)" test $((a0 - a1)) -lt $((8 * MB))
check "its data shares extents with the VPS's (filefrag: shared)" shared "$ROOT/vps/101/snapshots/s1/upper/srv/big"
check "the snapshot is the VPS's files exactly (manifest)" bash -c "mf '$ROOT/vps/101/snapshots/s1/upper' | diff '$T/m0' -"
rm "$U/srv/big"
echo changed >"$U/etc/hello"
vpsctl snapshot-switch 101 s1 >/dev/null
check "switched back: the files exactly as snapshotted (manifest)" bash -c "mf '$U' | diff '$T/m0' -"
check "the switched-in data shares extents with the snapshot's" shared "$U/srv/big"

# --- clone
a0=$(avail)
vpsctl clone 101 102 >/dev/null
a1=$(avail)
b2=$(vps_field 102 uid_base)
check "the clone's copy of 64 MiB took under 8 MiB of free space ($(((a0 - a1) / MB)) MiB)" test $((a0 - a1)) -lt $((8 * MB))
check "its data shares extents with the source's" shared "$ROOT/vps/102/upper/srv/big"
mf "$U" --shift "$base:$b2" >"$T/want"
check "the clone is the source's files in its own id range (manifest, ACL ids too)" bash -c "mf '$ROOT/vps/102/upper' | diff '$T/want' -"
finish
