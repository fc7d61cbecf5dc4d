#!/bin/bash
# PID 1 of the VM guest after switch_root (started by tests/vm/run's initramfs): the root is
# the host's file system (9p, read-only) under a tmpfs overlay. Mounts what the tests need,
# runs tests/vm/guest.sh, prints "VM-RESULT: <status>" and powers off.
# Arguments: REPO BUILD [TESTS]
REPO=$1 BUILD=$2 TESTS=${3:-}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8
result=125
finish() {
        echo "VM-RESULT: $result"
        sync
        echo o >/proc/sysrq-trigger
        sleep 60
}
trap finish EXIT
step() { "$@" || { echo "vm-stage2: failed: $*"; exit 125; }; }

dmesg -n 1 2>/dev/null || true   # kernel messages (OOM kills) stay in dmesg, off the console
step mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# The checkout may live under /tmp or /run (CI clones anywhere): keep a view of the root from
# before the tmpfs mounts and bind the checkout and build dir back over them.
mkdir -p /mnt/host
step mount --bind / /mnt/host
step mount -t tmpfs -o mode=1777 tmpfs /tmp
step mount -t tmpfs -o mode=0755 tmpfs /run
for keep in "$REPO" "$BUILD"; do
        case $keep in
        /tmp/* | /run/*)
                mountpoint -q "$keep" && continue
                mkdir -p "$keep"
                step mount --bind "/mnt/host$keep" "$keep"
                ;;
        esac
done
mkdir -p /dev/shm /dev/pts
step mount -t tmpfs -o mode=1777 tmpfs /dev/shm
step mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
hostname vmguest
ip link set lo up 2>/dev/null || true

# The VPS state goes on a real file system (the 9p/overlay root can be neither an overlay
# upper dir nor idmapped): ext4 in a sparse image on tmpfs, loop-mounted on /mnt/vps.
step modprobe loop
step modprobe ext4
step truncate -s 768M /dev/shm/vps.img
step mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/shm/vps.img
mkdir -p /mnt/vps
step mount -o loop /dev/shm/vps.img /mnt/vps

echo "vm: guest up: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
cd "$REPO" || exit 125
VPS_BUILD_DIR=$BUILD VPSD_TEST_ROOT_BASE=/mnt/vps VM_TESTS=$TESTS bash tests/vm/guest.sh
result=$?
exit "$result"
