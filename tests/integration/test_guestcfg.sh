#!/usr/bin/env bash
# What vpsd writes into a guest and how it takes the settings behind it (issue 15, items 4, 8
# and 13): the host's name servers by default (--nameserver inherit, from a host resolv.conf
# that vpsd.conf points at here, a local stub's upstream servers in the stub's place), none,
# explicit ones.
. "$(dirname "$0")/lib.sh"
HOSTRC=$T/host-resolv.conf
UPRC=$T/upstream-resolv.conf
printf 'nameserver 192.0.2.10\nnameserver 2001:db8::53\nsearch corp.example\n' >"$HOSTRC"
printf 'resolv_conf = %s\nresolv_conf_upstream = %s\n' "$HOSTRC" "$UPRC" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
in_vps() { local id=$1; shift; "$VPSCTL_BIN" --socket "$SOCK" exec "$id" -- "$@"; }
resolv() { in_vps "$1" cat /etc/resolv.conf; }
# lines_of ID PATTERN: the lines of the guest's resolv.conf matching PATTERN, one line
lines_of() { resolv "$1" | grep -E "$2" | tr '\n' ' ' | sed 's/ $//'; }

# --nameserver inherit, the default: the host's servers (a bridged VPS has no IPv6, so not
# the IPv6 one) and its search domains.
vpsctl create 101 --ostemplate busybox >/dev/null
vpsctl start 101 >/dev/null
expect_jq "a new VPS inherits the host's name servers" '.[] | select(.id == "101") | .nameserver == ["inherit"]' vpsctl list -a -j
expect_eq "its resolv.conf holds the host's server" "nameserver 192.0.2.10" "$(lines_of 101 ^nameserver)"
expect_eq "and the host's search domains" "search corp.example" "$(lines_of 101 ^search)"

# A local stub (systemd-resolved's 127.0.0.53): its upstream servers instead, read again by
# set --nameserver inherit on a running VPS.
printf '# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n' >"$HOSTRC"
printf 'nameserver 198.51.100.7\nnameserver 127.0.0.1\nnameserver 198.51.100.8\nsearch lan.example\n' >"$UPRC"
vpsctl set 101 --nameserver inherit >/dev/null
expect_eq "a local stub stands for its upstream servers" "nameserver 198.51.100.7 nameserver 198.51.100.8" "$(lines_of 101 ^nameserver)"
expect_eq "with the upstream's search domains" "search lan.example" "$(lines_of 101 ^search)"
# and at a start, with the VPS's own search domains kept
vpsctl set 101 --searchdomain own.example >/dev/null
printf 'nameserver 198.51.100.9\n' >"$UPRC"
vpsctl stop 101 >/dev/null
vpsctl start 101 >/dev/null
expect_eq "the upstream servers are read at each start" "nameserver 198.51.100.9" "$(lines_of 101 ^nameserver)"
expect_eq "the VPS's own search domains win" "search own.example" "$(lines_of 101 ^search)"

# none clears; explicit servers replace; inherit comes back.
vpsctl set 101 --nameserver none >/dev/null
expect_jq "none is kept as none" '.[] | select(.id == "101") | .nameserver == ["none"]' vpsctl list -a -j
check "none: no name server in the guest" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 101 -- cat /etc/resolv.conf | grep -q 'no name server' && ! '$VPSCTL_BIN' --socket '$SOCK' exec 101 -- cat /etc/resolv.conf | grep -q ^nameserver"
vpsctl set 101 --searchdomain other.example >/dev/null
expect_jq "a search domain change keeps none" '.[] | select(.id == "101") | .nameserver == ["none"]' vpsctl list -a -j
vpsctl set 101 --nameserver 203.0.113.5 --nameserver 203.0.113.6 >/dev/null
expect_eq "explicit servers" "nameserver 203.0.113.5 nameserver 203.0.113.6" "$(lines_of 101 ^nameserver)"
expect_error "none beside an address is refused" "stands alone" vpsctl set 101 --nameserver none --nameserver 192.0.2.1
expect_error "inherit beside an address is refused" "stands alone" vpsctl set 101 --nameserver 192.0.2.1 --nameserver inherit
echo 'resolv_conf = etc/resolv.conf' >"$T/bad.conf"
expect_error "vpsd.conf refuses a relative resolv_conf" "resolv_conf takes an absolute path" \
        env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock"
vpsctl set 101 --nameserver inherit >/dev/null
expect_eq "inherit again" "nameserver 198.51.100.9" "$(lines_of 101 ^nameserver)"
# The host with nothing a VPS can reach: the start says so, and no stale server stays.
printf 'nameserver 127.0.0.53\n' >"$HOSTRC"
rm -f "$UPRC"
vpsctl stop 101 >/dev/null
expect_jq "a start without a reachable server warns" '.warning | test("no name server")' vpsctl start 101 -j
expect_eq "and leaves no server behind" "" "$(lines_of 101 ^nameserver || true)"

finish
