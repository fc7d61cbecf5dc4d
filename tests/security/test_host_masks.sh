#!/usr/bin/env bash
# Issue 14, "masks that hide nothing": the masks over /proc and /sys and the read-only binds
# are locked in the VPS's mount namespace: its root can neither unmount one (EINVAL), nor /proc
# or /sys under them, nor mount a fresh proc or sysfs (EPERM), in its own mount namespace or in
# a new one (unshare -m); each refusal checked with exec_denied (it ran in the VPS, and failed
# with that error).
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
# Each refusal is exec_denied's: the command ran in the VPS (not on the host, not a failed
# exec) and failed with the kernel's refusal, not another error.
for m in $masks; do
        exec_denied "guest root cannot unmount $m" 721 "Invalid argument|Operation not permitted" umount "$m"
        exec_denied "guest root cannot detach $m" 721 "Invalid argument|Operation not permitted" umount -l "$m"
done
# /proc and /sys themselves, the masks on them.
for m in /proc /sys; do
        exec_denied "guest root cannot unmount $m" 721 "Invalid argument|Operation not permitted|busy" umount "$m"
done
exec_denied "guest root cannot remount /proc/sys read-write" 721 "Operation not permitted|[Pp]ermission denied" \
        mount -o remount,rw /proc/sys

# Fresh proc and sysfs mounts, in the VPS's mount namespace and in a new one (unshare -m).
# Positive controls: a tmpfs mounts there (CAP_SYS_ADMIN in its namespaces), and with
# --features nesting the same proc and sysfs mounts work.
DENIED="Operation not permitted|[Pp]ermission denied"
for id in 721 722; do vpsctl exec "$id" -- mkdir -p /mnt/p /mnt/s; done
check "positive control: guest root mounts a tmpfs" \
        vpsctl exec 721 -- sh -c 'mount -t tmpfs t /mnt/p && umount /mnt/p'
check "positive control: and does so in a new mount namespace" \
        vpsctl exec 721 -- unshare -m mount -t tmpfs t /mnt/p
for ns in "" "unshare -m"; do
        # shellcheck disable=SC2086
        exec_denied "${ns:+$ns: }a fresh proc mount is refused" 721 "$DENIED" $ns mount -t proc proc /mnt/p
        # shellcheck disable=SC2086
        exec_denied "${ns:+$ns: }a fresh sysfs mount is refused" 721 "$DENIED" $ns mount -t sysfs -o ro sysfs /mnt/s
done
try() {
        vpsctl exec "$1" -- sh -c '
                mount -t tmpfs t /mnt/p && umount /mnt/p && echo tmpfs:ok
                mount -t proc proc /mnt/p && umount /mnt/p && echo proc:ok
                mount -t sysfs -o ro sysfs /mnt/s && umount /mnt/s && echo sysfs:ok
                unshare -m sh -c "mount -t proc proc /mnt/p && echo unshare-proc:ok; mount -t sysfs -o ro sysfs /mnt/s && echo unshare-sysfs:ok"
                true' 2>/dev/null
}
out=$(try 722)
for what in tmpfs proc sysfs unshare-proc unshare-sysfs; do
        check "with --features nesting: $what works" grep -qx "$what:ok" <<<"$out"
done
for m in /proc/keys /sys/firmware; do
        exec_denied "with nesting, $m stays locked too" 722 "Invalid argument|Operation not permitted" umount "$m"
done
expect_eq "VPS 721 still works" ok "$(vpsctl exec 721 -- echo ok)"
finish
