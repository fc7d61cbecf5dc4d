#!/usr/bin/env bash
# `cmake --install build` (here into a DESTDIR): the two programs, the man pages and the
# systemd units, whose vpsd is the installed one, delegated its cgroup, and never takes the
# VPSes down with it. The installed programs then run a VPS.
. "$(dirname "$0")/lib.sh"
DEST=$T/dest
out=$(DESTDIR=$DEST cmake --install "$BUILD" 2>&1) && rc=0 || rc=$?
expect_eq "cmake --install succeeds" 0 "$rc"
prefix=$(awk -F= '/^CMAKE_INSTALL_PREFIX:/ { print $2 }' "$BUILD/CMakeCache.txt")
sbin=$(awk -F= '/^CMAKE_INSTALL_SBINDIR:/ { print $2 }' "$BUILD/CMakeCache.txt")
case $sbin in /*) ;; *) sbin=$prefix/$sbin ;; esac
for f in "$sbin/vpsd" "$sbin/vpsctl"; do
        check "$f installed, executable" test -x "$DEST$f"
done
expect_eq "the installed vpsctl is this build's" "$("$VPSCTL_BIN" --version)" "$("$DEST$sbin/vpsctl" --version)"
expect_eq "and vpsd" "$("$VPSD_BIN" --version)" "$("$DEST$sbin/vpsd" --version)"
# Where man(1) looks under the prefix: share/man (GNUInstallDirs' default) or man.
for f in man8/vpsctl.8 man8/vpsd.8 man5/vpsd.conf.5; do
        page=$(ls "$DEST$prefix"/share/man/"$f" "$DEST$prefix"/man/"$f" 2>/dev/null | head -n1 || true)
        check "man page $f installed (${page#"$DEST"})" grep -q '^\.TH ' "${page:-/nonexistent}"
done
# The shipped plans, where vpsd looks for them whatever the prefix.
for f in small medium large; do
        check "plan $f installed in /etc/vps/plans" grep -q '^RAM=' "$DEST/etc/vps/plans/$f.conf"
done
check "bash completion installed where bash-completion loads it for vpsctl" \
        grep -q '^complete -F _vpsctl vpsctl$' "$DEST$prefix/share/bash-completion/completions/vpsctl"
unit=$DEST$prefix/lib/systemd/system/vpsd.service
check "vpsd.service installed" test -f "$unit"
expect_eq "it starts the installed vpsd, which detaches once its socket answers, and names its PID file" \
        "ExecStart=$sbin/vpsd --daemon --pidfile /run/vpsd.pid|PIDFile=/run/vpsd.pid|Type=forking" \
        "$(grep -E '^(ExecStart|Type|PIDFile)=' "$unit" | sort | paste -sd'|')"
check "its cgroup is delegated (Delegate=yes)" grep -qx 'Delegate=yes' "$unit"
check "stopping or restarting it leaves the VPSes running (KillMode=process)" grep -qx 'KillMode=process' "$unit"
shutdown=$DEST$prefix/lib/systemd/system/vps-shutdown.service
check "vps-shutdown.service stops the VPSes at host shutdown with the installed vpsd" \
        grep -qx "ExecStop=$sbin/vpsd --shutdown-all --timeout 60" "$shutdown"
check "every line of the install output names a file under DESTDIR" \
        sh -c "! printf '%s\n' \"\$1\" | grep -E '^-- (Installing|Up-to-date): ' | grep -v -- ' $DEST/'" _ "$out"

# The installed binaries at work.
VPSD_BIN=$DEST$sbin/vpsd VPSCTL_BIN=$DEST$sbin/vpsctl
start_vpsd
make_running_vps 801
expect_eq "the installed programs run a VPS" "hello" "$(vpsctl exec 801 -- echo hello)"
finish
