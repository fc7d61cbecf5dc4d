#!/usr/bin/env bash
# What vpsd writes into a guest and how it takes the settings behind it (issue 15, items 4, 8
# and 13): the host's name servers by default (--nameserver inherit, from a host resolv.conf
# that vpsd.conf points at here, a local stub's upstream servers in the stub's place), none,
# explicit ones; addresses with a prefix taken only where it holds; host names up to 253
# characters with a message for each kind of mistake, the kernel's name, /etc/hostname and
# /etc/hosts; the default host name vps<ID>; vpsd --help naming every vpsd.conf setting.
. "$(dirname "$0")/lib.sh"
HOSTRC=$T/host-resolv.conf
UPRC=$T/upstream-resolv.conf
printf 'nameserver 192.0.2.10\nnameserver 2001:db8::53\nsearch corp.example\n' >"$HOSTRC"
printf 'resolv_conf = %s\nresolv_conf_upstream = %s\n' "$HOSTRC" "$UPRC" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
quiet() { "$@" >/dev/null; }
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


# Host names: a 253-character FQDN is taken; the kernel's name (64 at most) is its first
# label, /etc/hosts maps "FQDN SHORT".
L63=$(printf 'a%.0s' $(seq 63))
FQDN="$L63.$L63.$L63.${L63:0:61}"
expect_eq "the test's FQDN has 253 characters" 253 "${#FQDN}"
check "create with a 253-character FQDN" quiet vpsctl create 102 --ostemplate busybox --hostname "$FQDN"
vpsctl start 102 >/dev/null
expect_eq "vpsd keeps the whole name" "$FQDN" "$(vps_field 102 hostname)"
expect_eq "uname -n: its first label, as the kernel holds 64" "$L63" "$(in_vps 102 uname -n)"
expect_eq "/etc/hostname: the same" "$L63" "$(in_vps 102 cat /etc/hostname)"
check "/etc/hosts: 127.0.1.1 FQDN SHORT" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 102 -- cat /etc/hosts | grep -qx '127.0.1.1	$FQDN	$L63'"
vpsctl set 102 --hostname web.example.com >/dev/null
expect_eq "a name that fits is the kernel's whole (set, live)" web.example.com "$(in_vps 102 uname -n)"
check "/etc/hosts: 127.0.1.1 web.example.com web" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 102 -- cat /etc/hosts | grep -qx '127.0.1.1	web.example.com	web'"
expect_error "an empty label" "invalid hostname 'a..b': an empty label" vpsctl create 103 --ostemplate busybox --hostname a..b
expect_error "a leading hyphen" "label '-lead' starts with '-'" vpsctl create 103 --ostemplate busybox --hostname -lead
expect_error "a trailing hyphen" "label 'trail-' ends with '-'" vpsctl set 102 --hostname trail-.example.com
expect_error "a bad character" "'_' is not allowed" vpsctl create 103 --ostemplate busybox --hostname a_b.example
expect_error "a label too long" "has 64 characters, at most 63" vpsctl create 103 --ostemplate busybox --hostname "${L63}a.example"
expect_error "a name too long" "254 characters, at most 253" vpsctl create 103 --ostemplate busybox --hostname "$L63.$L63.$L63.${L63:0:62}"
expect_eq "nothing half-made" "" "$(vps_field 103 id)"

# The default host name: vps<ID>, in the guest too.
vpsctl create 103 --ostemplate busybox >/dev/null
vpsctl start 103 >/dev/null
expect_eq "the default host name is vps<ID>" vps103 "$(vps_field 103 hostname)"
expect_eq "uname -n inside" vps103 "$(in_vps 103 uname -n)"
check "/etc/hosts: 127.0.1.1 vps103" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 103 -- cat /etc/hosts | grep -qx '127.0.1.1	vps103'"

# Prefixes: bridged takes the bridge subnet's ($SUBNET), routed /32 and /128; others are
# refused, saying what a prefix means there.
check "bridged: the subnet's prefix is taken" quiet vpsctl create 104 --ostemplate busybox --ipadd "$NETPFX.5/${SUBNET#*/}"
expect_jq "and stored as the address" '.[] | select(.id == "104") | .ip == ["'"$NETPFX.5"'"]' vpsctl list -a -j
expect_error "bridged: another prefix is refused" "in bridged mode the prefix is the bridge subnet's .${SUBNET//./\\.}., so /16 would not hold: give ${NETPFX//./\\.}\\.6 or" \
        vpsctl create 105 --ostemplate busybox --ipadd "$NETPFX.6/16"
expect_error "set --ipadd too" "in bridged mode the prefix" vpsctl set 104 --ipadd "$NETPFX.7/8"
check "routed: /32 is taken" quiet vpsctl create 106 --ostemplate busybox --netmode routed --ipadd 192.0.2.77/32 --ipadd 2001:db8::77/128
expect_jq "and stored as the addresses" '.[] | select(.id == "106") | .ip == ["192.0.2.77", "2001:db8::77"]' vpsctl list -a -j
expect_error "routed: /24 is refused" "in routed mode each address is routed to the VPS alone, so its prefix can only be /32" \
        vpsctl create 107 --ostemplate busybox --netmode routed --ipadd 192.0.2.78/24
expect_error "routed: /64 is refused" "its prefix can only be /128" \
        vpsctl set 106 --ipadd 2001:db8::78/64
expect_jq "nothing changed by the refused ones" '[.[] | select(.id == "105" or .id == "107")] == [] and (.[] | select(.id == "104") | .ip == ["'"$NETPFX.5"'"])' vpsctl list -a -j

# vpsd --help names every setting vpsd.conf(5) documents.
MAN=$(dirname "$0")/../../man/vpsd.conf.5
keys=$(grep -oE '^\.B[IR]? [a-z_]+ " = ' "$MAN" | awk '{ print $2 }'; grep -oE '\\fP[a-z_]+" " = ' "$MAN" | sed 's/\\fP//; s/".*//')
expect_eq "the man page documents debian_mirror (the list is read)" debian_mirror "$(grep -x debian_mirror <<<"$keys")"
help=$("$VPSD_BIN" --help)
missing=$(for k in $keys; do grep -qw -- "$k" <<<"$help" || echo "$k"; done)
expect_eq "vpsd --help names every vpsd.conf setting" "" "$missing"

finish
