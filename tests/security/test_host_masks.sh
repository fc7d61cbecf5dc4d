#!/usr/bin/env bash
# Issue 14, "masks that hide nothing": the masks over /proc and /sys and the read-only binds
# are locked in the VPS's mount namespace: its root can neither unmount one (EINVAL) nor mount a
# fresh proc or sysfs (EPERM), in its own mount namespace or in a new one (unshare -m).
# Positive controls: the guest's root has CAP_SYS_ADMIN in its namespaces (it mounts a tmpfs),
# and with --features nesting (a proc and a sysfs under /dev/.vps that nothing covers) the same
# proc and sysfs mounts work, in the VPS and under unshare.
. "$(dirname "$0")/../integration/lib.sh"
start_vpsd
make_running_vps 721
vpsctl create 722 --ostemplate busybox >/dev/null
vpsctl set 722 --features nesting >/dev/null
vpsctl start 722 >/dev/null

# The masks and read-only binds as the guest sees them (mount points under /proc and /sys but
# the guest's own cgroup2 and the boot id of this start).
masks=$(vpsctl exec 721 -- awk '$5 ~ "^/(proc|sys)/" && $5 != "/sys/fs/cgroup" && $5 !~ "boot_id$" { print $5 }' /proc/self/mountinfo | sort -u)
n=$(wc -w <<<"$masks")
check "the guest has masks to try ($n: $(tr '\n' ' ' <<<"$masks"))" test "$n" -ge 8
for m in /proc/keys /proc/kmsg /proc/timer_list /sys/firmware /proc/sys; do
        check "$m is among them" grep -qx "$m" <<<"$masks"
done
for m in $masks; do
        out=$(vpsctl exec 721 -- umount "$m" 2>&1) && fail "guest root unmounted $m" ||
                pass "guest root cannot unmount $m ($out)"
        out=$(vpsctl exec 721 -- umount -l "$m" 2>&1) && fail "guest root detached $m" ||
                pass "guest root cannot detach $m"
done
out=$(vpsctl exec 721 -- mount -o remount,rw /proc/sys 2>&1) && fail "guest root made /proc/sys writable" ||
        pass "guest root cannot remount /proc/sys read-write"

# try ID: the fresh proc and sysfs mounts, in the VPS's namespace and in a new one.
try() {
        vpsctl exec "$1" -- sh -c '
                mkdir -p /mnt/p /mnt/s
                mount -t tmpfs t /mnt/p && umount /mnt/p && echo tmpfs:ok
                mount -t proc proc /mnt/p && umount /mnt/p && echo proc:ok
                mount -t sysfs -o ro sysfs /mnt/s && umount /mnt/s && echo sysfs:ok
                unshare -m sh -c "mount -t proc proc /mnt/p && echo unshare-proc:ok; mount -t sysfs -o ro sysfs /mnt/s && echo unshare-sysfs:ok"
                true' 2>/dev/null
}
out=$(try 721)
check "positive control: guest root mounts a tmpfs (CAP_SYS_ADMIN in its namespaces)" grep -qx tmpfs:ok <<<"$out"
for what in proc sysfs unshare-proc unshare-sysfs; do
        if grep -qx "$what:ok" <<<"$out"; then fail "a fresh $what mount worked"; else pass "a fresh $what mount is refused"; fi
done
out=$(try 722)
for what in tmpfs proc sysfs unshare-proc unshare-sysfs; do
        check "with --features nesting: $what works" grep -qx "$what:ok" <<<"$out"
done
for m in /proc/keys /sys/firmware; do
        out=$(vpsctl exec 722 -- umount "$m" 2>&1) && fail "with nesting, guest root unmounted $m" ||
                pass "with nesting, $m stays locked too"
done
expect_eq "VPS 721 still works" ok "$(vpsctl exec 721 -- echo ok)"
finish
