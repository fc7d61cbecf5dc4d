#!/usr/bin/env bash
# Routed networking (public addresses, OpenVZ venet style) with real traffic: an upstream
# router (a network namespace on the host's uplink) that sees the VPS's IPv4 and IPv6
# addresses as on-link reaches the VPS through the host's proxy ARP/NDP, and the VPS reaches
# it back; anti-spoofing; live ipadd/ipdel; --rate measured with iperf3; bad input; teardown.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net_helpers.sh"
for tool in nft ip iperf3 nsenter jq; do
        command -v "$tool" >/dev/null || { echo "FAIL: needs $tool"; exit 1; }
done

# The upstream: its own namespace on a veth whose host end is vpsd's uplink. It believes the
# whole /24 and /64 are on its link: only proxy ARP/NDP by the host gets it to a VPS.
UP=vpsrup$N
UPL=vr$N
P4=198.18.$N
P6=2001:db8:$N
TEST_NETNS=$UP
ip netns add "$UP"
ip link add "$UPL" type veth peer name eth0 netns "$UP"
ip addr add "$P4.1/24" dev "$UPL"
ip addr add "$P6::1/64" dev "$UPL" nodad
ip link set "$UPL" up
ip -n "$UP" addr add "$P4.254/24" dev eth0
ip -n "$UP" addr add "$P6::fe/64" dev eth0 nodad
ip -n "$UP" link set eth0 up
ip -n "$UP" link set lo up
TEST_SYSCTL_RESTORE="/proc/sys/net/ipv6/conf/all/forwarding=$(cat /proc/sys/net/ipv6/conf/all/forwarding)"

printf 'netmode = routed\nuplink = %s\nmtu = 999\n' "$UPL" >"$T/vpsd.conf"
expect_error "vpsd refuses a bad mtu" "invalid mtu '999'" env VPSD_CONFIG="$T/vpsd.conf" "$VPSD_BIN" --root "$ROOT" --socket "$SOCK"
printf 'netmode = routed\nuplink = %s\nmtu = 1450\n' "$UPL" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 701 --ostemplate busybox --ipadd "$P4.10" --ipadd "$P6::10" >/dev/null
vpsctl create 702 --ostemplate busybox --ipadd "$P4.11" >/dev/null
vpsctl create 703 --ostemplate busybox --netmode bridged --ipadd "$NETPFX.10" >/dev/null
for id in 701 702 703; do vpsctl start $id >/dev/null; done
in_vps() { local id=$1; shift; "$VPSCTL_BIN" --socket "$SOCK" exec "$id" -- "$@"; }
up() { ip netns exec "$UP" "$@"; }

expect_eq "the default netmode comes from vpsd.conf" routed "$(vps_field 701 netmode)"
expect_eq "--netmode bridged on create" bridged "$(vps_field 703 netmode)"
check "eth0 has the address as a /32" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip -4 addr show eth0 | grep -q 'inet $P4.10/32'"
check "eth0 has the IPv6 address as a /128" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip -6 addr show eth0 | grep -q 'inet6 $P6::10/128'"
check "IPv4 default route via the link-local gateway" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip -4 route | grep -q 'default via 169.254.0.1 dev eth0.*onlink'"
check "IPv6 default route via fe80::1" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip -6 route | grep -q 'default via fe80::1 dev eth0'"
check "the mtu of vpsd.conf on eth0" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip link show eth0 | grep -q 'mtu 1450 '"
check "and on the host end" sh -c "ip link show $(veth_of 701) | grep -q 'mtu 1450 '"
check "no bridge for a routed VPS" sh -c "! ip -o link show $(veth_of 701) | grep -q master"
check "the host routes the address to the veth" sh -c "ip route show $P4.10 | grep -q 'dev $(veth_of 701)'"
check "and the IPv6 one" sh -c "ip -6 route show $P6::10 | grep -q 'dev $(veth_of 701)'"
check "proxy ARP entry on the uplink" sh -c "ip neigh show proxy dev $UPL | grep -q '^$P4.10 '"
check "proxy NDP entry on the uplink" sh -c "ip -6 neigh show proxy dev $UPL | grep -q '^$P6::10 '"

check "the upstream reaches the VPS (IPv4, on-link through proxy ARP)" reach up busybox ping -c 1 -W 2 "$P4.10"
check "the upstream reaches the VPS (IPv6, through proxy NDP)" reach up busybox ping -6 -c 1 -W 2 "$P6::10"
check "the VPS reaches the upstream (IPv4)" reach in_vps 701 ping -c 1 -W 2 "$P4.254"
check "the VPS reaches the upstream (IPv6)" reach in_vps 701 ping -6 -c 1 -W 2 "$P6::fe"
check "the host reaches the VPS" reach busybox ping -c 1 -W 2 "$P4.10"
check "two routed VPSes reach each other" reach in_vps 702 ping -c 1 -W 2 "$P4.10"
check "the bridged VPS beside them still works" reach busybox ping -c 1 -W 2 "$NETPFX.10"
expect_eq "the upstream learnt the VPS address as on-link (a neighbour entry)" 1 \
        "$(up ip neigh show "$P4.10" dev eth0 | grep -c lladdr)"

# TCP from the upstream to a server inside, over IPv4 and IPv6.
in_vps 701 sh -c 'busybox nc -ll -p 8080 -e echo hello-from-701 >/dev/null 2>&1 &'
check "the server in 701 listens" listening 8080 in_vps 701 netstat -ltn
expect_eq "TCP from the upstream" hello-from-701 "$(tcp_get "$P4.10" 8080 up busybox nc)"
expect_eq "TCP from the upstream over IPv6" hello-from-701 "$(tcp_get "$P6::10" 8080 up busybox nc)"

# Anti-spoofing, seen from the upstream: count the echo requests that arrive from each
# source. A foreign address and a neighbour VPS's address get nowhere; its own does.
up nft -f - <<NFT
table inet spy {
        counter own {}
        counter foreign {}
        counter neighbour {}
        counter foreign6 {}
        counter own6 {}
        chain in {
                type filter hook prerouting priority -400;
                ip saddr $P4.10 icmp type echo-request counter name own
                ip saddr $P4.77 icmp type echo-request counter name foreign
                ip saddr $P4.11 icmp type echo-request counter name neighbour
                ip6 saddr $P6::77 icmpv6 type echo-request counter name foreign6
                ip6 saddr $P6::10 icmpv6 type echo-request counter name own6
        }
}
NFT
spied() { up nft -j list counter inet spy "$1" | jq '.nftables[] | select(.counter) | .counter.packets'; }
in_vps 701 ip addr add "$P4.77/32" dev eth0
in_vps 701 ip addr add "$P4.11/32" dev eth0
in_vps 701 ip -6 addr add "$P6::77/128" dev eth0
# Until duplicate address detection is done the address cannot be a source at all.
dad_end=$((SECONDS + 30))
while in_vps 701 ip -6 addr show dev eth0 | grep "$P6::77" | grep -q tentative && [ "$SECONDS" -lt "$dad_end" ]; do sleep 0.1; done
in_vps 701 ping -c 2 -W 1 -I "$P4.77" "$P4.254" >/dev/null 2>&1 || true
in_vps 701 ping -c 2 -W 1 -I "$P4.11" "$P4.254" >/dev/null 2>&1 || true
in_vps 701 ping -6 -c 2 -W 1 -I "$P6::77" "$P6::fe" >/dev/null 2>&1 || true
in_vps 701 ping -c 2 -W 1 -I "$P4.10" "$P4.254" >/dev/null 2>&1 || true
in_vps 701 ping -6 -c 2 -W 1 -I "$P6::10" "$P6::fe" >/dev/null 2>&1 || true
expect_eq "a foreign source address is dropped at the host" 0 "$(spied foreign)"
expect_eq "a neighbour VPS's address is dropped at the host" 0 "$(spied neighbour)"
expect_eq "a foreign IPv6 source is dropped at the host" 0 "$(spied foreign6)"
check "its own address passes (the counters count)" test "$(spied own)" -ge 2
check "its own IPv6 address passes" test "$(spied own6)" -ge 2
in_vps 701 ip addr del "$P4.77/32" dev eth0
in_vps 701 ip addr del "$P4.11/32" dev eth0
in_vps 701 ip -6 addr del "$P6::77/128" dev eth0

# Traffic counters of a routed VPS.
rx0=$(vps_field 701 rx_bytes)
busybox ping -c 5 -s 1000 -i 0.1 -W 2 "$P4.10" >/dev/null
rx1=$(vps_field 701 rx_bytes)
check "rx_bytes counts what a routed VPS received ($rx0 -> $rx1)" test "$rx1" -ge $((rx0 + 5000))
check "tx_bytes is counted too" test "$(vps_field 701 tx_bytes)" -gt 0

# Live address changes, both families.
vpsctl set 701 --ipadd "$P4.20" --ipadd "$P6::20" >/dev/null
check "ipadd IPv4 reaches the upstream without a restart" reach up busybox ping -c 1 -W 2 "$P4.20"
check "ipadd IPv6 too" reach up busybox ping -6 -c 1 -W 2 "$P6::20"
vpsctl set 701 --ipdel "$P4.20" --ipdel "$P6::20" >/dev/null
check "ipdel removes the proxy entries" sh -c "! ip neigh show proxy dev $UPL | grep -q '^$P4.20 ' && ! ip -6 neigh show proxy dev $UPL | grep -q '^$P6::20 '"
check "and the host routes" sh -c "! ip route show $P4.20 | grep -q $(veth_of 701) && ! ip -6 route show $P6::20 | grep -q $(veth_of 701)"
check "the first addresses still work" reach up busybox ping -c 1 -W 2 "$P4.10"
# The IPv6 gateway (fe80::1 on the host end) only for a VPS with IPv6; its first IPv6
# address, added live, brings it.
check "a VPS without IPv6 has no fe80::1 on its host end" sh -c "! ip -6 addr show dev $(veth_of 702) | grep -q 'fe80::1/64'"
check "and the one with IPv6 has" sh -c "ip -6 addr show dev $(veth_of 701) | grep -q 'fe80::1/64'"
vpsctl set 702 --ipadd "$P6::11" >/dev/null
check "its first IPv6 address added live puts fe80::1 there" sh -c "ip -6 addr show dev $(veth_of 702) | grep -q 'fe80::1/64'"
check "and the VPS routes IPv6 through it" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 702 -- ip -6 route | grep -q 'default via fe80::1 dev eth0'"
check "the upstream reaches it over IPv6" reach up busybox ping -6 -c 1 -W 2 "$P6::11"
vpsctl set 702 --ipdel "$P6::11" >/dev/null
# A live change that fails halfway (the guest's /etc/hosts made a directory, after the host
# routed the new address) is undone on the host too: no route, no proxy entry left for it.
in_vps 702 sh -c 'rm -f /etc/hosts && mkdir /etc/hosts'
expect_error "a routed set that cannot write the guest's files fails" "hosts" vpsctl set 702 --ipadd "$P4.12"
check "no host route left for the address" sh -c "! ip route show $P4.12 | grep -q $(veth_of 702)"
check "no proxy entry left for it" sh -c "! ip neigh show proxy dev $UPL | grep -q '^$P4.12 '"
expect_eq "eth0 inside has its old address alone" "$P4.11/32" "$(in_vps 702 ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
check "the old address still reaches the upstream" reach up busybox ping -c 1 -W 2 "$P4.11"
in_vps 702 rmdir /etc/hosts

# --rate, both directions, measured by iperf3 between the host and the VPS's network
# namespace (the shaping is on the veth between them).
vpsctl set 701 --rate 40mbit >/dev/null
expect_eq "the rate is saved in bits per second" 40000000 "$(jq .rate "$ROOT/vps/701/config.json")"
iperf_server_in 701
rate_check "host->VPS holds 40mbit within 10%" 36 44 "$P4.10"
rate_check "VPS->host holds 40mbit within 10%" 36 44 "$P4.10" -R
vpsctl set 701 --rate 100mbit >/dev/null
rate_check "a new rate takes effect live" 90 110 "$P4.10"
vpsctl set 701 --rate unlimited >/dev/null
check "unlimited removes the shaping" sh -c "! tc qdisc show dev $(veth_of 701) | grep -q -e tbf -e clsact"
rate_check "and the speed is back above the old limit (over 200)" 201 1000000000 "$P4.10"
iperf_server_stop
vpsctl set 701 --rate 40mbit >/dev/null
vpsctl stop 701 --fast >/dev/null
vpsctl start 701 >/dev/null
check "the rate comes back with a start" sh -c "tc qdisc show dev $(veth_of 701) | grep -q tbf"
check "with its ifb for what the VPS sends" ip link show $(ifb_of 701)

# Bad input: one line, nothing changed.
before=$(md5sum "$ROOT"/vps/*/config.json)
expect_error "unknown netmode" "unknown netmode 'venet'" vpsctl create 704 --ostemplate busybox --netmode venet
expect_error "a rate that does not parse" "invalid rate '100M'" vpsctl set 701 --rate 100M
expect_error "a rate out of range" "out of range" vpsctl set 701 --rate 1bit
expect_error "a link-local address for a routed VPS" "reserved" vpsctl create 704 --ostemplate busybox --ipadd 169.254.3.3
expect_error "an IPv6 link-local address" "reserved" vpsctl set 702 --ipadd fe80::5
expect_error "IPv6 in bridged mode" "bridged mode has an IPv4 subnet only" vpsctl set 703 --ipadd "$P6::99"
expect_error "a duplicate IPv6 address" "already used by VPS 701" vpsctl create 704 --ostemplate busybox --ipadd "$P6:0::10"
expect_error "the bridge subnet in routed mode" "in the bridge subnet" vpsctl create 704 --ostemplate busybox --ipadd "$NETPFX.50"
expect_error "changing the netmode of a running VPS" "stop it to change its netmode" vpsctl set 701 --netmode bridged
expect_error "a port forward to a routed VPS" "for bridged VPSes" vpsctl set 702 --forward tcp:18080:80
expect_eq "nothing changed" "$before" "$(md5sum "$ROOT"/vps/*/config.json)"
check "no VPS 704" test ! -e "$ROOT/vps/704"
check "a refused create left no proxy entry" sh -c "! ip neigh show proxy dev $UPL | grep -q 169.254"

# vpsd killed and restarted: routed networking undisturbed, counters still read.
kill_vpsd
start_vpsd
check "after a vpsd restart the upstream still reaches the VPS" reach up busybox ping -c 1 -W 2 "$P4.10"
check "and its counters are read" test "$(vps_field 701 rx_bytes)" != null

# Changing the netmode of a stopped VPS, with its addresses.
vpsctl stop 702 --fast >/dev/null
expect_error "bridged with a public address" "outside the bridge subnet" vpsctl set 702 --netmode bridged
vpsctl set 702 --netmode bridged --ipdel all --ipadd "$NETPFX.12" >/dev/null
expect_eq "netmode and addresses changed together" "bridged $NETPFX.12" "$(jq -r '.netmode + " " + .ip[0]' "$ROOT/vps/702/config.json")"
vpsctl start 702 >/dev/null
check "and it works on the bridge" reach busybox ping -c 1 -W 2 "$NETPFX.12"

# Teardown leaves nothing.
vpsctl stop 701 --fast >/dev/null
check "veth gone after stop" sh -c "! ip link show $(veth_of 701) >/dev/null 2>&1"
check "its ifb (--rate) gone too" sh -c "! ip link show $(ifb_of 701) >/dev/null 2>&1"
check "no rx counter map element left" sh -c "! nft list map inet vpsr_$BRIDGE rx | grep -q $(veth_of 701)"
check "no host route left" sh -c "! ip route show $P4.10 | grep -q . && ! ip -6 route show $P6::10 | grep -q v$NET_TAG"
check "no proxy entry left" sh -c "! ip neigh show proxy dev $UPL | grep -q . && ! ip -6 neigh show proxy dev $UPL | grep -q ."
check "no filter elements left" sh -c "not nft_elem 'inet vpsr_$BRIDGE' vports 701 && not nft_elem 'inet vpsr_$BRIDGE' addrs4 701 && not nft_elem 'inet vpsr_$BRIDGE' addrs6 701 && not nft_elem 'inet vpsr_$BRIDGE' tx 701"
check "no counters left" sh -c "! nft list counters table inet vpsr_$BRIDGE | grep -q _701"
check "the upstream no longer reaches the address" sh -c "! ip netns exec $UP busybox ping -c 1 -W 1 $P4.10 >/dev/null 2>&1"
vpsctl destroy 701 >/dev/null
check "the port set is empty" sh -c "not nft_elem 'inet vpsr_$BRIDGE' vports 701"

# A live change whose host side fails after the host routed the new address (the routed
# filter table taken away under vpsd: rewriting the VPS's chain fails) is undone: the guest
# keeps its old address alone, the host has no route or proxy entry for the new one, and
# the old one is still routed.
vpsctl create 708 --ostemplate busybox --ipadd "$P4.30" >/dev/null
vpsctl start 708 >/dev/null
nft delete table inet "vpsr_$BRIDGE"
expect_error "a set whose host side fails" "nftables" vpsctl set 708 --ipadd "$P4.31"
expect_eq "its config keeps the old address" "$P4.30" "$(jq -r '.ip | join(" ")' "$ROOT/vps/708/config.json")"
expect_eq "eth0 inside has the old address alone" "$P4.30/32" "$(in_vps 708 ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
check "no host route for the new address" sh -c "! ip route show $P4.31 | grep -q $(veth_of 708)"
check "no proxy entry for it" sh -c "! ip neigh show proxy dev $UPL | grep -q '^$P4.31 '"
check "the old address is still routed to the VPS" sh -c "ip route show $P4.30 | grep -q 'dev $(veth_of 708)'"
check "and reached from the upstream" reach up busybox ping -c 1 -W 2 "$P4.30"
finish
