#!/usr/bin/env bash
# Issue 14, escape 3: a host user other than root reaches nothing under the state root. A
# template imported from a tarball holds a setuid-root file and a 0666 device node, a VPS's
# guest plants a setuid file in its upper layer, and the one device node it can put there (a
# whiteout; mknod and a copy-up of the template's node are refused); then, as nobody, every path under the state
# root (and the run-state directory) is stat'ed, listed, read, opened for writing and checked
# for execution: nothing may succeed. Once on a fresh root, once after the root was put back
# to the modes an older vpsd used (0711, 0755) and vpsd started again (the upgrade).
. "$(dirname "$0")/../integration/lib.sh"
PROBE_DIR=${VPS_PROBE_DIR:-$BUILD/tests}
[ -x "$PROBE_DIR/vps-probe-perms" ] || { echo "FAIL: no probe at $PROBE_DIR/vps-probe-perms"; exit 1; }
install -m 0755 "$PROBE_DIR/vps-probe-perms" "$T/probe-perms"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# Runs PATH ARGS... as nobody through a shell: setpriv's own exec of a path it was handed got
# through a 0700 directory on this host, which a user's exec does not.
nobody_exec() { as_nobody /bin/sh -c 'exec "$@"' sh "$@"; }
start_vpsd
vpsctl template build busybox >/dev/null
BB=$ROOT/templates/busybox/rootfs

# The tarball: the busybox tree, busybox again as a setuid-root `id` (busybox runs the applet
# its name says) and a 0666 char device (1:3, the null device: harmless if written), twice: in
# /dev (a VPS does not see it, its /dev is a tmpfs) and in /var.
python3 - "$T/suid.tar" "$BB" <<'PY'
import sys, tarfile
out, tree = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    t.add(tree, arcname=".")
    ti = t.gettarinfo(tree + "/bin/busybox", arcname="usr/local/bin/id")
    ti.mode, ti.uid, ti.gid = 0o4755, 0, 0
    with open(tree + "/bin/busybox", "rb") as f:
        t.addfile(ti, f)
    for name in ("dev/rwnode", "var/rwnode"):
        dev = tarfile.TarInfo(name)
        dev.type, dev.mode, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 0o666, 1, 3
        t.addfile(dev)
PY
vpsctl template import suid "$T/suid.tar" >/dev/null
TPL=$ROOT/templates/suid/rootfs
# Positive control: both are really there, as root sees them.
expect_eq "the imported setuid file is setuid root" "4755 0 0" "$(stat -c '%a %u %g' "$TPL/usr/local/bin/id")"
expect_eq "the imported device node is a 0666 char device 1:3" "character special file 666 1:3" \
        "$(stat -c '%F %a %t:%T' "$TPL/dev/rwnode")"
check "root can run the setuid file" grep -q 'uid=0' <<<"$("$TPL/usr/local/bin/id")"

# A VPS from that template whose guest plants a setuid copy of busybox in its upper layer.
vpsctl create 701 --ostemplate suid >/dev/null
vpsctl start 701 >/dev/null
vpsctl exec 701 -- sh -c 'cp /bin/busybox /id && chmod 4755 /id'
base=$(vps_field 701 uid_base)
expect_eq "the planted file is in upper/, setuid, owned by the VPS's root" "4755 $base" \
        "$(stat -c '%a %u' "$ROOT/vps/701/upper/id")"
# Device nodes in the upper layer. The guest cannot make one (its user namespace lacks
# CAP_MKNOD) nor have the template's copied up (overlayfs makes the copy as the mounter, in
# the same namespace); positive control: a regular file of the template is copied up. The
# one it can make is a whiteout (char 0:0), by removing a file of the template.
exec_denied "the guest cannot mknod a device node" 701 "Operation not permitted" mknod /rwnode c 1 3
exec_denied "nor get the template's copied up" 701 "Operation not permitted" chmod 0600 /var/rwnode
vpsctl exec 701 -- chmod 0644 /etc/passwd
check "positive control: a regular file of the template is copied up" test -f "$ROOT/vps/701/upper/etc/passwd"
vpsctl exec 701 -- rm /var/rwnode
expect_eq "the guest's whiteout is a device node in upper/" "character special file 0:0" \
        "$(stat -c '%F %t:%T' "$ROOT/vps/701/upper/var/rwnode")"
make_running_vps 702

# walk LABEL: every path under the root and the run-state dir, tried as nobody.
walk() {
        local out n
        # One list for the count and the probe: running VPSes (and vpsd's run state) make and
        # remove files meanwhile.
        find "$ROOT" "$(run_state_dir)" -mindepth 1 >"$T/paths"
        n=$(wc -l <"$T/paths")
        [ "$n" -gt 500 ] || fail "$1: only $n paths to try"
        out=$(as_nobody "$T/probe-perms" <"$T/paths")
        check "$1: nobody tried all $n paths" grep -q "^tried $n paths, .* as uid 65534" <<<"$out"
        if grep -q '^reached' <<<"$out"; then
                fail "$1: nobody reached $(grep -c '^reached' <<<"$out") things, e.g.: $(grep '^reached' <<<"$out" | head -n 5 | tr '\n' ';')"
        else
                pass "$1: nobody reached nothing under the state root"
        fi
        local d
        for d in "$ROOT" "$(run_state_dir)"; do
                if as_nobody ls "$d" >/dev/null 2>&1; then fail "$1: nobody lists $d"; else pass "$1: nobody cannot list $d"; fi
        done
        # The attacks themselves, which the walk only checked for permission.
        out=$(nobody_exec "$TPL/usr/local/bin/id" 2>&1) && fail "$1: nobody ran the template's setuid-root file: $out" ||
                pass "$1: nobody cannot run the template's setuid-root file"
        out=$(as_nobody sh -c "echo x > '$TPL/dev/rwnode'" 2>&1) && fail "$1: nobody wrote the template's device node" ||
                pass "$1: nobody cannot write the template's device node"
        out=$(nobody_exec "$ROOT/vps/701/upper/id" 2>&1) && fail "$1: nobody ran the guest's setuid file: $out" ||
                pass "$1: nobody cannot run the guest's setuid file"
        out=$(as_nobody stat "$ROOT/vps/701/upper/var/rwnode" 2>&1) && fail "$1: nobody reached the guest's device node" ||
                pass "$1: nobody cannot reach the guest's device node"
}
walk "fresh root"
expect_eq "VPS 701 still works" ok "$(vpsctl exec 701 -- echo ok)"

# The upgrade: the modes an older vpsd left, then a new vpsd on the same root.
kill_vpsd
chmod 0711 "$ROOT" "$ROOT/vps" "$ROOT"/vps/*
chmod 0755 "$ROOT/templates" "$ROOT"/templates/*
start_vpsd
expect_eq "start-up tightened the root, vps/, templates/ and their entries" \
        "700 700 700 700 700 700 700" \
        "$(stat -c %a "$ROOT" "$ROOT/vps" "$ROOT/vps/701" "$ROOT/vps/702" "$ROOT/templates" "$ROOT/templates/busybox" "$ROOT/templates/suid" | tr '\n' ' ' | sed 's/ $//')"
walk "upgraded root"

# VPSes still start and work: a restart of 701 and a new one.
vpsctl stop --fast 701 >/dev/null
check "701 starts again" vpsctl start 701
expect_eq "701 runs, its planted file kept" "ok 4755" "$(vpsctl exec 701 -- sh -c 'echo ok $(stat -c %a /id)')"
make_running_vps 703
expect_eq "a new VPS runs" ok "$(vpsctl exec 703 -- echo ok)"
expect_eq "VPS 702 (adopted across the restart) still runs" ok "$(vpsctl exec 702 -- echo ok)"
finish
