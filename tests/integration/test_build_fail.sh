#!/usr/bin/env bash
# A template build that fails (a Debian mirror that does not answer, from vpsd.conf) says why
# in one line and leaves nothing behind; vpsd keeps serving and can build again.
. "$(dirname "$0")/lib.sh"
command -v debootstrap >/dev/null || { echo "FAIL: debootstrap is missing (scripts/install-deps)"; exit 1; }
printf 'debian_mirror = http://127.0.0.1:9/debian\n' >"$T/vpsd.conf"
"$VPSD_BIN" --config "$T/vpsd.conf" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
VPSD_PID=$(pgrep -f -x "$VPSD_BIN --config $T/vpsd.conf --root $ROOT --socket $SOCK --cgroup-parent $CG_PARENT --bridge $BRIDGE --subnet $SUBNET --daemon" | head -n1)
expect_error "the build fails saying why, with the mirror named" "building template debian-12: .*127.0.0.1:9.*; debootstrap bookworm from http://127.0.0.1:9/debian failed \(exit 1\)" \
        vpsctl template build debian-12
check "no staging dir left" test -z "$(ls -A "$ROOT/templates" | grep '^\.build-' || true)"
check "no template left" test ! -e "$ROOT/templates/debian-12"
expect_eq "the build's status says failed" failed "$(curl -s --unix-socket "$SOCK" http://localhost/v1/templates/debian-12/build | jq -r .status)"
expect_error "an unknown recipe" "cannot build template 'debian-99': this vpsd builds: busybox, debian-11, debian-12, debian-13" \
        vpsctl template build debian-99
check "vpsd still serves: busybox builds" sh -c "'$VPSCTL_BIN' --socket '$SOCK' template build busybox >/dev/null"
# A builder killed mid-way: its staging dir goes, by the end handler or the next vpsd's sweep.
mkdir "$ROOT/templates/.build-debian-12-999999"
kill "$VPSD_PID"; while kill -0 "$VPSD_PID" 2>/dev/null; do sleep 0.05; done
start_vpsd
check "a dead builder's staging dir is swept at start-up" test ! -e "$ROOT/templates/.build-debian-12-999999"
finish
