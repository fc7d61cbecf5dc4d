#!/usr/bin/env bash
# Issue 14: what a VPS's root can send past its port, and what it can reach of the host.
# 1. Anti-spoofing as an allowlist. A raw-socket probe inside bridged VPS 801 sends crafted
#    frames: 802.1Q/802.1ad/priority-tagged IPv4 from a foreign address, a tagged ARP reply
#    claiming the gateway, a foreign ether type, an ARP reply with a foreign sender MAC or IP,
#    a foreign IPv4 or Ethernet source, a DHCP server answer, IPv6. A listener on the host end
#    of 801's veth sees every one leave the VPS; one in neighbour 802's eth0 must see none,
#    and does see the same probe's legitimate frame (own MAC, own address, untagged).
#    Routed VPS 811: router advertisements, :: sources and DHCP answers counted by nft just
#    after vpsd's chain must be none, its own UDP must pass.
# 2. Host services. A listener on 0.0.0.0 of the host answers on 127.0.0.1 but not to a VPS
#    at its gateway (bridged and routed), while ping to the gateway, the host's connections to
#    a VPS and port forwards work; with vpsd.conf host_allow naming the port it answers.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/net_helpers.sh"
PROBE=${VPS_PROBE_DIR:-$BUILD/tests}/vps-probe-rawframe
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
for tool in nft ip nsenter jq busybox ss; do
        command -v "$tool" >/dev/null || { echo "FAIL: needs $tool"; exit 1; }
done
MAGIC=vpsspoof$$
SPY=vpsspy$N
trap 'rc=$?; nft delete table inet "$SPY" 2>/dev/null || true; cleanup "$rc"' EXIT

# Routed VPSes answer ARP through an uplink of this test's own: a veth to a namespace.
UP=vpssup$N
UPL=vs$N
P4=198.19.$N
TEST_NETNS=$UP
ip netns add "$UP"
ip link add "$UPL" type veth peer name eth0 netns "$UP"
ip addr add "$P4.1/24" dev "$UPL"
ip link set "$UPL" up
ip -n "$UP" addr add "$P4.254/24" dev eth0
ip -n "$UP" link set eth0 up
printf 'uplink = %s\n' "$UPL" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 801 --ostemplate busybox --ipadd "$NETPFX.10" >/dev/null
vpsctl create 802 --ostemplate busybox --ipadd "$NETPFX.11" >/dev/null
vpsctl create 811 --ostemplate busybox --netmode routed --ipadd "$P4.10" >/dev/null
for id in 801 802 811; do vpsctl start "$id" >/dev/null; done
in_vps() { local id=$1; shift; "$VPSCTL_BIN" --socket "$SOCK" exec "$id" -- "$@"; }
netns_of() { echo "/proc/$(vps_field "$1" pid)/ns/net"; }
for id in 801 811; do in_vps "$id" sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"; done

# listen NAME SECONDS COMMAND...: a listener (COMMAND, ending in the probe's "listen IFACE"
# arguments) in the background, its counts in $T/NAME; returns once it listens.
listen() {
        local name=$1 secs=$2
        shift 2
        "$@" "$secs" "$MAGIC" >"$T/$name" 2>&1 &
        LISTENERS="${LISTENERS:-} $!"
        TEST_PIDS="${TEST_PIDS:-} $!"
        for _ in $(seq 100); do grep -q '^ready' "$T/$name" && return 0; sleep 0.05; done
        fail "listener $name did not start: $(cat "$T/$name")"
}
listeners_done() { local p; for p in $LISTENERS; do wait "$p" 2>/dev/null || true; done; LISTENERS=; }
seen() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$T/$1"; }

# 1. Bridged: every kind of frame, seen leaving 801 and not arriving at 802.
SPOOFS="vlan-ip vlan0-ip qinq-ip vlan-arp ethertype arp-mac arp-ip ip-src mac-src dhcp-offer ipv6-ll"
listen port 8 "$PROBE" listen $(veth_of 801)
listen neighbour 8 nsenter --net="$(netns_of 802)" "$PROBE" listen eth0
out=$(in_vps 801 /probe send eth0 "$MAGIC" "$NETPFX.10" "$NETPFX.11" "$NETPFX.1" "$NETPFX.99" good $SPOOFS 2>&1) || true
listeners_done
expect_eq "the probe in 801 sent every frame" "$(echo good $SPOOFS | wc -w)" "$(grep -c '^sent ' <<<"$out")"
check "the legitimate frame reaches the neighbour (positive control)" test "$(seen neighbour good)" -ge 1
for k in good $SPOOFS; do
        check "$k: seen leaving 801 on its port" test "$(seen port "$k")" -ge 1
done
for k in $SPOOFS; do
        expect_eq "$k: never reaches the neighbour" 0 "$(seen neighbour "$k")"
done

# Routed: counted by nft right after vpsd's chain (priority -300), in a table of the test.
nft -f - <<NFT
table inet $SPY {
        counter good {}
        counter ra {}
        counter unspec {}
        counter dhcp {}
        chain pre {
                type filter hook prerouting priority -200;
                iifname "$(veth_of 811)" ip saddr $P4.10 udp sport 9 counter name good
                iifname "$(veth_of 811)" icmpv6 type nd-router-advert counter name ra
                iifname "$(veth_of 811)" ip6 saddr :: meta l4proto udp counter name unspec
                iifname "$(veth_of 811)" udp sport 67 counter name dhcp
        }
}
NFT
spied() { nft -j list counter inet "$SPY" "$1" | jq '.nftables[] | select(.counter) | .counter.packets'; }
listen rport 6 "$PROBE" listen $(veth_of 811)
out=$(in_vps 811 /probe send eth0 "$MAGIC" "$P4.10" 169.254.0.1 169.254.0.1 "$P4.99" good ra v6-unspec dhcp-offer 2>&1) || true
listeners_done
expect_eq "the probe in 811 sent every frame" 4 "$(grep -c '^sent ' <<<"$out")"
for k in good ra v6-unspec dhcp-offer; do
        check "routed $k: seen leaving 811 on its veth" test "$(seen rport "$k")" -ge 1
done
check "routed: its own UDP passes vpsd's chain (positive control)" test "$(spied good)" -ge 1
expect_eq "routed: a router advertisement to the host is dropped" 0 "$(spied ra)"
expect_eq "routed: UDP from :: is dropped" 0 "$(spied unspec)"
expect_eq "routed: a DHCP server answer is dropped" 0 "$(spied dhcp)"
check "the host took no address from it" sh -c "! ip -6 addr show dev $(veth_of 811) | grep -q 2001:db8:5f00"

# 2. Host services: a listener on every address of the host, on a free port.
free_port() {
        local p
        for _ in $(seq 50); do
                p=$((20000 + RANDOM % 20000))
                [ -z "$(ss -Hltn "sport = :$p")" ] && echo "$p" && return
        done
}
PORT=$(free_port)
busybox nc -ll -p "$PORT" -e echo host-service </dev/null >/dev/null 2>&1 &
TEST_PIDS="${TEST_PIDS:-} $!"
check "the host service listens on $PORT" listening "$PORT" ss -ltn
expect_eq "the host service answers on 127.0.0.1 (positive control)" host-service "$(tcp_get 127.0.0.1 "$PORT" busybox nc)"
vps_get() { in_vps "$1" nc -w 3 "$2" "$3" </dev/null 2>/dev/null || true; }
expect_eq "bridged: not reached at the gateway" "" "$(vps_get 801 "$NETPFX.1" "$PORT")"
expect_eq "bridged: nor at another host address" "" "$(vps_get 801 "$P4.1" "$PORT")"
expect_eq "routed: not reached at its gateway" "" "$(vps_get 811 169.254.0.1 "$PORT")"
expect_eq "routed: nor at the uplink's address" "" "$(vps_get 811 "$P4.1" "$PORT")"
check "bridged: ping to the gateway works" reach in_vps 801 ping -c 1 -W 2 "$NETPFX.1"
check "routed: ping to the gateway works" reach in_vps 811 ping -c 1 -W 2 169.254.0.1
# What the host opens to a VPS gets its answers, and VPS to VPS is untouched.
in_vps 802 sh -c 'busybox nc -ll -p 8080 -e echo hello-from-802 >/dev/null 2>&1 &'
check "the server in 802 listens" listening 8080 in_vps 802 netstat -ltn
expect_eq "the host reaches a VPS's server (replies come back)" hello-from-802 "$(tcp_get "$NETPFX.11" 8080 busybox nc)"
expect_eq "a VPS reaches its neighbour" hello-from-802 "$(tcp_get "$NETPFX.11" 8080 in_vps 801 nc)"
expect_eq "a routed VPS reaches a bridged one" hello-from-802 "$(tcp_get "$NETPFX.11" 8080 in_vps 811 nc)"
FPORT=$(free_port)
vpsctl set 802 --forward "tcp:$FPORT:8080" >/dev/null
expect_eq "a port forward of the host reaches the VPS" hello-from-802 "$(tcp_get "$NETPFX.1" "$FPORT" busybox nc)"
expect_eq "and from the upstream" hello-from-802 "$(tcp_get "$P4.1" "$FPORT" ip netns exec "$UP" busybox nc)"
# DNS is open by default (the host may serve the VPSes' resolver): when port 53 is free here.
if [ -z "$(ss -Hltn 'sport = :53')" ]; then
        busybox nc -ll -p 53 -e echo dns-ok </dev/null >/dev/null 2>&1 &
        TEST_PIDS="${TEST_PIDS:-} $!"
        listening 53 ss -ltn || true
        expect_eq "DNS on the host (tcp:53) is open to a VPS by default" dns-ok "$(tcp_get "$NETPFX.1" 53 in_vps 801 nc)"
else
        echo "note: port 53 is taken on this host: the default DNS opening is not tried"
fi

# vpsd.conf host_allow: checked, and the port it names open to the VPSes once vpsd starts
# with it (the running VPSes keep running: vpsd renews the filters of what it re-adopts).
printf 'host_allow = tcp:0\n' >"$T/bad.conf"
expect_error "vpsd refuses a bad host_allow" "invalid host_allow item 'tcp:0'" env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$ROOT" --socket "$SOCK"
kill_vpsd
printf 'uplink = %s\nhost_allow = udp:53, tcp:53, tcp:%s\n' "$UPL" "$PORT" >"$T/vpsd.conf"
start_vpsd
expect_eq "host_allow: bridged reaches the port" host-service "$(tcp_get "$NETPFX.1" "$PORT" in_vps 801 nc)"
expect_eq "host_allow: routed reaches the port" host-service "$(tcp_get 169.254.0.1 "$PORT" in_vps 811 nc)"
check "after the restart 801's port still goes through the checks and the guard" sh -c "nft_elem 'bridge vpsd_$BRIDGE' vports 801 && nft list chain bridge vpsd_$BRIDGE check | grep -q 'jump guard'"
finish
