#!/usr/bin/env bash
# A live address change that fails inside the VPS (its guest renamed eth0) reports the
# failure in the words of the step that failed, in one line, and changes nothing: not a bare
# "failed (step N)".
. "$(dirname "$0")/lib.sh"
command -v ip >/dev/null || { echo "FAIL: needs iproute2"; exit 1; }
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 761 --ostemplate busybox --ipadd "$NETPFX.61" >/dev/null
vpsctl start 761 >/dev/null
in_vps() { "$VPSCTL_BIN" --socket "$SOCK" exec 761 -- "$@"; }

in_vps ip link set eth0 down
in_vps ip link set eth0 name eth9
expect_error "an address added while eth0 is gone names the failure inside" \
        "inside VPS 761: finding eth0: No such device$" vpsctl set 761 --ipadd "$NETPFX.62"
expect_eq "config.json keeps the addresses of before" "$NETPFX.61" \
        "$(jq -r '.ip | join(" ")' "$ROOT/vps/761/config.json")"
check "the host side keeps the old filter" sh -c "nft_elem 'bridge vpsd_$BRIDGE' addrs 761 $NETPFX.61 && not nft_elem 'bridge vpsd_$BRIDGE' addrs 761 $NETPFX.62"

in_vps ip link set eth9 name eth0
in_vps ip link set eth0 up
vpsctl set 761 --ipadd "$NETPFX.62" >/dev/null
check "with eth0 back, the same change is made" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 761 -- ip -4 addr show eth0 | grep -q 'inet $NETPFX.62/'"
finish
