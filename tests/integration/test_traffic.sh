#!/usr/bin/env bash
# Billing counters: a VPS's traffic (bytes and packets both ways) is cumulative over its runs
# and vpsd's restarts (a clean exit, kill -9, a VPS that died while vpsd was down), shows in
# list -j, list -o, GET /v1/vps/ID and stats (stopped VPSes too), and is zeroed only by
# set --reset-counters. Real traffic: pings from the host to the VPS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net_helpers.sh"
command -v nft >/dev/null && command -v ip >/dev/null || { echo "FAIL: needs nftables and iproute2"; exit 1; }
quiet() { "$@" >/dev/null; }
# Routed mode's uplink: a veth of this test, its other end in a namespace of its own.
UPL=vt$N
P4=198.18.$N
TEST_NETNS=vpstup$N
ip netns add "$TEST_NETNS"
ip link add "$UPL" type veth peer name eth0 netns "$TEST_NETNS"
ip link set "$UPL" up
printf 'uplink = %s\n' "$UPL" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 711 --ostemplate busybox --ipadd "$NETPFX.10" >/dev/null
vpsctl start 711 >/dev/null
# traffic: pings of 1000 bytes each way (at least 5000 bytes and 5 packets both ways).
ADDR=$NETPFX.10 TR_ID=711
# (8 pings: a loaded host may lose a few; the checks need 5.)
traffic() {
        reach busybox ping -c 1 -W 2 "$ADDR" || true
        busybox ping -c 8 -s 1000 -i 0.1 -W 2 "$ADDR" >/dev/null || true
}
tr() { vpsctl list -a -j | jq -r --arg id "$TR_ID" '.[] | select(.id==$id) | [.rx_bytes, .rx_packets, .tx_bytes, .tx_packets] | @tsv'; }
# grew WHAT BEFORE: every figure at least 5000 bytes / 5 packets above BEFORE's.
grew() {
        local what=$1 before=$2 now
        now=$(tr)
        check "$what: ($before) -> ($now)" awk -v a="$before" -v b="$now" 'BEGIN {
                split(a, x, "\t"); split(b, y, "\t")
                exit !(y[1] >= x[1] + 5000 && y[2] >= x[2] + 5 && y[3] >= x[3] + 5000 && y[4] >= x[4] + 5) }'
}
# kept WHAT BEFORE: no figure went below BEFORE's.
kept() {
        local what=$1 before=$2 now
        now=$(tr)
        check "$what: ($before) -> ($now)" awk -v a="$before" -v b="$now" 'BEGIN {
                split(a, x, "\t"); split(b, y, "\t")
                exit !(y[1] >= x[1] && y[2] >= x[2] && y[3] >= x[3] && y[4] >= x[4] && y[1] > 0) }'
}

t0=$(tr)
traffic
grew "the VPS's traffic is counted" "$t0"

t1=$(tr)
check "restart" quiet vpsctl restart 711
kept "a restart keeps the totals" "$t1"
traffic
grew "and they grow from there" "$t1"
expect_eq "traffic.json is root's alone" 600 "$(stat -c %a "$ROOT/vps/711/traffic.json")"

t2=$(tr)
check "stop" quiet vpsctl stop 711
kept "a stopped VPS shows its totals in list -j" "$t2"
t2=$(tr)
expect_eq "which stay as they are while it is stopped" "$t2" "$(tr)"
expect_eq "and in GET /v1/vps/711" "$(cut -f1 <<<"$t2")" "$(curl -sf --unix-socket "$SOCK" http://localhost/v1/vps/711 | jq .rx_bytes)"
expect_eq "and in list -o, not '-'" "711 $(cut -f1 <<<"$t2") $(cut -f4 <<<"$t2")" \
        "$(vpsctl list -a -H -o id,rx_bytes,tx_packets | awk '$1 == 711 { print $1, $2, $3 }')"
# vpsd keeps a stopped VPS's list entry between lists (vpsd/list_view.c): a change shows.
check "set --hostname while stopped" quiet vpsctl set 711 --hostname traffic-renamed
expect_eq "list -a -j shows the new hostname at once" traffic-renamed \
        "$(vpsctl list -a -j | jq -r '.[] | select(.id=="711") | .hostname')"
check "start" quiet vpsctl start 711
traffic
grew "a stop and a start keep them" "$t2"

# stats: a network group with the same figures.
s=$(vpsctl stats 711 -j)
l=$(tr)
check "stats -j: network.rx_bytes as in list ($(jq .network.rx_bytes <<<"$s"), list $(cut -f1 <<<"$l"))" \
        test "$(jq .network.rx_bytes <<<"$s")" -le "$(cut -f1 <<<"$l")" -a "$(jq .network.rx_bytes <<<"$s")" -ge "$(cut -f1 <<<"$t2")"
check "stats -j: all four" jq -e '.network | [.rx_bytes, .rx_packets, .tx_bytes, .tx_packets] | all(. > 0)' <<<"$s"
check "stats prints them" sh -c "'$VPSCTL_BIN' --socket '$SOCK' stats 711 | grep -qE '^received +[0-9]+ bytes'"

# vpsd stops (SIGTERM) and starts again: the VPS runs on, its counters too.
t3=$(tr)
kill "$VPSD_PID"
while kill -0 "$VPSD_PID" 2>/dev/null; do sleep 0.05; done
traffic
start_vpsd
grew "across a restart of vpsd, with traffic while it was down" "$t3"

# What vpsd saw at its exit is saved: a host that loses the counters (a reboot empties
# nftables) keeps it. Here the VPS dies and the table goes while no vpsd runs.
t35=$(tr)
kill "$VPSD_PID"
while kill -0 "$VPSD_PID" 2>/dev/null; do sleep 0.05; done
check "vpsd's exit saved the live counters (earlier runs + this one's)" \
        test "$(jq '.rx_bytes + .seen.rx_bytes' "$ROOT/vps/711/traffic.json")" -ge "$(cut -f1 <<<"$t35")"
pid=$(jq -r .pid "$(state_file 711)")
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
nft delete table bridge "vpsd_$BRIDGE"
start_vpsd
kept "counters gone with the VPS: the totals keep what was saved" "$t35"
check "start" quiet vpsctl start 711

# kill -9 of vpsd, twice: once with the VPS running on, once with the VPS dying meanwhile.
t4=$(tr)
kill_vpsd
traffic
start_vpsd
grew "across kill -9 of vpsd" "$t4"
t5=$(tr)
traffic
pid=$(vps_field 711 pid)
kill_vpsd
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
start_vpsd
expect_eq "VPS 711 is stopped" stopped "$(vps_field 711 status)"
grew "the VPS died while vpsd was killed: its traffic is kept" "$t5"
check "no counter left in nftables" sh -c "! nft list counters table bridge vpsd_$BRIDGE 2>/dev/null | grep -q 'rx_711'"

# Removing the last address of a running VPS (done by a job of vpsd) keeps them too.
check "start" quiet vpsctl start 711
t6=$(tr)
traffic
check "ipdel all" quiet vpsctl set 711 --ipdel all
grew "its last address removed: the totals keep the traffic" "$t6"
t7=$(tr)
check "ipadd" quiet vpsctl set 711 --ipadd "$NETPFX.10"
traffic
grew "an address back: counted again" "$t7"

# Only --reset-counters zeroes them.
check "set --reset-counters on a running VPS" quiet vpsctl set 711 --reset-counters
check "totals near zero ($(tr))" awk -v a="$(tr)" 'BEGIN { split(a, x, "\t"); exit !(x[1] < 2000 && x[3] < 2000) }'
t8=$(tr)
traffic
grew "and counting again" "$t8"
check "stop" quiet vpsctl stop 711
check "set --reset-counters on a stopped VPS" quiet vpsctl set 711 --reset-counters
expect_eq "all zero" "$(printf '0\t0\t0\t0')" "$(tr)"
check "start" quiet vpsctl start 711
check "and a start counts from zero ($(tr))" awk -v a="$(tr)" 'BEGIN { split(a, x, "\t"); exit !(x[1] < 2000 && x[3] < 2000) }'
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -X PATCH -d '{"reset_counters": "yes"}' http://localhost/v1/vps/711)
expect_eq "reset_counters must be a boolean" 400 "$code"
check "and says so" grep -q "'reset_counters' must be true or false" "$T/out"
check "the reset is logged" grep -q "VPS 711: traffic counters reset" "$ROOT/vpsd.log"

# Routed mode keeps its counters in another table (inet vpsr_BRIDGE): folded the same way.
vpsctl create 712 --ostemplate busybox --netmode routed --ipadd "$P4.10" >/dev/null
vpsctl start 712 >/dev/null
ADDR=$P4.10 TR_ID=712
r0=$(tr)
traffic
grew "routed: counted" "$r0"
r1=$(tr)
check "routed: restart" quiet vpsctl restart 712
traffic
grew "routed: a restart keeps them" "$r1"
r2=$(tr)
kill_vpsd
traffic
start_vpsd
check "routed: stop" quiet vpsctl stop 712
grew "routed: kill -9 of vpsd and a stop keep them" "$r2"
finish
