#!/usr/bin/env bash
# Snapshots (issue 17): an exact round trip snapshot -> switch compared by a manifest of every
# file; snapshot-mount read-only with its directory resolved safely; bad names refused in one
# line. The running-VPS and fault cases are in test_snapshot_faults.sh.
. "$(dirname "$0")/lib.sh"
MANIFEST="python3 $(dirname "$0")/tree_manifest.py"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox >/dev/null
base=$(vps_field 101 uid_base)
V=$ROOT/vps/101
up=$V/upper

# --- Exact round trip on a stopped VPS: every kind of entry a guest's upper layer holds.
$MANIFEST populate "$up" "$base"
$MANIFEST manifest "$up" >"$T/m1"
expect_jq "a snapshot of a stopped VPS is not frozen" \
        '.name == "s1" and .frozen_ms == 0 and .description == "first one" and .size > 0' \
        vpsctl snapshot 101 --name s1 --description "first one" -j
check "the snapshot's copy is exact (manifest)" \
        sh -c "$MANIFEST manifest '$V/snapshots/s1/upper' | diff '$T/m1' -"
check "snapshots are root's alone" test "$(stat -c %a "$V/snapshots")" = 700
# Change things, then roll back.
rm -rf "$up/srv/www" "$up/etc/hello"
echo changed >"$up/etc/new"
touch -d @1600000000 "$up/srv/sparse"
vpsctl snapshot 101 --name s2 >/dev/null
expect_jq "snapshot-list: both, oldest first, with sizes" \
        '[.snapshots[].name] == ["s1", "s2"] and (.snapshots | all(.size > 0))' \
        vpsctl snapshot-list 101 -j
check "snapshot-list prints a table" sh -c "vpsctl() { \"$VPSCTL_BIN\" --socket '$SOCK' \"\$@\"; }; vpsctl snapshot-list 101 | grep -q '^s1 .* first one\$'"
expect_jq "switch of a stopped VPS" '.switched and (.restarted | not)' vpsctl snapshot-switch 101 s1 -j
check "switch round trip is exact (manifest of upper/)" \
        sh -c "$MANIFEST manifest '$up' | diff '$T/m1' -"
check "no switch debris" test ! -e "$V/.switch-upper"

# --- snapshot-mount: read-only, nosuid, nodev; the directory resolved with no symlink.
P=$T/priv # root's alone: lib.sh's $T is 0711
mkdir -m 700 "$P"
mkdir "$P/mnt" "$P/full" "$P/real"
touch "$P/full/x"
ln -s "$P/real" "$P/link"
expect_jq "mount" '.mounted == "'"$P/mnt"'"' vpsctl snapshot-mount 101 s1 "$P/mnt" -j
expect_eq "the snapshot's file through the mount" "hello snapshot" "$(cat "$P/mnt/etc/hello")"
check "the template under it" test -f "$P/mnt/bin/busybox"
check "a file the snapshot deleted is absent (whiteout)" test ! -e "$P/mnt/srv/whiteout"
check "mounted ro,nosuid,nodev" sh -c "awk -v d='$P/mnt' '\$5 == d { print \$6 }' /proc/self/mountinfo | grep -E '^ro,nosuid,nodev'"
check "nothing can be written there" sh -c "! touch '$P/mnt/new' 2>/dev/null"
expect_jq "the list says where" '.snapshots[] | select(.name == "s1") | .mounted == "'"$P/mnt"'"' \
        vpsctl snapshot-list 101 -j
expect_error "mounted twice" "mounted at .* already" vpsctl snapshot-mount 101 s1 "$P/real"
expect_error "a mounted snapshot is not deleted" "snapshot-umount it first" vpsctl snapshot-delete 101 s1
expect_error "a symlink on the directory's path" "symlink" vpsctl snapshot-mount 101 s2 "$P/link"
expect_error "dot-dot in the directory" "'\.\.' in the mount directory" vpsctl snapshot-mount 101 s2 "$P/real/../mnt"
expect_error "a directory with files" "not empty" vpsctl snapshot-mount 101 s2 "$P/full"
expect_error "a relative directory" "absolute" vpsctl snapshot-mount 101 s2 real
expect_error "inside the state root" "inside vpsd's state root" vpsctl snapshot-mount 101 s2 "$ROOT/vps/101/rootfs"
# A directory other host users reach (mktemp -d's parent /var/tmp, the directory itself
# 0755): the mount's root is root's and 0700 (an empty top layer), so they read nothing of
# the guest's (its root is 0755, its files readable as the guest left them).
OPEN=$(mktemp -d /var/tmp/vpsopen.XXXXXX)
chmod 755 "$OPEN"
mkdir "$OPEN/m"
expect_jq "mount on a directory others reach" '.mounted == "'"$OPEN/m"'"' vpsctl snapshot-mount 101 s2 "$OPEN/m" -j
expect_eq "the mount's root: root's, 0700" "0:0 700" "$(stat -c '%u:%g %a' "$OPEN/m")"
check "root reads through it" test -f "$OPEN/m/bin/busybox"
check "another host user cannot" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$OPEN/m/etc/passwd' 2>/dev/null"
check "nor list it" sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups ls '$OPEN/m' >/dev/null 2>&1"
vpsctl snapshot-umount 101 s2 >/dev/null
check "unmounted there" sh -c "! mountpoint -q '$OPEN/m'"
rm -rf "$OPEN"
expect_jq "umount" '.dir == "'"$P/mnt"'"' vpsctl snapshot-umount 101 s1 -j
check "unmounted" sh -c "! awk '{ print \$5 }' /proc/self/mountinfo | grep -qx '$P/mnt'"
expect_error "umount of what is not mounted" "is not mounted" vpsctl snapshot-umount 101 s1

vpsctl start 101 >/dev/null
expect_eq "the guest sees the snapshot's files" "hello snapshot" "$(vpsctl exec 101 -- cat /etc/hello)"
expect_eq "and not the later change" "" "$(vpsctl exec 101 -- sh -c 'cat /etc/new 2>/dev/null; true')"

# --- Bad input: one line, the right exit status, nothing made.
expect_error "path characters" "character 0x2f" vpsctl snapshot 101 --name a/b
expect_error "dot-dot" "must start with a letter|'..' not allowed" vpsctl snapshot 101 --name ..
expect_error "dot-dot inside" "'..' not allowed" vpsctl snapshot 101 --name a..b
expect_error "hidden name" "must start with a letter" vpsctl snapshot 101 --name .tmp-x
expect_error "too long" "too long" vpsctl snapshot 101 --name "$(printf 'n%.0s' $(seq 65))"
expect_error "duplicate" "already has a snapshot 's1'" vpsctl snapshot 101 --name s1
expect_error "no such snapshot (switch)" "has no snapshot 'nope'" vpsctl snapshot-switch 101 nope
expect_error "no such snapshot (delete)" "has no snapshot 'nope'" vpsctl snapshot-delete 101 nope
expect_error "bad name on delete" "must start with a letter" vpsctl snapshot-delete 101 ../../etc
expect_error "bad name on switch" "character 0x2f" vpsctl snapshot-switch 101 a/../../etc
expect_error "no such VPS" "VPS 999 does not exist" vpsctl snapshot 999
set +e
vpsctl snapshot 101 --name s1 >/dev/null 2>&1; rc_dup=$?
vpsctl snapshot-switch 101 nope >/dev/null 2>&1; rc_none=$?
set -e
expect_eq "exit status of a duplicate" 4 "$rc_dup"
expect_eq "exit status of a missing snapshot" 3 "$rc_none"
expect_jq "a refused switch left the VPS running" '.status == "running"' vpsctl status 101 -j
expect_jq "nothing made by the refusals" '[.snapshots[].name] == ["s1", "s2"]' vpsctl snapshot-list 101 -j

# A destroy takes its mounted snapshots down with it.
vpsctl snapshot-mount 101 s2 "$P/mnt" >/dev/null
vpsctl destroy 101 --force >/dev/null
check "a destroy unmounts the VPS's snapshots" sh -c "! awk '{ print \$5 }' /proc/self/mountinfo | grep -qx '$P/mnt'"

finish
