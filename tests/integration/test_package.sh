#!/usr/bin/env bash
# The Debian packages as a provider meets them: dpkg-buildpackage -b -uc -us builds vpsd and
# vpsctl from debian/, lintian finds no error, and the .debs installed into a fresh Debian 12
# root (debootstrap; its tarball cached under VPS_TEST_CACHE, built once) and booted under
# systemd-nspawn run a VPS: vpsd.service enabled and started by systemd at boot, with
# /etc/vps/vpsd.conf, a conffile, whose commented defaults are all valid; an upgrade in place
# (the packages installed again) restarts vpsd and systemctl reload re-executes it, both
# leaving the VPS running; and the container's shutdown stops the VPS cleanly through
# vps-shutdown.service. About 95 s with the base root cached (the .deb build is most of it).
#
# systemd-nspawn runs in a mount namespace of its own whose /sys/fs/cgroup is a plain cgroup2
# mount (on a host with hybrid cgroups nspawn would otherwise make cgroups in the v1
# hierarchies), in a cgroup under this test's cgroup parent, and with a network namespace of
# its own (vpsd's bridge, nft tables and veths stay in it).
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bookworm
MIRROR=${VPS_TEST_MIRROR:-http://deb.debian.org/debian}

# The packages are compiled from the tree with Debian's flags, whatever build runs the tests:
# the sanitizer pass of scripts/test would repeat the first pass exactly.
if [ "${VPS_SANITIZED:-0}" = 1 ]; then
        echo "SKIP: the .debs do not come from the sanitizer build; the normal pass tests them"
        exit 77
fi
for tool in dpkg-buildpackage dh lintian debootstrap systemd-nspawn nsenter unshare; do
        type -P "$tool" >/dev/null || { echo "FAIL: $tool is missing: run scripts/install-deps"; exit 1; }
done

NSPAWN_PID= LEADER= MACHINE=vpspkg-$$
pkg_cleanup() {
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                # Everything the container runs is in this cgroup: killed at once, the VPS too.
                echo 1 >"$CG_MOUNT$CG_PARENT/nspawn/cgroup.kill" 2>/dev/null || kill -9 "$NSPAWN_PID"
                wait "$NSPAWN_PID" 2>/dev/null || true
        fi
        # What nspawn leaves on a host whose /run is not a tmpfs: its mount propagation
        # directory and the image's lock file, both named after this test's container.
        rm -rf --one-file-system "/run/systemd/nspawn/propagate/$MACHINE"
        [ ! -d "$T/rootfs" ] || rm -f "/run/systemd/nspawn/locks/inode-$(stat -c %d:%i "$T/rootfs")"
        if [ "${1:-0}" != 0 ] && [ -f "$T/nspawn.log" ]; then
                echo "--- the container's console"; tail -n 30 "$T/nspawn.log"
        fi
        if [ "${1:-0}" != 0 ] && [ -f "$T/rootfs/var/lib/vps/vpsd.log" ]; then
                echo "--- vpsd.log in the container"; tail -n 30 "$T/rootfs/var/lib/vps/vpsd.log"
        fi
}
trap 'rc=$?; pkg_cleanup "$rc"; cleanup "$rc"' EXIT

# --- the packages, built from a copy of the tree (dpkg-buildpackage writes to its parent)
SRC=$T/src/vps
mkdir -p "$SRC"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -C "$SRC" -xf -
else
        tar -C "$REPO" --exclude='./build*' --exclude=./obj-* -cf - . | tar -C "$SRC" -xf -
fi
start=$SECONDS
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -uc -us) \
        >"$T/build.log" 2>&1 && rc=0 || rc=$?
expect_eq "dpkg-buildpackage -b -uc -us succeeds ($((SECONDS - start)) s)" 0 "$rc"
[ "$rc" = 0 ] || { tail -n 30 "$T/build.log"; exit 1; }
VPSD_DEB=$(ls "$T"/src/vpsd_*.deb) VPSCTL_DEB=$(ls "$T"/src/vpsctl_*.deb)
check "the build warned of nothing (compiler, dh)" sh -c '! grep -E "warning:|^dh_[a-z_]+: warning" "$1"' _ "$T/build.log"

lintian --fail-on error "$T"/src/vps_*.changes >"$T/lintian.out" 2>&1 && rc=0 || rc=$?
check "lintian finds no error (exit $rc)" sh -c 'test "$2" = 0 && ! grep -q "^E:" "$1"' _ "$T/lintian.out" "$rc"
grep -E '^[EW]:' "$T/lintian.out" || true

contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'; }
for f in /usr/sbin/vpsd /etc/vps/vpsd.conf /lib/systemd/system/vpsd.service \
        /lib/systemd/system/vps-shutdown.service /usr/share/man/man8/vpsd.8.gz \
        /usr/share/man/man5/vpsd.conf.5.gz; do
        check "vpsd ships $f" grep -qx "$f" <(contents "$VPSD_DEB")
done
for f in /usr/sbin/vpsctl /usr/share/man/man8/vpsctl.8.gz /usr/share/bash-completion/completions/vpsctl; do
        check "vpsctl ships $f" grep -qx "$f" <(contents "$VPSCTL_DEB")
done
plans=$(cd "$REPO" && ls plans/*.conf 2>/dev/null | sed 's|^|/etc/vps/|' || true)
for f in $plans; do
        check "vpsd ships the plan $f" grep -qx "$f" <(contents "$VPSD_DEB")
done
[ -n "$plans" ] || echo "no plans/*.conf in the tree: none to ship"

# --- a fresh Debian 12 root: minbase with systemd and what the packages depend on, cached
# by that list (a new dependency makes a new tarball)
deps=$(for d in "$VPSD_DEB" "$VPSCTL_DEB"; do dpkg-deb -f "$d" Depends; done |
        tr ',|' '\n\n' | sed 's/(.*)//; s/[[:space:]]//g; /^$/d; /^vps/d' | sort -u | paste -sd,)
include=systemd,systemd-sysv,busybox-static,$deps
key=$(printf '%s %s %s\n' "$SUITE" "$MIRROR" "$include" | md5sum | cut -c1-12)
base=$DEBIAN_CACHE/pkgtest-$SUITE-$key.tar
if [ ! -f "$base" ]; then
        echo "building the base root ($include) with debootstrap, once"
        debootstrap --variant=minbase --include="$include" "$SUITE" "$T/base" "$MIRROR" \
                >"$T/debootstrap.log" 2>&1 || { tail -n 20 "$T/debootstrap.log"; fail "debootstrap $SUITE from $MIRROR"; exit 1; }
        rm -f "$T/base"/var/cache/apt/archives/*.deb # fetched once, kept out of the tarball
        mkdir -p "$DEBIAN_CACHE"
        tar -C "$T/base" --numeric-owner --xattrs --xattrs-include='*' -cf "$base.tmp.$$" . &&
                mv "$base.tmp.$$" "$base"
        rm -rf "$T/base"
fi
R=$T/rootfs
mkdir -p "$R"
tar -C "$R" --numeric-owner --xattrs --xattrs-include='*' -xf "$base"
mkdir -p "$R/root/debs" # not /tmp: systemd mounts a tmpfs there
cp "$VPSD_DEB" "$R/root/debs/vpsd.deb"
cp "$VPSCTL_DEB" "$R/root/debs/vpsctl.deb"
printf 'pkgtest\n' >"$R/etc/hostname"

# Installed as on a machine that is not running yet (no systemd: enabled, not started).
chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        dpkg -i /root/debs/vpsd.deb /root/debs/vpsctl.deb >"$T/dpkg.out" 2>&1 && rc=0 || rc=$?
expect_eq "dpkg -i installs both into the fresh root" 0 "$rc"
[ "$rc" = 0 ] || { cat "$T/dpkg.out"; exit 1; }
for u in vpsd.service vps-shutdown.service; do
        check "$u enabled (multi-user.target wants it)" test -L "$R/etc/systemd/system/multi-user.target.wants/$u"
done
check "/etc/vps/vpsd.conf is a conffile" sh -c 'chroot "$1" dpkg-query -W -f="\${Conffiles}\n" vpsd | grep -q "^ /etc/vps/vpsd.conf "' _ "$R"
expect_eq "the installed vpsctl is this build's" "$("$VPSCTL_BIN" --version)" "$(chroot "$R" vpsctl --version)"
# Every "#key = value" in the shipped vpsd.conf is a default: all of them taken at once must
# give a vpsd that starts and says so.
sed -i 's/^#\([a-z_]* = \)/\1/' "$R/etc/vps/vpsd.conf"
check "some defaults uncommented" grep -q '^root = /var/lib/vps$' "$R/etc/vps/vpsd.conf"

# --- booted under systemd-nspawn
mkdir -p "$CG_MOUNT$CG_PARENT/nspawn"
unshare -m --propagation private sh -c '
        umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 1
        echo $$ >"/sys/fs/cgroup$1/cgroup.procs" || exit 1
        exec systemd-nspawn -q --register=no --keep-unit --private-network --console=pipe \
                --machine="$3" --capability=CAP_BPF --system-call-filter=bpf -D "$2" -b
        ' sh "$CG_PARENT/nspawn" "$R" "$MACHINE" </dev/null >"$T/nspawn.log" 2>&1 &
NSPAWN_PID=$!
# The container's init: a child of systemd-nspawn named systemd.
for _ in $(seq 200); do
        for p in $(pgrep -P "$NSPAWN_PID" 2>/dev/null); do
                [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && LEADER=$p
        done
        [ -n "$LEADER" ] && break
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.1
done
[ -n "$LEADER" ] || { fail "systemd-nspawn did not boot the root"; exit 1; }
# ct COMMAND...: run in the booted container (all its namespaces, its root).
ct() { nsenter -t "$LEADER" -a -r -w env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# systemd answers once its manager is up, then --wait waits for the boot's end.
state=
for _ in $(seq 300); do
        state=$(ct systemctl is-system-running 2>/dev/null) || true
        [ -n "$state" ] && break
        sleep 0.1
done
state=$(ct timeout 90 systemctl is-system-running --wait 2>&1) || true
expect_eq "the container booted (systemd is-system-running)" running "$state"
expect_eq "vpsd.service is active, started at boot" active "$(ct systemctl is-active vpsd.service)"
expect_eq "vps-shutdown.service too" active "$(ct systemctl is-active vps-shutdown.service)"
ct systemctl --failed --no-legend --plain >"$T/failed" 2>&1 || true
check "no failed unit of vpsd's" sh -c '! grep -E "^vps" "$1"' _ "$T/failed"
expect_jq "vpsd runs with the shipped defaults" \
        '.server.root == "/var/lib/vps" and .server.bridge == "vpsbr0" and .server.subnet == "10.88.0.0/16"' \
        ct vpsctl version -j
VPSD_MAIN=$(ct systemctl show -P MainPID vpsd.service)
expect_eq "the vpsd vpsctl talks to is the service's" "$VPSD_MAIN" "$(ct vpsctl version -j | jq -r .server.pid)"

# A VPS from the installed vpsd, on vpsd's bridge.
ct vpsctl template build busybox >"$T/ct.out" 2>&1 || fail "template build busybox: $(cat "$T/ct.out")"
ct vpsctl create 101 --ostemplate busybox --hostname web1 --ipadd 10.88.0.101 >>"$T/ct.out" 2>&1 ||
        fail "create 101: $(cat "$T/ct.out")"
ct vpsctl start 101 >>"$T/ct.out" 2>&1 || fail "start 101: $(cat "$T/ct.out")"
expect_eq "VPS 101 runs a command" "web1" "$(ct vpsctl exec 101 -- hostname)"
check "and reaches its gateway, the bridge" sh -c '"$@" >/dev/null' _ \
        nsenter -t "$LEADER" -a -r -w vpsctl exec 101 -- ping -c 1 -W 2 10.88.0.1
init=$(ct vpsctl status 101 -j | jq -r .pid)

# An upgrade in place: the same packages installed again while systemd runs.
ct env DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i /root/debs/vpsd.deb /root/debs/vpsctl.deb \
        >"$T/dpkg2.out" 2>&1 || fail "dpkg -i in the running container: $(tail -n 5 "$T/dpkg2.out")"
new_main=$(ct systemctl show -P MainPID vpsd.service)
check "the upgrade restarted vpsd (MainPID $VPSD_MAIN -> $new_main)" test "$new_main" != "$VPSD_MAIN" -a "$new_main" != 0
expect_eq "and left VPS 101 running, the same init" "running $init" \
        "$(ct vpsctl status 101 -j | jq -r '"\(.status) \(.pid)"')"
# systemctl reload: vpsd re-executes itself, the same PID, the VPS untouched.
ct systemctl reload vpsd.service || fail "systemctl reload vpsd"
expect_jq "after a reload the same vpsd answers" ".server.pid == $new_main" ct vpsctl version -j
expect_eq "and VPS 101 still runs, the same init" "running $init" \
        "$(ct vpsctl status 101 -j | jq -r '"\(.status) \(.pid)"')"
check "the edited conffile was kept" grep -q '^root = /var/lib/vps$' "$R/etc/vps/vpsd.conf"

# The container's shutdown: vps-shutdown.service stops the VPS before vpsd goes.
# (SIGRTMIN+4 to systemd is poweroff; `systemctl poweroff` asks logind first, which needs
# a D-Bus this minimal root lacks.)
kill -s RTMIN+4 "$LEADER"
for _ in $(seq 600); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
check "the container powered off" sh -c '! kill -0 "$1" 2>/dev/null' _ "$NSPAWN_PID"
wait "$NSPAWN_PID" 2>/dev/null || true
NSPAWN_PID=
check "vps-shutdown.service stopped VPS 101 cleanly at shutdown" \
        grep -q 'shutdown: 1 VPS stopped (0 killed at the timeout)' "$R/var/lib/vps/vpsd.log"
finish
