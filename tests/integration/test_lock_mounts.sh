#!/bin/bash
# Integration test (issue 18): vpsd as criu's action script at post-restore locks a restored
# VPS's /proc and /sys (runtime/checkpoint/lockmounts.c), shown without criu (which cannot run
# on this host's kernel: tests/vm/test_criu.sh runs the real thing) on a tree made as criu
# makes one: proc and sysfs with masks and read-only binds mounted by the guest's root inside
# its own user namespace, none locked, / shared, and a second task in a slave mount namespace
# with a read-only bind of its own. Before: the guest's root unmounts a mask (in a copy of its
# namespace). After: it cannot
# unmount one, nor make /proc/sys writable, nor mount a fresh proc, in either namespace, and
# the slave keeps its own bind. Other actions change nothing; a task in the host's user
# namespace is refused.
. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null || { echo "SKIP: no busybox"; exit 77; }
GCG=$CG_MOUNT$CG_PARENT/guest
mkdir -p "$GCG"
G=$T/g
mkdir -p "$G"
cat >"$T/guest.sh" <<GUEST
set -e
R=$G
mount -t tmpfs tmpfs \$R
mkdir -p \$R/proc \$R/sys \$R/bin \$R/old \$R/tmp/p \$R/dev
cp "$(command -v busybox)" \$R/bin/busybox
for c in sh mount umount cat grep sleep echo unshare mkdir; do ln -s busybox \$R/bin/\$c; done
touch \$R/dev/null; mount --bind /dev/null \$R/dev/null
mount -t proc proc \$R/proc
mount --bind /dev/null \$R/proc/kallsyms
mount --bind \$R/proc/sys \$R/proc/sys; mount -o remount,bind,ro \$R/proc/sys
mount --bind \$R/proc/bus \$R/proc/bus; mount -o remount,bind,ro \$R/proc/bus
mount -t sysfs sysfs \$R/sys
mount -t tmpfs -o ro tmpfs \$R/sys/firmware
cd \$R; pivot_root . old; umount -l /old; mount --make-rshared /
/bin/unshare -m --propagation slave /bin/sh -c 'mount --bind /proc/sys/kernel /proc/sys/kernel; mount -o remount,bind,ro /proc/sys/kernel; exec sleep 3600' &
exec /bin/sh -c 'echo ready; exec sleep 3600'
GUEST
unshare --user --map-root-user --mount --pid --net --fork --propagation private \
        sh "$T/guest.sh" >"$T/guest.out" 2>&1 &
UPID=$!
TEST_PIDS=$UPID
for _ in $(seq 50); do grep -q ready "$T/guest.out" 2>/dev/null && break; sleep 0.1; done
GP=$(pgrep -P "$UPID" | head -n1)
SP=
for _ in $(seq 50); do SP=$(pgrep -P "$GP" | head -n1); [ -n "$SP" ] && grep -q ' /proc/sys/kernel ' "/proc/$SP/mountinfo" && break; sleep 0.1; done
[ -n "$GP" ] && [ -n "$SP" ] || { cat "$T/guest.out"; fail "the guest did not start"; finish; }
echo "$GP" >"$GCG/cgroup.procs"
echo "$SP" >"$GCG/cgroup.procs"

# In the guest's user and mount namespaces (the one of task $1) as its root.
probe() {
        nsenter -t "$1" -U -m -p sh -c 'umount /proc/kallsyms 2>/dev/null; echo "mask $?"
mount -o remount,bind,rw /proc/sys 2>/dev/null; echo "sys-rw $?"
mount -t proc proc /tmp/p 2>/dev/null; echo "fresh-proc $?"
umount /sys/firmware 2>/dev/null; echo "sysmask $?"
echo "masks $(grep -cE " /proc/kallsyms | /sys/firmware " /proc/self/mountinfo)"' 2>&1 | tr '\n' ' '
}
# vpsd as criu runs it: no arguments, criu's variables and the cgroup's.
as_criu() {
        unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/vps &&
                exec env CRTOOLS_SCRIPT_ACTION="$1" CRTOOLS_INIT_PID="$2" VPSD_CRIU_LOCK_CGROUP="$3" "$4"' \
                sh "$@" "$VPSD_BIN"
}

# What the guest's root can do to a tree criu made (in a copy of its namespace, which keeps
# the mounts' flags: its own namespace stays as it is).
in_copy() {
        nsenter -t "$1" -U -m -p unshare -m sh -c 'umount /proc/kallsyms 2>/dev/null; echo "mask $?"
mount -t proc proc /tmp/p 2>/dev/null; echo "fresh-proc $?"
umount -l /proc 2>/dev/null; echo "proc $?"' 2>&1 | tr '\n' ' '
}
C=$(in_copy "$GP")
check "before: the guest's root unmounts a mask and mounts a fresh proc (nothing locked: $C)" \
        grep -qE '^mask 0 fresh-proc 0 proc 0 $' <<<"$C"
before=$(cat "/proc/$GP/mountinfo")
check "another action (pre-resume) does nothing" as_criu pre-resume "$GP" "$CG_MOUNT$CG_PARENT"
expect_eq "the tree is as it was" "$before" "$(cat "/proc/$GP/mountinfo")"
expect_error "a task of the host's user namespace is refused" \
        "^Error \\(vpsd\\): locking the VPS's /proc and /sys: task $$ of the VPS is in a mount namespace of the host's user namespace" \
        as_criu post-restore $$ "$CG_MOUNT$CG_PARENT"

check "post-restore: vpsd locks the tree" as_criu post-restore "$GP" "$CG_MOUNT$CG_PARENT"
echo "the init's namespace now:"; sed 's/^/  /' "/proc/$GP/mountinfo"
for who in "init:$GP" "slave:$SP"; do
        P=$(probe "${who#*:}")
        echo "${who%%:*}: $P"
        check "${who%%:*}'s namespace: no mask unmounted, /proc/sys stays read-only, no fresh proc" \
                grep -qE '^mask [1-9] sys-rw [1-9] fresh-proc [1-9] sysmask [1-9] masks [1-9] $' <<<"$P"
done
C=$(in_copy "$GP")
check "after, in a copy of its namespace too, /proc not unmounted either ($C)" \
        grep -qE '^mask [1-9] fresh-proc [1-9] proc [1-9] $' <<<"$C"
check "the slave namespace keeps its own read-only bind" grep -q ' /proc/sys/kernel ro,' "/proc/$SP/mountinfo"
finish
