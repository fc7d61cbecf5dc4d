#!/usr/bin/env bash
# template import refuses a tree a VPS could not boot from (no /etc, no /bin, no executable
# /sbin/init), naming what is missing, and leaves nothing behind; merged-/usr symlinks count.
. "$(dirname "$0")/lib.sh"
start_vpsd
vpsctl template build busybox >/dev/null
BB=$ROOT/templates/busybox/rootfs
leftovers() { ls -A "$ROOT/templates" | grep -v '^busybox$' | xargs; }

mkdir -p "$T/only-file" && echo hi >"$T/only-file/hello.txt"
tar -C "$T/only-file" -cf "$T/only-file.tar" .
expect_error "a tarball with no root filesystem" \
        "missing /etc, /bin, /sbin/init \(an executable init\)" \
        vpsctl template import nofs "$T/only-file.tar"

mkdir -p "$T/noinit/etc" "$T/noinit/bin" "$T/noinit/sbin"
echo '#!/bin/sh' >"$T/noinit/sbin/init" # not executable
tar -C "$T/noinit" -cf "$T/noinit.tar" .
expect_error "a tree whose init is not executable" "missing /sbin/init \(an executable init\)$" \
        vpsctl template import noinit "$T/noinit.tar"

# The busybox tree without /etc.
tar -C "$BB" --exclude=./etc -cf "$T/noetc.tar" .
expect_error "a tree without /etc" "missing /etc$" vpsctl template import noetc "$T/noetc.tar"
expect_eq "nothing left of the refused imports" "" "$(leftovers)"

# Positive controls: the whole busybox tree, and one laid out as merged /usr (bin, sbin as
# symlinks into usr/, as Debian has them) import.
tar -C "$BB" -cf "$T/bb.tar" .
check "the busybox tree imports" sh -c "'$VPSCTL_BIN' --socket '$SOCK' template import bb '$T/bb.tar' >/dev/null"
mkdir -p "$T/merged/usr"
cp -a "$BB/." "$T/merged/usr/"
rm -rf "$T/merged/usr/etc" && cp -a "$BB/etc" "$T/merged/etc"
ln -s usr/bin "$T/merged/bin" && ln -s usr/sbin "$T/merged/sbin"
tar -C "$T/merged" -cf "$T/merged.tar" .
check "a merged-/usr tree imports" sh -c "'$VPSCTL_BIN' --socket '$SOCK' template import merged '$T/merged.tar' >/dev/null"
finish
