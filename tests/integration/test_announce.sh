#!/usr/bin/env bash
# A VPS's addresses announced where they now live (vpsd.conf announce; issue 18: a migrated
# VPS's gratuitous ARP and unsolicited neighbour advertisement), seen as the neighbours see
# them: each holds a stale entry for the VPS's address at a wrong MAC, and only the
# announcement can put it right (nothing else is sent to them). Routed: an upstream router (a
# namespace on the uplink) learns the uplink's MAC for the VPS's IPv4 and IPv6 addresses.
# Bridged: a neighbour on vpsd's bridge (a namespace with a port on it, as a host on a shared
# segment) learns the VPS's own MAC. announce = always: every start and every address added
# live (set --ipadd); never: none; migrated
# (the default): only the first start of a VPS restored as a migration's copy (the marker
# its restore leaves), and not the next. A bad value: vpsd refuses to start, naming it.
NET_TEST=1
. "$(dirname "$0")/lib.sh"
for tool in ip nsenter jq; do
        command -v "$tool" >/dev/null || { echo "FAIL: needs $tool"; exit 1; }
done

UP=vpsaup$N UPL=va$N NB=vpsanb$N NBL=vn$N
P4=198.18.$N P6=2001:db8:$N
TEST_NETNS="$UP $NB"
ip netns add "$UP"
ip link add "$UPL" type veth peer name eth0 netns "$UP"
ip addr add "$P4.1/24" dev "$UPL"
ip link set "$UPL" up
ip -n "$UP" addr add "$P4.254/24" dev eth0
ip -n "$UP" addr add "$P6::fe/64" dev eth0 nodad
ip -n "$UP" link set eth0 up
TEST_SYSCTL_RESTORE="/proc/sys/net/ipv6/conf/all/forwarding=$(cat /proc/sys/net/ipv6/conf/all/forwarding)"
UPMAC=$(cat "/sys/class/net/$UPL/address")
WRONG=02:00:00:00:00:99

# wrong NS ADDR: NS's entry for ADDR set to a wrong MAC (stale: nothing probes it).
wrong() { ip -n "$1" neigh replace "$2" lladdr "$WRONG" dev eth0 nud stale; }
# mac_of NS ADDR: the MAC of NS's entry for ADDR.
mac_of() { ip -n "$1" neigh show "$2" dev eth0 | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'; }
# learns WHAT NS ADDR MAC: NS's entry for ADDR comes to say MAC (within 2 s).
learns() {
        for _ in $(seq 20); do [ "$(mac_of "$2" "$3")" = "$4" ] && break; sleep 0.1; done
        expect_eq "$1" "$4" "$(mac_of "$2" "$3")"
}
# keeps WHAT NS ADDR: NS's entry for ADDR still says the wrong MAC a second later.
keeps() { sleep 1; expect_eq "$1" "$WRONG" "$(mac_of "$2" "$3")"; }
restart_vpsd() {
        kill "$VPSD_PID"
        while ! proc_gone "$VPSD_PID"; do sleep 0.05; done
        start_vpsd
}

printf 'netmode = routed\nuplink = %s\nannounce = sometimes\n' "$UPL" >"$T/vpsd.conf"
expect_error "vpsd refuses a bad announce, naming it" \
        "invalid announce 'sometimes': migrated, always or never" \
        env VPSD_CONFIG="$T/vpsd.conf" "$VPSD_BIN" --root "$ROOT" --socket "$SOCK"
printf 'netmode = routed\nuplink = %s\nannounce = always\n' "$UPL" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 801 --ostemplate busybox --ipadd "$P4.10" --ipadd "$P6::10" >/dev/null
vpsctl create 802 --ostemplate busybox --netmode bridged --ipadd "$NETPFX.20" >/dev/null
# 802's first start makes vpsd's bridge; the neighbour's port goes on it after.
vpsctl start 802 >/dev/null
vpsctl stop 802 >/dev/null
ip netns add "$NB"
ip link add "$NBL" type veth peer name eth0 netns "$NB"
ip link set "$NBL" master "$BRIDGE" up
ip -n "$NB" addr add "$NETPFX.250/24" dev eth0
ip -n "$NB" link set eth0 up

# --- always ----------------------------------------------------------------------------------
wrong "$UP" "$P4.10"
wrong "$UP" "$P6::10"
wrong "$NB" "$NETPFX.20"
expect_eq "the neighbours start with the wrong MAC" "$WRONG $WRONG $WRONG" \
        "$(mac_of "$UP" "$P4.10") $(mac_of "$UP" "$P6::10") $(mac_of "$NB" "$NETPFX.20")"
OUT=$(vpsctl start 801 -j)
vpsctl start 802 >/dev/null
learns "routed, always: the upstream learns the uplink's MAC for the IPv4 address (gratuitous ARP)" \
        "$UP" "$P4.10" "$UPMAC"
learns "and for the IPv6 address (unsolicited neighbour advertisement)" "$UP" "$P6::10" "$UPMAC"
MAC802=$(vpsctl exec 802 -- cat /sys/class/net/eth0/address)
learns "bridged, always: the bridge's neighbour learns the VPS's own MAC" "$NB" "$NETPFX.20" "$MAC802"
wrong "$UP" "$P4.11"
vpsctl set 801 --ipadd "$P4.11" >/dev/null
learns "always: an address added live is announced too" "$UP" "$P4.11" "$UPMAC"
expect_jq "the start's answer has no warning about it" \
        '(.warning // "") | contains("announce") | not' echo "$OUT"

# --- never -----------------------------------------------------------------------------------
vpsctl stop 801 >/dev/null
vpsctl stop 802 >/dev/null
printf 'netmode = routed\nuplink = %s\nannounce = never\n' "$UPL" >"$T/vpsd.conf"
restart_vpsd
wrong "$UP" "$P4.10"
wrong "$UP" "$P6::10"
wrong "$NB" "$NETPFX.20"
vpsctl start 801 >/dev/null
vpsctl start 802 >/dev/null
keeps "never: the upstream keeps its entry (IPv4)" "$UP" "$P4.10"
keeps "never: the upstream keeps its entry (IPv6)" "$UP" "$P6::10"
keeps "never: the bridge's neighbour keeps its entry" "$NB" "$NETPFX.20"

# --- migrated (the default) ------------------------------------------------------------------
vpsctl stop 801 >/dev/null
printf 'netmode = routed\nuplink = %s\n' "$UPL" >"$T/vpsd.conf"
restart_vpsd
wrong "$UP" "$P4.10"
vpsctl start 801 >/dev/null
keeps "migrated: a VPS that did not move is not announced" "$UP" "$P4.10"
# A migration's copy, restored as the destination's vpsctl restores it (--migrated-from).
vpsctl backup 801 --to - | vpsctl restore - 805 --migrated-from src-host --ipadd "$P4.15" -j >/dev/null ||
        fail "restore 805 as a migration's copy"
check "the restore marks its addresses to announce (root's, 0600)" \
        test "$(stat -c '%a %u' "$ROOT/vps/805/announce" 2>/dev/null)" = "600 0"
wrong "$UP" "$P4.15"
vpsctl start 805 >/dev/null
learns "migrated: its first start announces it" "$UP" "$P4.15" "$UPMAC"
check "and takes the mark away" test ! -e "$ROOT/vps/805/announce"
vpsctl stop 805 >/dev/null
wrong "$UP" "$P4.15"
vpsctl start 805 >/dev/null
keeps "migrated: its next start does not announce it again" "$UP" "$P4.15"
# A backup restored without --migrated-from is no migration: no mark.
vpsctl backup 802 --to - | vpsctl restore - 806 --ipadd "$NETPFX.26" -j >/dev/null || fail "restore 806"
check "a plain restore leaves no mark" test ! -e "$ROOT/vps/806/announce"
finish
