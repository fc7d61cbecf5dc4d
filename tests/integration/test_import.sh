#!/usr/bin/env bash
# vpsctl template import: rootfs tarballs (.tar, .tar.gz, .tar.xz, .tar.zst) read with
# libarchive. A good one becomes a template VPSes start from (owners, modes, hard links,
# device nodes kept); a hostile one ("../" and absolute paths, a write through an absolute
# symlink, hard links to outside) is imported with those entries refused, nothing written
# outside the template dir, and its device node unusable inside a VPS.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null; }
start_vpsd
vpsctl template build busybox >/dev/null
BB=$ROOT/templates/busybox/rootfs

# Good tarballs in every format, made from the busybox tree.
tar -C "$BB" --numeric-owner -cf "$T/bb.tar" .
gzip -c "$T/bb.tar" >"$T/bb.tar.gz"
xz -T1 -c "$T/bb.tar" >"$T/bb.tar.xz"
zstd -q -c "$T/bb.tar" >"$T/bb.tar.zst"
for f in tar tar.gz tar.xz tar.zst; do
        name=bb-${f//./-}
        out=$(vpsctl template import "$name" "$T/bb.$f" 2>&1) || { fail "import .$f: $out"; continue; }
        check "import .$f: $(tail -n1 <<<"$out")" grep -q "^Template $name imported ([0-9]* files, version import-.*, distro busybox)" <<<"$out"
done
expect_eq "it counts the files" "$(tar -tf "$T/bb.tar" | wc -l)" "$(sed -n 's/^Template .* imported (\([0-9]*\) files.*/\1/p' <<<"$out")"
expect_eq "the same tree as the source" "$(cd "$BB" && find . -printf '%p %U %G %m %y\n' | sort | md5sum)" \
        "$(cd "$ROOT/templates/bb-tar-zst/rootfs" && find . -printf '%p %U %G %m %y\n' | sort | md5sum)"
row=$(vpsctl template list -j | jq -c '.[] | select(.name == "bb-tar-xz") | [.distro, .in_use, (.size > 0)]')
expect_eq "template list -j: distro, in_use, size" '["busybox",0,true]' "$row"
check "create 801 from an imported template" quiet vpsctl create 801 --ostemplate bb-tar-zst
check "start it" quiet vpsctl start 801
expect_eq "it runs" hello "$(vpsctl exec 801 -- echo hello)"
expect_eq "in_use counts it" 1 "$(vpsctl template list -j | jq '.[] | select(.name == "bb-tar-zst") | .in_use')"
expect_error "remove refuses a template in use" "template 'bb-tar-zst' is used by VPS 801 " vpsctl template remove bb-tar-zst

# Bad input: one line, nothing left behind.
expect_error "import into an existing name" "template 'bb-tar' already exists" vpsctl template import bb-tar "$T/bb.tar"
expect_error "a file that is missing" "nosuch.tar: No such file" vpsctl template import x1 "$T/nosuch.tar"
head -c 5000 /dev/urandom >"$T/junk.tar"
expect_error "a file that is not an archive" "building template x2: .*junk.tar" vpsctl template import x2 "$T/junk.tar"
check "a failed import leaves nothing" test -z "$(ls -A "$ROOT/templates" | grep -e '^\.build-' -e '^x[12]$')"

# A hostile tarball: the busybox tree plus entries that try to get out.
mkdir -p "$T/victim"
echo "untouched" >"$T/victim/file"
python3 - "$T/evil.tar" "$BB" "$T" <<'PY'
import io, os, sys, tarfile
out, tree, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
def data(name, text=b"pwned\n"):
    ti = tarfile.TarInfo(name); ti.size = len(text); ti.mode = 0o644
    return ti, io.BytesIO(text)
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    t.add(tree, arcname=".")
    t.addfile(*data("../escape-dotdot"))
    t.addfile(*data("etc/../../escape-middle"))
    t.addfile(*data(tmp + "/escape-absolute"))
    sl = tarfile.TarInfo("evil"); sl.type = tarfile.SYMTYPE; sl.linkname = tmp + "/victim"
    t.addfile(sl)
    t.addfile(*data("evil/file"))
    t.addfile(*data("evil/new"))
    hl = tarfile.TarInfo("hardlink-out"); hl.type = tarfile.LNKTYPE; hl.linkname = tmp + "/victim/file"
    t.addfile(hl)
    hl2 = tarfile.TarInfo("hardlink-dotdot"); hl2.type = tarfile.LNKTYPE; hl2.linkname = "../victim/file"
    t.addfile(hl2)
    dev = tarfile.TarInfo("root/host-disk"); dev.type = tarfile.BLKTYPE; dev.devmajor = 8; dev.devminor = 0; dev.mode = 0o666
    t.addfile(dev)
    ok = tarfile.TarInfo("etc/good-hardlink"); ok.type = tarfile.LNKTYPE; ok.linkname = "etc/passwd"
    t.addfile(ok)
PY
before=$(cd "$T/victim" && find . -printf '%p %s %n\n' | sort; cat file)
rc=0; out=$(vpsctl template import evil "$T/evil.tar" 2>&1) || rc=$?
expect_eq "the hostile tarball is imported" 0 "$rc"
check "with a warning counting 7 refused entries ($(grep warning <<<"$out"))" grep -q "warning: 7 entries of .*evil.tar refused" <<<"$out"
E=$ROOT/templates/evil/rootfs
expect_eq "nothing written into the victim dir" "$before" "$(cd "$T/victim" && find . -printf '%p %s %n\n' | sort; cat file)"
check "no ../ escape next to the templates" test ! -e "$ROOT/templates/escape-dotdot" -a ! -e "$ROOT/escape-dotdot" -a ! -e "$ROOT/templates/evil/escape-dotdot"
check "no escape from a ../ in the middle" test ! -e "$ROOT/templates/evil/escape-middle" -a ! -e "$ROOT/templates/escape-middle"
check "no absolute-path escape" test ! -e "$T/escape-absolute"
check "the absolute symlink is kept, as a symlink" test -L "$E/evil"
expect_eq "pointing where it said" "$T/victim" "$(readlink "$E/evil")"
check "the block device node is kept" test -b "$E/root/host-disk"
expect_eq "a hard link inside the tree is kept" "$(stat -c %i "$E/etc/passwd")" "$(stat -c %i "$E/etc/good-hardlink")"
check "no hard link to outside" test ! -e "$E/hardlink-out" -a ! -e "$E/hardlink-dotdot"
expect_eq "the victim file has one link still" 1 "$(stat -c %h "$T/victim/file")"
check "a VPS from it starts" quiet sh -c "'$VPSCTL_BIN' --socket '$SOCK' create 802 --ostemplate evil && '$VPSCTL_BIN' --socket '$SOCK' start 802"
exec_denied "inside, the planted device node cannot be opened" 802 "Operation not permitted|Permission denied" \
        head -c1 /root/host-disk
check "inside, the absolute symlink is there" vpsctl exec 802 -- test -L /evil
exec_denied "and stays in the VPS" 802 "No such file or directory" cat /evil/file
finish
