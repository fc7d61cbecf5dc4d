#!/usr/bin/env bash
# Disk full: the state root on a small loop-mounted ext4 filled up. create and set fail with
# a clear ENOSPC error and change nothing (no debris, configs intact), vpsd keeps serving,
# and once space is back everything works again.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null; }
ext4_root 48M
start_vpsd
make_running_vps 991
vpsctl create 992 --ostemplate busybox --hostname before >/dev/null
cfg_before=$(md5sum <"$ROOT/vps/992/config.json")
# Fill the filesystem: blocks, then inodes.
dd if=/dev/zero of="$ROOT/filler" bs=1M 2>/dev/null || true
i=0; while touch "$ROOT/f$i" 2>/dev/null; do i=$((i + 1)); [ $i -gt 20000 ] && break; done
check "the root is full ($(df --output=avail "$ROOT" | tail -n1 | tr -d ' ') kB, $i files to fill the inodes)" \
        test "$(df --output=avail "$ROOT" | tail -n1)" -lt 64
expect_error "create fails with no space" "No space left on device" vpsctl create 993 --ostemplate busybox
check "and leaves nothing" test ! -e "$ROOT/vps/993" -a -z "$(ls -A "$ROOT/vps" | grep '^\.' || true)"
expect_error "set fails with no space" "No space left on device" vpsctl set 992 --hostname after
expect_eq "992's config intact" "$cfg_before" "$(md5sum <"$ROOT/vps/992/config.json")"
expect_eq "list still served" 2 "$(vpsctl list -a -j | jq length)"
expect_eq "the running VPS still answers" hi "$(vpsctl exec 991 -- echo hi)"
rm -f "$ROOT/filler" "$ROOT"/f[0-9]*
check "with space back, create works" quiet vpsctl create 993 --ostemplate busybox
check "and set" quiet vpsctl set 992 --hostname after
expect_eq "the set landed" after "$(jq -r .hostname "$ROOT/vps/992/config.json")"
finish
