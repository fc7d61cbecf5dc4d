#!/bin/bash
# Guest test: free inside a VPS shows its --ram, /proc/meminfo and /proc/cpuinfo its --ram and
# --cpus, not the guest's 1 GiB and 2 CPUs. Runs in the qemu guest of tests/vm/run, where the
# VPS's cgroup has a memory controller. /proc comes from LXCFS; free (busybox's, and procps's
# as on a Debian VPS) asks sysinfo(2), which vpsd answers from the cgroup. procps's free is
# imported as a template: the busybox tree plus /usr/bin/free and its libraries.
. "$(dirname "$0")/../integration/lib.sh"

grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: no memory controller in $CG_MOUNT (run this through tests/vm/run)"; exit 77; }
command -v lxcfs >/dev/null || { echo "FAIL: lxcfs is not installed"; exit 1; }
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
[ -e /dev/fuse ] || { echo "FAIL: no /dev/fuse in the guest"; exit 1; }

LX=$T/lxcfs
mkdir -p "$LX"
lxcfs -f -p "$T/lxcfs.pid" --enable-cfs "$LX" >"$T/lxcfs.log" 2>&1 &
TEST_PIDS=$!
TEST_MOUNTS=$LX
for _ in $(seq 300); do [ -r "$LX/proc/meminfo" ] && break; sleep 0.1; done
[ -r "$LX/proc/meminfo" ] || { cat "$T/lxcfs.log"; fail "LXCFS did not come up"; finish; }

printf 'lxcfs = %s\n' "$LX" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
TREE=$T/procps-tree
cp -a "$ROOT/templates/busybox/rootfs" "$TREE"
mkdir -p "$TREE/usr/bin"
# The tree's free is a symlink to /bin/busybox: replace it, never write through it.
rm -f "$TREE/usr/bin/free"
cp /usr/bin/free "$TREE/usr/bin/free"
for lib in $(ldd /usr/bin/free | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
        mkdir -p "$TREE$(dirname "$lib")"
        rm -f "$TREE$lib"
        cp -L "$lib" "$TREE$lib"
done
check "the tree's free is procps's" sh -c "'$TREE/usr/bin/free' --version 2>&1 | grep -q procps"
check "the guest's own busybox is untouched" sh -c "/bin/busybox --list-full | grep -q bin/sh"
tar -C "$TREE" --numeric-owner -cf "$T/procps.tar" .
vpsctl template import procps "$T/procps.tar" >/dev/null || { fail "importing the procps template"; finish; }
vpsctl create 821 --ostemplate procps --ram 64M --swap 32M --cpus 1 >/dev/null
s0=$SECONDS
vpsctl start 821 >/dev/null
check "procps free runs inside" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 821 -- /usr/bin/free | grep -q '^Mem:'"
total=$(vpsctl exec 821 -- /usr/bin/free | awk '$1 == "Mem:" { print $2 }')
expect_eq "procps free inside shows --ram 64M (in KiB)" 65536 "$total"
expect_eq "busybox free too" 65536 "$(vpsctl exec 821 -- busybox free | awk '$1 == "Mem:" { print $2 }')"
expect_eq "/proc/meminfo (LXCFS) too" 65536 "$(vpsctl exec 821 -- awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)"
used=$(vpsctl exec 821 -- busybox free | awk '$1 == "Mem:" { print $3 }')
check "used is the VPS's own memory ($used KiB)" test "$used" -gt 0 -a "$used" -lt 65536
expect_eq "the console shell (under the VPS's init) sees it as well" 65536 \
        "$(console_say 821 'busybox free' '^Mem:' | awk '$1 == "Mem:" { print $2 }' | tail -n1)"
host_total=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
check "and not the guest's own ${host_total} KiB" test "$total" -lt "$host_total"
expect_eq "/proc/cpuinfo inside shows --cpus 1" 1 "$(vpsctl exec 821 -- grep -c ^processor /proc/cpuinfo)"
vpsctl set 821 --ram 128M >/dev/null
expect_eq "set --ram 128M: free follows at once" 131072 "$(vpsctl exec 821 -- /usr/bin/free | awk '$1 == "Mem:" { print $2 }')"
expect_eq "swap: --swap 32M, but no more than the host has (none here)" 0 "$(vpsctl exec 821 -- busybox free | awk '$1 == "Swap:" { print $2 }')"
# Bounded both ways, as test_lxcfs.sh's: no more than since the start, and the guest's own
# uptime (which a missing view would show) is longer than that.
up=$(vpsctl exec 821 -- cut -d. -f1 /proc/uptime)
since=$((SECONDS - s0 + 1))
check "uptime inside counts from the VPS's start (${up} s, started at most $since s ago)" \
        test -n "$up" -a "${up:-x}" -le "$since" -a "$(cut -d. -f1 /proc/uptime)" -gt "$since"
finish
