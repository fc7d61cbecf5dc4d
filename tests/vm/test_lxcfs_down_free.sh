#!/bin/bash
# Guest test: LXCFS configured but not serving (its directory, nothing mounted), the case of
# issue 15's item 6: a busybox VPS with --ram 64M --swap 0 --numproc 40 --cpulimit 25. free
# inside showed 6553618014398509438680 KiB (sysinfo's plan total less the host's Cached went
# negative); with vpsd's own /proc/meminfo view it shows the plan, used within it. A VPS
# without --numproc gets vpsd.conf's default_numproc as pids.max.
. "$(dirname "$0")/../integration/lib.sh"

grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: no memory controller in $CG_MOUNT (run this through tests/vm/run)"; exit 77; }
LX=$T/lxcfs-down
mkdir -p "$LX"
printf 'lxcfs = %s\ndefault_numproc = 300\n' "$LX" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
check "vpsctl version says LXCFS is not serving" sh -c "'$VPSCTL_BIN' --socket '$SOCK' version | grep -q '^lxcfs: not serving at $LX'"
vpsctl template build busybox >/dev/null
vpsctl create 831 --ostemplate busybox --ram 64M --swap 0 --numproc 40 --cpulimit 25 >/dev/null
vpsctl start 831 >/dev/null 2>&1
# Some memory in use inside, page cache included.
vpsctl exec 831 -- sh -c 'dd if=/dev/zero of=/tmp/fill bs=1M count=8 2>/dev/null'
# (No process substitution: the VM guest has no /dev/fd.)
fr=$(vpsctl exec 831 -- free | awk '/^Mem:/ { print $2, $3, $4, $6 }')
read -r total used free cache <<<"$fr"
expect_eq "busybox free: total is --ram 64M (KiB)" 65536 "${total:-none}"
check "used ($used KiB) is the VPS's own, within the plan" test "${used:-x}" -gt 0 -a "$used" -lt 65536
check "free ($free) and buff/cache ($cache) within it too" test "${free:-x}" -le 65536 -a "${cache:-x}" -le 65536
mi=$(vpsctl exec 831 -- cat /proc/meminfo)
expect_eq "/proc/meminfo: MemTotal is the plan's" 65536 "$(awk '/^MemTotal:/ { print $2 }' <<<"$mi")"
check "Cached counts the VPS's page cache (the 8 MiB file), within the plan" \
        awk '/^Cached:/ { n = 1; c = $2 } END { exit !(n && c >= 8000 && c <= 65536) }' <<<"$mi"
expect_eq "busybox free -m: total 64" 64 "$(vpsctl exec 831 -- free -m | awk '/^Mem:/ { print $2 }')"
expect_eq "pids.max is --numproc 40" 40 "$(cat "$(vps_field 831 cgroup)/pids.max")"
vpsctl create 832 --ostemplate busybox >/dev/null
vpsctl start 832 >/dev/null 2>&1
expect_eq "a VPS without --numproc gets default_numproc" 300 "$(cat "$(vps_field 832 cgroup)/pids.max")"
finish
