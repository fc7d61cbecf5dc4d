#!/usr/bin/env bash
# Symlink and rename races on the paths vpsd writes into a guest: /etc/hostname, /etc/hosts,
# /etc/resolv.conf and /dev, planted by the guest before its starts (5 stop/start rounds) and
# swapped by a guest loop as fast as it can while `vpsctl set` rewrites them 30 times. The
# host's files must never change: every path is resolved inside the guest's root.
. "$(dirname "$0")/../integration/lib.sh"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 641 --ostemplate busybox --hostname race641 --nameserver 10.0.0.1 >/dev/null
vpsctl start 641 >/dev/null
in_vps() { "$VPSCTL_BIN" --socket "$SOCK" exec 641 -- "$@"; }

S=/etc/vps-race-sentinel-$$
echo host >"$S"
hosts_before=$(md5sum </etc/hosts)
hostname_before=$(md5sum </etc/hostname 2>/dev/null || echo none)
resolv_before=$(md5sum </etc/resolv.conf 2>/dev/null || echo none)
# What a guest's /dev would leave on the host if vpsd populated it there, or where the guest's
# /dev link below points (/etc): the names only vpsd puts in a guest's /dev, and mounts on
# those directories or their nodes. Only these (the host's own /dev changes with whatever
# else runs: loop devices, ttys), and as they were before, in case the host has one.
GUEST_DEV_NAMES=".vps .vpsd-boot-id null zero full random urandom tty console ptmx fd stdin stdout stderr pts shm"
guest_dev_traces() {
        local d n
        for d in /dev /etc; do
                for n in $GUEST_DEV_NAMES; do
                        # /dev has the device nodes itself: there only vpsd's own names count.
                        case $d/$n in /dev/.vps | /dev/.vpsd-boot-id | /etc/*) ;; *) continue ;; esac
                        [ -e "$d/$n" ] || [ -L "$d/$n" ] && echo "entry $d/$n"
                done
        done
        # fstype and source of each mount on /dev, /etc or a name below them that a guest's
        # /dev has (its tmpfs, devpts, shm, the nodes bound from the host).
        awk -v names="$GUEST_DEV_NAMES" 'BEGIN { n = split(names, a, " "); want["/dev"] = want["/etc"] = 1
                        for (i = 1; i <= n; i++) want["/dev/" a[i]] = want["/etc/" a[i]] = 1 }
                { for (i = 7; $i != "-"; i++) ; if ($5 in want) print "mount", $5, $(i + 1), $(i + 2) }' \
                /proc/self/mountinfo | sort
}
dev_before=$(guest_dev_traces)
plant() {
        in_vps sh -c "ln -sfn $S /etc/hostname; ln -sfn ../../../../../..$S /etc/hosts;
                ln -sfn /proc/1/root$S /etc/resolv.conf"
}
for round in 1 2 3 4 5; do
        plant
        if [ $((round % 2)) = 0 ]; then vpsctl stop 641 >/dev/null; else vpsctl stop 641 --fast >/dev/null; fi
        vpsctl start 641 >/dev/null || fail "start $round with planted links"
done
expect_eq "5 starts over planted links: the host sentinel is untouched" host "$(cat "$S")"
expect_eq "the guest got its own files instead" race641 "$(in_vps cat /etc/hostname)"
check "and no link is left in their place" in_vps sh -c 'test ! -L /etc/hostname && test ! -L /etc/hosts && test ! -L /etc/resolv.conf'

# The guest swaps /etc/hosts and /etc/hostname between files and links to host paths in a
# tight loop while vpsd rewrites them. The loop counts its rounds in /swaps (once every 10,
# by a rename: a read never sees it empty) and runs until /stop-swapping shows (2 minutes at
# most), so that it spans every rewrite.
in_vps sh -c "(n=0; end=\$((\$(date +%s) + 120)); while [ ! -e /stop-swapping ] && [ \$(date +%s) -lt \$end ]; do
        ln -sfn ../../../../..$S /etc/hosts.new && mv -f /etc/hosts.new /etc/hosts
        echo x > /etc/hosts.new && mv -f /etc/hosts.new /etc/hosts
        ln -sfn $S /etc/hostname
        n=\$((n + 1)); [ \$((n % 10)) = 0 ] && echo \$n >/swaps.t && mv -f /swaps.t /swaps; done; echo done >/swaps-ended) >/dev/null 2>&1 &"
swaps() { in_vps cat /swaps 2>/dev/null || echo 0; }
for _ in $(seq 100); do [ "$(swaps)" -gt 0 ] && break; sleep 0.1; done
swaps0=$(swaps)
check "the guest's swap loop runs ($swaps0 rounds)" test "$swaps0" -gt 0
ok=0
for i in $(seq 30); do
        vpsctl set 641 --hostname "race$i" --nameserver "10.0.0.$i" >/dev/null 2>&1 && ok=$((ok + 1))
done
swaps1=$(swaps)
check "it went on swapping during the rewrites ($swaps0 -> $swaps1 rounds)" test "$swaps1" -gt "$swaps0"
check "and was still at it after the last (no /swaps-ended)" in_vps test ! -e /swaps-ended
in_vps touch /stop-swapping
# Each rewrite replaces whatever it finds (a link is not followed): all 30 must be done, or
# the race was never run.
expect_eq "set during the swap loop: all 30 succeeded" 30 "$ok"
sleep 1
expect_eq "30 rewrites racing the guest: the host sentinel is untouched" host "$(cat "$S")"

# /dev as a link out of the guest root: mounted inside the guest's root, never on the host.
vpsctl stop 641 --fast >/dev/null
upper=$ROOT/vps/641/upper
rm -rf "$upper/dev" && ln -s /etc "$upper/dev"
vpsctl start 641 >/dev/null 2>&1 || true
vpsctl stop 641 --fast >/dev/null 2>&1 || true
expect_eq "the host's /dev (and /etc) have no guest /dev entry or mount they lacked" "$dev_before" "$(guest_dev_traces)"
check "the host's /etc has no tmpfs mounted on it" sh -c "! findmnt -n /etc >/dev/null"
expect_eq "host /etc/hosts unchanged" "$hosts_before" "$(md5sum </etc/hosts)"
expect_eq "host /etc/hostname unchanged" "$hostname_before" "$(md5sum </etc/hostname 2>/dev/null || echo none)"
expect_eq "host /etc/resolv.conf unchanged" "$resolv_before" "$(md5sum </etc/resolv.conf 2>/dev/null || echo none)"
rm -f "$S"
finish
