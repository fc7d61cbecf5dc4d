#!/usr/bin/env bash
# The eBPF device program on each VPS cgroup: every process in it (the guest's, exec'd ones,
# even a host root shell moved into it) may open null, zero, full, random, urandom, tty,
# console, ptmx and pty slaves, and nothing else, block devices included; --devnodes tun
# adds /dev/net/tun (a node vpsd makes, owned by the VPS's root) and lets it through.
. "$(dirname "$0")/lib.sh"
start_vpsd
make_running_vps 631
vpsctl exec 631 -- true
CG=$(vps_field 631 cgroup)/vpsd-exec
# A host root shell that joins the VPS's cgroup, then opens a device.
open_in_cg() { sh -c "echo \$\$ > '$CG/cgroup.procs' && exec 3<>'$1'" 2>&1; }
denied_in_cg() { local out; out=$(open_in_cg "$1") || true; grep -q 'Operation not permitted' <<<"$out"; }
opens_in_cg() { local out; out=$(open_in_cg "$1") && [ -z "$out" ]; }

check "inside the VPS cgroup /dev/null opens" opens_in_cg /dev/null
check "and /dev/urandom" opens_in_cg /dev/urandom
check "outside it host root opens /dev/kmsg (the control)" sh -c 'exec 3</dev/kmsg'
check "inside it even host root cannot open /dev/kmsg" denied_in_cg /dev/kmsg
check "nor a block device (/dev/loop0)" denied_in_cg /dev/loop0
check "nor /dev/net/tun without --devnodes" denied_in_cg /dev/net/tun
exec_false "the guest has no /dev/net/tun" 631 test -e /dev/net/tun
check "the guest's own /dev works (a pty, /dev/tty)" vpsctl exec -t 631 -- sh -c 'tty | grep -q /dev/pts/ && echo x > /dev/tty'

expect_error "--devnodes of a running VPS" "stop it to change --devnodes" vpsctl set 631 --devnodes tun
expect_error "an unknown device" "unknown device 'kvm' in --devnodes" vpsctl create 632 --ostemplate busybox --devnodes kvm
check "no VPS 632 left" test ! -e "$ROOT/vps/632"
vpsctl stop 631 --fast >/dev/null
vpsctl set 631 --devnodes tun >/dev/null
expect_eq "saved" '["tun"]' "$(jq -c .devnodes "$ROOT/vps/631/config.json")"
vpsctl start 631 >/dev/null
check "with --devnodes tun the guest opens /dev/net/tun" vpsctl exec 631 -- sh -c 'exec 3<>/dev/net/tun'
expect_eq "its node is the VPS root's" "crw-rw-rw- 0 0 10, 200" \
        "$(vpsctl exec 631 -- ls -ln /dev/net/tun | awk '{ print $1, $3, $4, $5, $6 }')"
check "fuse stays denied" denied_in_cg /dev/fuse
vpsctl stop 631 --fast >/dev/null
vpsctl set 631 --devnodes none >/dev/null
vpsctl start 631 >/dev/null
exec_false "--devnodes none takes it away" 631 test -e /dev/net/tun
finish
