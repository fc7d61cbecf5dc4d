#!/usr/bin/env bash
# LXCFS configured but not serving (its directory there, nothing mounted: no /dev/fuse, a
# crashed lxcfs): vpsd says so at start-up and in `vpsctl version`, and gives each VPS a
# /proc/meminfo of its own, read-only, that agrees with sysinfo(2): busybox's free (total,
# free and buffers from sysinfo, Cached from /proc/meminfo) shows the plan's --ram, never the
# 20-digit "used" that the host's Cached under a small plan gave. (This host's cgroup2 tree has
# no memory controller: the figures are the plan's --ram; the VM layer shows them with one.)
. "$(dirname "$0")/lib.sh"
LX=$T/lxcfs-down
mkdir -p "$LX"
printf 'lxcfs = %s\nenforce_limits = warn\n' "$LX" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
expect_eq "vpsctl version says LXCFS is not serving" \
        "lxcfs: not serving at $LX: $LX/proc/meminfo: No such file or directory: /proc/meminfo inside is vpsd's view, top and uptime show the host's" \
        "$(vpsctl version | grep '^lxcfs:')"
expect_jq "and -j in an lxcfs object" \
        ".server.lxcfs | .serving == false and .state == \"not serving\" and .dir == \"$LX\" and .meminfo == \"vpsd\"" \
        vpsctl version -j
check "vpsd logged it at start-up" grep -q "lxcfs: not serving: $LX/proc/meminfo: No such file" "$ROOT/vpsd.log"

vpsctl template build busybox >/dev/null
vpsctl create 631 --ostemplate busybox --ram 64M --swap 0 --numproc 40 >/dev/null
out=$(vpsctl start 631 2>&1)
check "the start warns that LXCFS is not running" sh -c 'grep -q "LXCFS is not running ($2/proc/meminfo: No such file or directory): free inside shows vpsd" <<<"$1"' _ "$out" "$LX"
# busybox free: "Mem: total used free shared buff/cache available", KiB.
read -r total used free shared cache avail < <(vpsctl exec 631 -- free | awk '/^Mem:/ { print $2, $3, $4, $5, $6, $7 }')
expect_eq "free's total is the plan's 64M" 65536 "${total:-none}"
check "used ($used), free ($free), buff/cache ($cache) within it" \
        test "${used:-x}" -ge 0 -a "$used" -le 65536 -a "$free" -le 65536 -a "$cache" -le 65536 -a $((used + free + cache)) -le 65536
mi=$(vpsctl exec 631 -- cat /proc/meminfo)
expect_eq "/proc/meminfo's MemTotal is the plan's" "65536" "$(awk '/^MemTotal:/ { print $2 }' <<<"$mi")"
check "its Cached and MemFree are within it" awk '/^(Cached|MemFree|MemAvailable):/ { n++; if ($2 > 65536) bad = 1 } END { exit !(n == 3 && !bad) }' <<<"$mi"
expect_eq "SwapTotal is the plan's --swap 0" 0 "$(awk '/^SwapTotal:/ { print $2 }' <<<"$mi")"
check "the view is vpsd's file, not procfs" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 631 -- cat /proc/self/mountinfo | grep -q ' /proc/meminfo ro,'"
exec_denied "the guest cannot write it" 631 "Read-only file system|Permission denied" sh -c 'echo x > /proc/meminfo'
exec_denied "nor unmount it (locked)" 631 "Invalid argument|Operation not permitted|Permission denied" umount /proc/meminfo
check "vpsd keeps it host root's" test "$(stat -L -c '%u %a' "$ROOT/vps/631/meminfo")" = "0 644"
expect_eq "on a tmpfs of its own: the guest's mountinfo names no host path" "/631 tmpfs" \
        "$(vpsctl exec 631 -- awk '$5 == "/proc/meminfo" { print $4, $(NF - 2) }' /proc/self/mountinfo)"
finish
