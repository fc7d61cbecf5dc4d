#!/usr/bin/env bash
# Port forwards and the host's own ports: a host port a host socket listens on (TCP) or is bound
# to (UDP) is refused, naming the process; one another VPS forwards is refused; one below 1024
# needs --force (API "force": true). A forward answers from the host itself, 127.0.0.1 included
# (vpsctl(8): "any local address"), and from the host's other addresses (the bridge's here).
# Only loopback and this test's bridge carry traffic; the listeners are the test's own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net_helpers.sh"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 721 --ostemplate busybox --ipadd "$NETPFX.21" >/dev/null
vpsctl create 722 --ostemplate busybox --ipadd "$NETPFX.22" >/dev/null
vpsctl start 721 >/dev/null

# Host ports nobody uses now: one the test then listens on, two for forwards.
HP1=$(free_port) HPU=$(free_port) HP2=$(free_port) HP3=$(free_port)
busybox nc -ll -p "$HP1" -e true </dev/null >/dev/null 2>&1 &
LPID=$!
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(600)' "$HPU" </dev/null >/dev/null 2>&1 &
UPID=$!
TEST_PIDS="$LPID $UPID"
listening "$HP1" ss -ltn || fail "the test's host listener on $HP1 did not come up"
listening "$HPU" ss -lun || fail "the test's host UDP socket on $HPU did not come up"

expect_error "a host port a host service listens on is refused, naming it" \
        "host port tcp $HP1 is in use on the host: busybox \\(pid $LPID\\) listens on it" \
        vpsctl set 721 --forward "tcp:$HP1:80"
expect_error "a UDP port a host socket is bound to" \
        "host port udp $HPU is in use on the host: python[0-9.]* \\(pid $UPID\\) is bound to it" \
        vpsctl set 721 --forward "udp:$HPU:53"
expect_error "also at create" "host port tcp $HP1 is in use on the host" \
        vpsctl create 723 --ostemplate busybox --ipadd "$NETPFX.23" --forward "tcp:$HP1:80"
check "a refused create leaves no VPS" test ! -e "$ROOT/vps/723"
expect_eq "a refused set changes nothing" "[]" "$(jq -c '.forward // []' "$ROOT/vps/721/config.json")"

vpsctl set 722 --forward "tcp:$HP2:80" >/dev/null
expect_error "a host port another VPS forwards" "host port tcp $HP2 is already forwarded to VPS 722" \
        vpsctl set 721 --forward "tcp:$HP2:80"

# Below 1024: a host service's port, taken only when the operator says so.
LOW=1022
ss -Htaun "sport = :$LOW" | grep -q . && LOW=1021
expect_error "a host port below 1024 needs --force" \
        "host port tcp $LOW is below 1024, where host services live: give --force" \
        vpsctl set 721 --forward "tcp:$LOW:80"
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -X PATCH \
        -d "{\"forward\": [\"tcp:$LOW:80\"]}" http://localhost/v1/vps/721)
expect_eq "the API refuses it too (403)" 403 "$code"
check "--force takes it" vpsctl set 721 --forward "tcp:$LOW:8080" --force
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -X PATCH \
        -d "{\"forward\": [\"tcp:$LOW:8080\", \"tcp:$HP3:8080\"]}" http://localhost/v1/vps/721)
expect_eq "a forward it has already needs no --force again" 200 "$code"
check "the API's \"force\": true as well" curl -sf -o /dev/null --unix-socket "$SOCK" -X PATCH \
        -d "{\"forward\": [\"tcp:$HP3:8080\", \"tcp:$LOW:8080\"], \"force\": true}" http://localhost/v1/vps/721

# The forward answers from the host: a server of the test's inside the VPS.
in_vps() { vpsctl exec "$1" -- "${@:2}"; }
in_vps 721 sh -c 'busybox nc -ll -p 8080 -e echo hello-from-721 >/dev/null 2>&1 &'
check "the server in 721 listens" listening 8080 in_vps 721 netstat -ltn
expect_eq "a forward answers on 127.0.0.1" hello-from-721 "$(tcp_get 127.0.0.1 "$HP3" busybox nc)"
expect_eq "and on the host's other address (the bridge's)" hello-from-721 \
        "$(tcp_get "$NETPFX.1" "$HP3" busybox nc)"
expect_eq "and the one below 1024" hello-from-721 "$(tcp_get 127.0.0.1 "$LOW" busybox nc)"
check "a loopback source never enters from the bridge" sh -c \
        "nft list chain ip vpsd_$BRIDGE localnet | grep -q 'iifname \"$BRIDGE\" ip saddr 127.0.0.0/8 drop'"
check "nor a loopback destination" sh -c \
        "nft list chain ip vpsd_$BRIDGE localnet | grep -q 'iifname \"$BRIDGE\" ip daddr 127.0.0.0/8 drop'"
vpsctl set 721 --forward none >/dev/null
check "forward none gives the port back" sh -c "! nft list map ip vpsd_$BRIDGE forwards | grep -qw $HP3"
finish
