#!/usr/bin/env bash
# Bridged networking with real traffic: host <-> VPS, VPS <-> VPS, VPS -> an upstream host
# through NAT, anti-spoofing, live address changes, bad input, and nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net_helpers.sh"
command -v nft >/dev/null && command -v ip >/dev/null || { echo "FAIL: needs nftables and iproute2"; exit 1; }
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 701 --ostemplate busybox --ipadd "$NETPFX.10" >/dev/null
vpsctl create 702 --ostemplate busybox --ipadd "$NETPFX.11" >/dev/null
vpsctl create 703 --ostemplate busybox >/dev/null
vpsctl start 701 >/dev/null
vpsctl start 702 >/dev/null
vpsctl start 703 >/dev/null
in_vps() { local id=$1; shift; "$VPSCTL_BIN" --socket "$SOCK" exec "$id" -- "$@"; }
ping1() { reach busybox ping -c 1 -W 2 "$1"; }

expect_eq "list shows the address" "$NETPFX.10" "$(vps_field 701 ip | jq -r '.[0]' 2>/dev/null || vpsctl list -j | jq -r '.[] | select(.id=="701") | .ip[0]')"
check "eth0 has the address" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip -4 addr show eth0 | grep -q 'inet $NETPFX.10/24'"
check "default route via the bridge" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip route | grep -q 'default via $NETPFX.1'"
updev=$(awk '$2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route)
upmtu=$(cat "/sys/class/net/$updev/mtu")
check "eth0 takes the MTU of the host's uplink ($updev, $upmtu)" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 701 -- ip link show eth0 | grep -q 'mtu $upmtu '"
check "host end on the bridge" sh -c "ip -o link show $(veth_of 701) | grep -q 'master $BRIDGE'"
check "host pings the VPS" ping1 "$NETPFX.10"
check "VPS pings the gateway" reach in_vps 701 ping -c 1 -W 2 "$NETPFX.1"
check "two VPSes reach each other" reach in_vps 701 ping -c 1 -W 2 "$NETPFX.11"
exec_denied "a VPS without address has no eth0" 703 "can't find device|does not exist" ip link show eth0

# TCP: a server inside answers a client on the host, and one on the other VPS.
in_vps 701 sh -c 'busybox nc -ll -p 8080 -e echo hello-from-701 >/dev/null 2>&1 &'
check "the server in 701 listens" listening 8080 in_vps 701 netstat -ltn
expect_eq "TCP from the host" hello-from-701 "$(tcp_get "$NETPFX.10" 8080 busybox nc)"
expect_eq "TCP from another VPS" hello-from-701 "$(tcp_get "$NETPFX.10" 8080 in_vps 702 nc)"

# An upstream host that knows nothing of the VPS subnet, reached only through the host.
UP=vpsup$N
TEST_NETNS=$UP
ip netns add "$UP"
ip link add "vu$N" type veth peer name eth0 netns "$UP"
ip addr add "10.$N.1.1/24" dev "vu$N"
ip link set "vu$N" up
ip -n "$UP" addr add "10.$N.1.2/24" dev eth0
ip -n "$UP" link set eth0 up
ip -n "$UP" link set lo up
check "VPS reaches the upstream host through NAT" reach in_vps 701 ping -c 1 -W 2 "10.$N.1.2"
# A TCP exchange through NAT; retried on a fresh port. Each server is this test's child (ip
# netns exec execs nc): in TEST_PIDS while it may run, then stopped and reaped by its PID. Its
# stdin is a FIFO this shell holds open: from /dev/null, nc saw EOF at once and closed the
# connection, on a loaded machine before the VPS's line arrived (the server's side showed
# TIME_WAIT, the file stayed empty).
mkfifo "$T/upstream.in"
exec 7<>"$T/upstream.in"
servers=
for port in 9091 9092 9093; do
        # A file of its own per server, so a late arrival at an earlier one is not truncated.
        ip netns exec "$UP" busybox nc -l -p "$port" <&7 >"$T/upstream.$port.out" 2>/dev/null &
        servers="$servers $!"
        TEST_PIDS="${TEST_PIDS:-} $!"
        listening "$port" ip netns exec "$UP" busybox netstat -ltn || true
        in_vps 701 sh -c "echo via-nat | nc -w 5 10.$N.1.2 $port" 2>>"$T/nat-client.err" ||
                echo "client to port $port: exit $?" >>"$T/nat-client.err"
        for _ in $(seq 100); do [ -s "$T/upstream.$port.out" ] && break; sleep 0.1; done
        [ -s "$T/upstream.$port.out" ] && break
done
for pid in $servers; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
exec 7>&-
TEST_PIDS=
via_nat=$(cat "$T"/upstream.*.out | head -n1)
[ -n "$via_nat" ] || { echo "NAT client said:"; cat "$T/nat-client.err" 2>/dev/null; }
expect_eq "TCP to the upstream host works through NAT" via-nat "$via_nat"
check "the upstream host has no route to the VPS subnet" sh -c "! ip -n '$UP' route get '$NETPFX.10' >/dev/null 2>&1"

# Port forwards: the upstream host reaches the VPS's server through a port of the host.
vpsctl set 701 --forward "tcp:18080:8080" >/dev/null
expect_eq "a port forward reaches the VPS" hello-from-701 "$(tcp_get "10.$N.1.1" 18080 ip netns exec "$UP" busybox nc)"
check "the forward is in vpsd's map" sh -c "nft list map ip vpsd_$BRIDGE forwards | grep -q '18080 : $NETPFX.10 . 8080'"
expect_error "a host port forwarded twice" "already forwarded to VPS 701" vpsctl set 702 --forward tcp:18080:80
expect_error "a malformed forward" "invalid forward" vpsctl set 701 --forward tcp:0:80
expect_error "a forward to a VPS without address" "needs the VPS to have an address" vpsctl set 703 --forward tcp:18081:80
vpsctl set 701 --forward none >/dev/null
check "forward none removes it" sh -c "! nft list map ip vpsd_$BRIDGE forwards | grep -q 18080"
# (a connection that still reaches it is tried again for up to 5 s: failed once under ASan
# with the element gone, unexplained; a forward left in place reaches it every time)
not_forwarded() { ! ip netns exec "$UP" busybox nc -w 1 "10.$N.1.1" 18080 </dev/null 2>/dev/null | grep -q hello; }
check "and the port no longer reaches the VPS" eventually 5 not_forwarded
vpsctl set 701 --forward "tcp:18080:8080" >/dev/null
ip link del "vu$N" 2>/dev/null || true

# Anti-spoofing: a VPS that takes a neighbour's address or a foreign one gets nowhere.
in_vps 702 ip addr del "$NETPFX.11/24" dev eth0
in_vps 702 ip addr add "$NETPFX.10/24" dev eth0
in_vps 702 ip route add default via "$NETPFX.1" 2>/dev/null || true
exec_denied "spoofing a neighbour's IP is dropped" 702 "100% packet loss" ping -c 1 -W 1 "$NETPFX.1"
in_vps 702 ip addr del "$NETPFX.10/24" dev eth0
in_vps 702 ip addr add "$NETPFX.11/24" dev eth0
in_vps 702 ip route add default via "$NETPFX.1" 2>/dev/null || true
check "back on its own address it works again" reach in_vps 702 ping -c 1 -W 2 "$NETPFX.1"
# ARP poisoning: 702 announces itself (gratuitous ARP, request and reply) as 701's address;
# the host's neighbour entry for 701 must keep 701's MAC.
mac701=$(in_vps 701 cat /sys/class/net/eth0/address)
ping1 "$NETPFX.10" >/dev/null || true
in_vps 702 arping -U -c 2 -w 2 -I eth0 -s "$NETPFX.10" "$NETPFX.10" >/dev/null 2>&1 || true
in_vps 702 arping -A -c 2 -w 2 -I eth0 -s "$NETPFX.10" "$NETPFX.10" >/dev/null 2>&1 || true
neigh701=$(ip neigh show "$NETPFX.10" dev "$BRIDGE" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
expect_eq "ARP poisoning: the host still has 701's MAC for its address" "$mac701" "$neigh701"
check "and still reaches 701" ping1 "$NETPFX.10"
in_vps 702 ip link set eth0 address 02:00:00:00:00:99
exec_denied "a changed MAC is dropped" 702 "100% packet loss" ping -c 1 -W 1 "$NETPFX.1"

# Traffic counters: bytes to and from each VPS, in list -j and list -o.
rx0=$(vpsctl list -j | jq '.[] | select(.id=="701") | .rx_bytes')
tx0=$(vpsctl list -j | jq '.[] | select(.id=="701") | .tx_bytes')
busybox ping -c 5 -s 1000 -i 0.1 -W 2 "$NETPFX.10" >/dev/null
rx1=$(vpsctl list -j | jq '.[] | select(.id=="701") | .rx_bytes')
tx1=$(vpsctl list -j | jq '.[] | select(.id=="701") | .tx_bytes')
check "rx_bytes counts what the VPS received ($rx0 -> $rx1)" test "$rx1" -ge $((rx0 + 5000))
check "tx_bytes counts what the VPS sent ($tx0 -> $tx1)" test "$tx1" -ge $((tx0 + 5000))
expect_eq "a VPS without network has counted nothing" 0 "$(vpsctl list -j | jq '.[] | select(.id=="703") | .rx_bytes')"
check "list -o shows them" sh -c "'$VPSCTL_BIN' --socket '$SOCK' list -o id,rx_bytes,tx_packets -H | grep -q '^701 '"
# GET /v1/vps/ID reads only that VPS's two counters (not the whole table).
one=$(curl -sf --unix-socket "$SOCK" http://localhost/v1/vps/701)
check "GET /v1/vps/701: rx_bytes as in list -j ($rx1 <= $(jq .rx_bytes <<<"$one"))" test "$(jq .rx_bytes <<<"$one")" -ge "$rx1"
check "GET /v1/vps/701: tx_packets counted" test "$(jq .tx_packets <<<"$one")" -ge 5
expect_eq "GET /v1/vps/703 (no network): nothing counted" 0 "$(curl -sf --unix-socket "$SOCK" http://localhost/v1/vps/703 | jq .rx_bytes)"

# Live address changes.
vpsctl set 701 --ipadd "$NETPFX.20" >/dev/null
check "ipadd takes effect without a restart" ping1 "$NETPFX.20"
expect_eq "and is saved" "$NETPFX.10 $NETPFX.20" "$(jq -r '.ip | join(" ")' "$ROOT/vps/701/config.json")"
vpsctl set 701 --ipdel "$NETPFX.10" >/dev/null
check "ipdel takes effect without a restart" sh -c "! busybox ping -c 1 -W 1 '$NETPFX.10' >/dev/null 2>&1"
check "the other address still works" ping1 "$NETPFX.20"
expect_error "ipdel all refused while port forwards use the address" "has port forwards" vpsctl set 701 --ipdel all
vpsctl set 702 --ipdel all >/dev/null
expect_eq "ipdel all, live: saved without addresses" "" "$(jq -r '.ip | join(" ")' "$ROOT/vps/702/config.json")"
expect_eq "none left on its eth0" "" "$(in_vps 702 ip -4 -o addr show dev eth0 2>/dev/null || true)"
check "and the VPS no longer answers" sh -c "! busybox ping -c 1 -W 1 '$NETPFX.11' >/dev/null 2>&1"
vpsctl set 702 --ipadd "$NETPFX.11" >/dev/null
check "an address added back, live, answers again" ping1 "$NETPFX.11"
vpsctl set 703 --ipadd "$NETPFX.13" >/dev/null
check "a VPS started without a network gets one live" ping1 "$NETPFX.13"
check "with its anti-spoofing elements (port, MAC, address)" sh -c "nft_elem 'bridge vpsd_$BRIDGE' vports 703 && nft list set bridge vpsd_$BRIDGE macs | grep -q '$(veth_of 703)\" . ' && nft_elem 'bridge vpsd_$BRIDGE' addrs 703 $NETPFX.13"
vpsctl set 703 --ipdel all >/dev/null
check "deleted again, live, its veth goes" sh -c "! ip link show $(veth_of 703) >/dev/null 2>&1"
check "and its elements" sh -c "not nft_elem 'bridge vpsd_$BRIDGE' vports 703 && not nft_elem 'bridge vpsd_$BRIDGE' macs 703 && not nft_elem 'bridge vpsd_$BRIDGE' addrs 703"
# A live change that fails halfway (the guest's /etc/hosts made a directory: the addresses
# were changed inside, the guest files cannot follow) is undone, inside and on the host.
in_vps 702 sh -c 'rm -f /etc/hosts && mkdir /etc/hosts'
cfg702=$(md5sum <"$ROOT/vps/702/config.json")
expect_error "a set that cannot write the guest's files fails" "hosts" vpsctl set 702 --ipadd "$NETPFX.14"
expect_eq "its config is unchanged" "$cfg702" "$(md5sum <"$ROOT/vps/702/config.json")"
expect_eq "eth0 inside has its old address back, alone" "$NETPFX.11/24" "$(in_vps 702 ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
check "the new address does not answer" sh -c "! busybox ping -c 1 -W 1 '$NETPFX.14' >/dev/null 2>&1"
check "the old one does" ping1 "$NETPFX.11"
check "the filter lets only the old one out" sh -c "nft_elem 'bridge vpsd_$BRIDGE' addrs 702 $NETPFX.11 && not nft_elem 'bridge vpsd_$BRIDGE' addrs 702 $NETPFX.14"
in_vps 702 rmdir /etc/hosts

# --rate on a bridged VPS, both directions, measured by iperf3 from the host across the
# bridge to a server in 702's network namespace.
vpsctl set 702 --rate 40mbit >/dev/null
iperf_server_in 702
rate_check "bridged: host->VPS holds 40mbit within 10%" 36 44 "$NETPFX.11"
rate_check "bridged: VPS->host holds 40mbit within 10%" 36 44 "$NETPFX.11" -R
vpsctl set 702 --rate unlimited >/dev/null
rate_check "bridged: unlimited, over 200" 201 1000000000 "$NETPFX.11"
iperf_server_stop

# Guest files: hostname, hosts and resolv.conf written by vpsd, never through a planted link.
vpsctl create 705 --ostemplate busybox --hostname web705 --ipadd "$NETPFX.30" \
        --nameserver "$NETPFX.1" --searchdomain "example.com example.net" >/dev/null
vpsctl start 705 >/dev/null
expect_eq "/etc/hostname" web705 "$(in_vps 705 cat /etc/hostname)"
check "/etc/hosts names the VPS" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 705 -- cat /etc/hosts | grep -qx '$NETPFX.30	web705'"
check "/etc/resolv.conf has the name server" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 705 -- cat /etc/resolv.conf | grep -qx 'nameserver $NETPFX.1'"
check "/etc/resolv.conf has the search domains" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 705 -- cat /etc/resolv.conf | grep -qx 'search example.com example.net'"
sentinel=/etc/vps-net-sentinel-$N
echo host >"$sentinel"
in_vps 705 sh -c "ln -sf $sentinel /etc/hosts; ln -sf ../../../../../..$sentinel /etc/hostname; ln -sf /proc/1/root$sentinel /etc/resolv.conf"
vpsctl set 705 --hostname again705 --nameserver "$NETPFX.2" >/dev/null
expect_eq "a planted symlink does not reach the host" host "$(cat "$sentinel")"
rm -f "$sentinel"
check "the link was replaced by the file" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 705 -- sh -c 'test ! -L /etc/hosts && grep -q again705 /etc/hosts'"
expect_eq "set --hostname rewrote /etc/hostname" again705 "$(in_vps 705 cat /etc/hostname)"
check "set --nameserver rewrote resolv.conf" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 705 -- grep -qx 'nameserver $NETPFX.2' /etc/resolv.conf"
expect_eq "files written from the host belong to the VPS's root" 0 "$(in_vps 705 stat -c %u /etc/hosts)"
expect_error "an invalid name server" "--nameserver: invalid IP address" vpsctl set 705 --nameserver 1.2.3
expect_error "an invalid search domain" "invalid search domain" vpsctl set 705 --searchdomain "ok.com bad_domain"
vpsctl stop 705 --fast >/dev/null
vpsctl destroy 705 >/dev/null

# A start that fails on the host side (an interface of the VPS's veth name that is someone
# else's: on no bridge of ours) leaves the VPS stopped and none of its network behind: not
# its filter chain, installed before the failing step, and not the other interface.
vpsctl create 706 --ostemplate busybox --ipadd "$NETPFX.36" >/dev/null
ip link add $(veth_of 706) type veth peer name vtst706
expect_error "a start whose veth name is taken fails" "$(veth_of 706) already exists outside bridge" vpsctl start 706
expect_eq "the VPS is stopped" stopped "$(vps_field 706 status)"
check "its filter elements are gone" sh -c "not nft_elem 'bridge vpsd_$BRIDGE' macs 706 && not nft_elem 'bridge vpsd_$BRIDGE' addrs 706"
check "and its port element" sh -c "not nft_elem 'bridge vpsd_$BRIDGE' vports 706 && not nft_elem 'bridge vpsd_$BRIDGE' tx 706"
check "the other interface is left alone" ip link show $(veth_of 706)
ip link del $(veth_of 706)
check "with the name free it starts" sh -c "'$VPSCTL_BIN' --socket '$SOCK' start 706 >/dev/null && busybox ping -c 1 -W 2 $NETPFX.36 >/dev/null"
vpsctl stop 706 --fast >/dev/null
vpsctl destroy 706 >/dev/null

# Bad input: one line, nothing changed.
before=$(md5sum "$ROOT"/vps/*/config.json)
expect_error "invalid address" "invalid IP address" vpsctl create 704 --ostemplate busybox --ipadd 10.1.2.300
expect_error "address outside the subnet" "outside the bridge subnet" vpsctl create 704 --ostemplate busybox --ipadd 192.0.2.1
expect_error "duplicate address" "already used by VPS 702" vpsctl create 704 --ostemplate busybox --ipadd "$NETPFX.11"
expect_error "the gateway address" "gateway" vpsctl create 704 --ostemplate busybox --ipadd "$NETPFX.1"
expect_error "duplicate on set" "already used by VPS 702" vpsctl set 701 --ipadd "$NETPFX.11"
expect_error "deleting an address it lacks" "has no address" vpsctl set 701 --ipdel "$NETPFX.99"
expect_eq "nothing changed" "$before" "$(md5sum "$ROOT"/vps/*/config.json)"
check "no VPS 704" test ! -e "$ROOT/vps/704"

# Teardown leaves nothing, even when part of it is gone already (the removals are one batch,
# which fails as a whole on a missing element: then they go one by one).
nft delete element bridge "vpsd_$BRIDGE" rx "{ \"$(veth_of 701)\" }"
vpsctl stop 701 --fast >/dev/null
check "its counters gone after a stop with part of the teardown missing" sh -c "! nft list counters table bridge vpsd_$BRIDGE | grep -q -e rx_701 -e tx_701"
check "veth gone after stop" sh -c "! ip link show $(veth_of 701) >/dev/null 2>&1"
check "filter elements gone after stop" sh -c "not nft_elem 'bridge vpsd_$BRIDGE' vports 701 && not nft_elem 'bridge vpsd_$BRIDGE' macs 701 && not nft_elem 'bridge vpsd_$BRIDGE' addrs 701 && not nft_elem 'bridge vpsd_$BRIDGE' tx 701"
check "port forward gone after stop" sh -c "! nft list map ip vpsd_$BRIDGE forwards | grep -q 18080"
vpsctl destroy 702 --force >/dev/null
check "veth gone after destroy" sh -c "! ip link show $(veth_of 702) >/dev/null 2>&1"
check "no port left in the sets" sh -c "out=\$(nft list table bridge vpsd_$BRIDGE) && not grep -q '\"v$NET_TAG' <<<\"\$out\""
check "no traffic counters left" sh -c "! nft list counters table bridge vpsd_$BRIDGE | grep -q -e rx_70 -e tx_70"
# The start path spawns no process (no ip, nft or tc): the only exec that vpsd and its
# children make during a networked start is the VPS's init.
trace_vpsd "$T/start.trace" execve
vpsctl start 701 >/dev/null
untrace_vpsd
# What runs after the init's exec is the guest's (its rc scripts): only execs up to it count.
expect_eq "a networked start execs nothing but the init" '"/sbin/init"' \
        "$(awk '/execve\(/ { split($0, a, "execve\\("); split(a[2], b, ","); print b[1]; if (b[1] == "\"/sbin/init\"") exit }' "$T/start.trace" | tr '\n' ' ' | sed 's/ $//')"
check "restart brings the network back" ping1 "$NETPFX.20"
check "and its port forward" sh -c "nft list map ip vpsd_$BRIDGE forwards | grep -q '18080 : $NETPFX.20 . 8080'"

# vpsd killed and started again: the running VPS keeps its network, filter and counters.
init701=$(vps_field 701 pid)
kill_vpsd
check "with vpsd dead the VPS still answers" ping1 "$NETPFX.20"
start_vpsd
expect_eq "re-adopted with the same init" "$init701" "$(vps_field 701 pid)"
check "after the restart the host reaches it" ping1 "$NETPFX.20"
check "its anti-spoofing elements are still in place" sh -c "nft_elem 'bridge vpsd_$BRIDGE' vports 701 && nft_elem 'bridge vpsd_$BRIDGE' addrs 701 $NETPFX.20 && nft list chain bridge vpsd_$BRIDGE prerouting | grep -q 'iifname @vports jump check'"
check "its port forward too" sh -c "nft list map ip vpsd_$BRIDGE forwards | grep -q '18080 : $NETPFX.20 . 8080'"
check "its counters still count" test "$(vpsctl list -j | jq '.[] | select(.id=="701") | .rx_bytes')" -gt 0

# An upgrade from a vpsd before the skeleton (its chain vps_ID, reached through the map ports,
# and none of the sets' elements): the new vpsd puts the VPS's elements in and removes the old
# chain and map in the batch that switches the rules.
kill_vpsd
nft -f - <<NFT
add map bridge vpsd_$BRIDGE ports { type ifname : verdict; }
add chain bridge vpsd_$BRIDGE vps_701
add rule bridge vpsd_$BRIDGE vps_701 counter name "tx_701"
add element bridge vpsd_$BRIDGE ports { "$(veth_of 701)" : jump vps_701 }
flush chain bridge vpsd_$BRIDGE prerouting
add rule bridge vpsd_$BRIDGE prerouting iifname vmap @ports
flush set bridge vpsd_$BRIDGE vports
flush set bridge vpsd_$BRIDGE macs
flush set bridge vpsd_$BRIDGE addrs
NFT
# This vpsd runs two API starts at once (vpsd.conf start_parallel): the eight below queue.
printf 'start_parallel = 2\n' >"$T/parallel.conf"
VPSD_CONFIG=$T/parallel.conf start_vpsd
check "after an upgrade the older vpsd's chain and map are gone" sh -c "not nft list chain bridge vpsd_$BRIDGE vps_701 >/dev/null 2>&1 && not nft list map bridge vpsd_$BRIDGE ports >/dev/null 2>&1"
check "and the VPS's elements are in" sh -c "nft_elem 'bridge vpsd_$BRIDGE' vports 701 && nft_elem 'bridge vpsd_$BRIDGE' addrs 701 $NETPFX.20 && nft_elem 'bridge vpsd_$BRIDGE' macs 701"
check "the host still reaches it" ping1 "$NETPFX.20"
# Eight starts asked for at once (vpsd runs them side by side, two at a time: vpsd/starts.c;
# the others wait their turn, none is refused): each answer is its own VPS's, each VPS has its
# own init, address and host end, and answers the host.
pids=()
for i in $(seq 1 8); do
        vpsctl create "72$i" --ostemplate busybox --ipadd "$NETPFX.$((40 + i))" >/dev/null
done
for i in $(seq 1 8); do
        vpsctl start "72$i" -j >"$T/start$i.json" 2>&1 &
        pids+=($!)
done
bad=0
for i in $(seq 1 8); do wait "${pids[$((i - 1))]}" || bad=$((bad + 1)); done
expect_eq "eight concurrent starts all succeed" 0 "$bad"
check "with start_parallel 2, some waited their turn" grep -q 'start queued (2 starts in flight, start_parallel 2)' "$ROOT/vpsd.log"
answers=$(for i in $(seq 1 8); do jq -r '"\(.id) \(.status) \(.ip[0])"' "$T/start$i.json"; done | sort | tr '\n' ' ')
expect_eq "each answer is its own VPS's, running" "$(for i in $(seq 1 8); do echo "72$i running $NETPFX.$((40 + i))"; done | tr '\n' ' ')" "$answers"
expect_eq "eight distinct inits" 8 "$(for i in $(seq 1 8); do vps_field "72$i" pid; done | sort -u | grep -c '^[0-9]')"
crossed= elems=$(nft list set bridge "vpsd_$BRIDGE" addrs 2>&1)
for i in $(seq 1 8); do
        a="$NETPFX.$((40 + i))"
        # Whole outputs first: grep -q ending a pipe early would fail it (pipefail).
        eth0=$(in_vps "72$i" ip -4 addr show eth0 2>&1 || true)
        link=$(ip -o link show "$(veth_of "72$i")" 2>&1 || true)
        grep -q "inet $a/24" <<<"$eth0" || crossed+=" 72$i:eth0"
        grep -q "master $BRIDGE" <<<"$link" || crossed+=" 72$i:port"
        grep -qwF "\"$(veth_of "72$i")\" . $a" <<<"$elems" || crossed+=" 72$i:filter"
        ping1 "$a" || crossed+=" 72$i:ping"
done
expect_eq "each has its own address, host end and filter, and answers" "" "$crossed"
pids=()
for i in $(seq 1 8); do
        vpsctl stop "72$i" --fast >/dev/null &
        pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
finish
