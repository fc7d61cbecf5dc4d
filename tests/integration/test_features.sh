#!/usr/bin/env bash
# --features (tun, fuse, nesting): stored in config.json, shown by the API, changed only while
# the VPS is stopped, bad input refused in one line with nothing changed; inside, the escape
# probe's feature mode tries what each grants (a tun device, a FUSE mount, the keyring, proc
# and sysfs mounts in nested namespaces): refused without the feature, working with it, for
# exec'd commands and for the init's own children alike. The default profile stays as strict.
. "$(dirname "$0")/lib.sh"
PROBE=${VPS_PROBE:-$BUILD/tests/vps-escape-probe}
[ -x "$PROBE" ] || { echo "FAIL: no probe at $PROBE"; exit 1; }
start_vpsd
vpsctl template build busybox >/dev/null
api() { curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" "$@"; }
features_of() { jq -c .features "$ROOT/vps/$1/config.json"; }
put_probe() { vpsctl exec "$1" -- sh -c 'cat > /probe && chmod 755 /probe' <"$PROBE"; }
ATTEMPTS=0
# probe_as DESCRIPTION ID EXPECTED: the probe's feature attempts in VPS ID, by vpsctl exec,
# must all come out as EXPECTED says (tun:on,fuse:off,...).
probe_as() {
        local out rc=0
        out=$(vpsctl exec "$2" -- /probe --features "$3" 2>&1) || rc=$?
        printf '%s\n' "$out" | sed 's/^/    /'
        local n
        n=$(printf '%s\n' "$out" | sed -n 's/^features: \([0-9]*\) attempts.*/\1/p')
        ATTEMPTS=$((ATTEMPTS + ${n:-0}))
        if [ "$rc" = 0 ] && [ "${n:-0}" -gt 0 ]; then pass "$1"; else fail "$1 (exit $rc)"; fi
}
# escape_allowed ID: the classes the escape probe found allowed, on one line (its whole
# output in $T/escape.out). Only from a probe that ran through: it ends with "N allowed" and
# exits N, with at least ESCAPE_BLOCKED_MIN attempts blocked (71 without host PIDs to aim at,
# 68 when nesting lets the keyring calls through); else a line saying so, which no expected
# answer equals.
ESCAPE_BLOCKED_MIN=65
escape_allowed() {
        local rc=0 blocked
        vpsctl exec "$1" -- /probe >"$T/escape.out" 2>&1 || rc=$?
        blocked=$(grep -c ': blocked' "$T/escape.out" || true)
        echo "    escape probe in VPS $1: exit $rc, $blocked blocked, last line: $(tail -n1 "$T/escape.out")" >&2
        if [ "$(tail -n1 "$T/escape.out")" != "$rc allowed" ] || [ "$blocked" -lt "$ESCAPE_BLOCKED_MIN" ]; then
                echo "(the escape probe did not run through: exit $rc, $blocked blocked)"
                return
        fi
        sed -n 's/^\([^:]*\): ALLOWED.*/\1/p' "$T/escape.out" | sort | tr '\n' ' '
}

# Without features: nothing of it.
vpsctl create 641 --ostemplate busybox >/dev/null
expect_eq "no features by default" '[]' "$(features_of 641)"
vpsctl start 641 >/dev/null
put_probe 641
probe_as "without features tun, fuse and nesting are refused" 641 tun:off,fuse:off,nesting:off
exec_false "no /dev/.vps without nesting" 641 test -e /dev/.vps

# Created with features, vzctl style; the API and list show them.
vpsctl create 642 --ostemplate busybox --features tun:on,fuse,nesting:off >/dev/null
expect_eq "create --features saved" '["tun","fuse"]' "$(features_of 642)"
expect_eq "list -j shows them" '["tun","fuse"]' "$(vps_field 642 features | jq -c .)"
expect_eq "GET /v1/vps/ID shows them" 200 "$(api http://localhost/v1/vps/642)"
expect_eq "with the configured features" '["tun","fuse"]' "$(jq -c .features "$T/out")"
expect_eq "list -o features" "tun,fuse" "$(vpsctl list -a -H -o features | sed -n 2p)"
expect_eq "--devnodes stays what was given" '[]' "$(jq -c .devnodes "$ROOT/vps/642/config.json")"
vpsctl start 642 >/dev/null
put_probe 642
probe_as "tun and fuse on, nesting off" 642 tun:on,fuse:on,nesting:off
expect_eq "tun and fuse leave the escape probe nothing" "" "$(escape_allowed 642)"

# Only a stopped VPS changes; a refusal changes nothing.
cp "$ROOT/vps/642/config.json" "$T/before.json"
expect_error "--features of a running VPS" "VPS 642 is running: stop it to change --features" \
        vpsctl set 642 --features nesting
expect_error "even with other settings in the same command" "stop it to change --features" \
        vpsctl set 642 --hostname other --features nesting:on
check "config.json unchanged" cmp -s "$T/before.json" "$ROOT/vps/642/config.json"
expect_eq "the host name too (all or nothing)" vps642 "$(vps_field 642 hostname)"
vpsctl stop 642 --fast >/dev/null
for bad in "" "," "fuse," ",fuse" "fuse,,tun" "kvm" "fuse:maybe" "fuse:" ":on" "fuse:on:off" \
        "fuse:on,fuse:off" "none,tun" "tun,none" "fu se" "FUSE" "tun;nesting"; do
        expect_error "--features '$bad' refused" "features" vpsctl set 642 --features "$bad"
done
expect_error "an unknown name is named" "unknown feature 'kvm' in --features \(known: tun, fuse, nesting, io_uring\)" \
        vpsctl set 642 --features tun,kvm:on
expect_error "a bad value is named" "invalid value 'maybe' for feature 'fuse'" vpsctl set 642 --features fuse:maybe
expect_error "a conflict is named" "feature 'fuse' is both on and off" vpsctl set 642 --features fuse,fuse:off
expect_error "with a good setting beside it" "unknown feature" vpsctl set 642 --hostname other --features kvm
check "config.json unchanged by every refusal" cmp -s "$T/before.json" "$ROOT/vps/642/config.json"
expect_eq "PATCH with a number" 400 "$(api -X PATCH -d '{"features": 5}' http://localhost/v1/vps/642)"
expect_eq "PATCH with an array" 400 "$(api -X PATCH -d '{"features": ["nesting"]}' http://localhost/v1/vps/642)"
expect_eq "one line of error" 1 "$(jq -r .error "$T/out" | wc -l)"
expect_eq "POST with an unknown feature" 400 \
        "$(api -X POST -d '{"id": "643", "ostemplate": "busybox", "features": "nesting,kvm"}' http://localhost/v1/vps)"
check "and no VPS 643" test ! -e "$ROOT/vps/643"
expect_error "create with a bad --features" "invalid value 'yes'" \
        vpsctl create 644 --ostemplate busybox --features nesting:yes
check "no VPS 644 left" test ! -e "$ROOT/vps/644"
check "config.json unchanged by the API refusals" cmp -s "$T/before.json" "$ROOT/vps/642/config.json"

# set names only what changes, vzctl style: fuse off, nesting on, tun stays.
vpsctl set 642 --features fuse:off,nesting >/dev/null
expect_eq "set while stopped" '["tun","nesting"]' "$(features_of 642)"
expect_eq "a repeated item that agrees is fine" 0 "$(vpsctl set 642 --features nesting,nesting:on >/dev/null; echo $?)"
vpsctl start 642 >/dev/null
probe_as "after set: tun and nesting on, fuse off (exec'd command)" 642 tun:on,fuse:off,nesting:on
expect_eq "/dev/.vps is root's only" "drwx------ 0" \
        "$(vpsctl exec 642 -- ls -ldn /dev/.vps | awk '{ print $1, $3 }')"
# Nesting lets the keyring through, and nothing else the escape probe tries (the writes
# through the unmasked /dev/.vps/proc and sys included).
expect_eq "nesting allows only the keyring calls" "add_key keyctl request_key " "$(escape_allowed 642)"
check "core_pattern is there in /dev/.vps/proc, and refused" \
        grep -q 'write core_pattern through /dev/.vps/proc: blocked (Permission denied)' "$T/escape.out"
check "the sysfs there is read-only" \
        grep -q 'through /dev/.vps/sys: blocked (Read-only file system)' "$T/escape.out"

# The init's own children get the same filter and mounts: rc.local runs the probe at boot.
vpsctl exec 642 -- sh -c 'printf "#!/bin/sh\n/probe --features tun:on,fuse:off,nesting:on >/probe-boot.out 2>&1\necho rc=\$? >>/probe-boot.out\n" >/etc/rc.local && chmod 755 /etc/rc.local && rm -f /probe-boot.out'
vpsctl restart 642 --fast >/dev/null
# rc.local runs once the init is up: up to 30 s on a busy machine under a sanitizer.
for _ in $(seq 300); do grep -q '^rc=' "$ROOT/vps/642/upper/probe-boot.out" 2>/dev/null && break; sleep 0.1; done
sed 's/^/    /' "$ROOT/vps/642/upper/probe-boot.out" 2>/dev/null || true
check "a child of the init: tun and nesting work, fuse refused" grep -q '^rc=0$' "$ROOT/vps/642/upper/probe-boot.out"
n=$(sed -n 's/^features: \([0-9]*\) attempts.*/\1/p' "$ROOT/vps/642/upper/probe-boot.out" 2>/dev/null)
ATTEMPTS=$((ATTEMPTS + ${n:-0}))

# --devnodes and --features add up: the VPS gets the union of the devices.
vpsctl stop 642 --fast >/dev/null
vpsctl set 642 --features none --devnodes fuse >/dev/null
expect_eq "--features none" '[]' "$(features_of 642)"
vpsctl start 642 >/dev/null
probe_as "none: only the --devnodes fuse is left" 642 tun:off,fuse:on,nesting:off
exec_false "and /dev/.vps is gone" 642 test -e /dev/.vps
vpsctl stop 642 --fast >/dev/null
vpsctl set 642 --features tun --devnodes none >/dev/null
vpsctl start 642 >/dev/null
probe_as "--features tun with --devnodes none" 642 tun:on,fuse:off,nesting:off

# A config.json from before --features (no such key) still loads: as none.
vpsctl stop 641 --fast >/dev/null
kill_vpsd
jq 'del(.features)' "$ROOT/vps/641/config.json" >"$T/old.json" && cp "$T/old.json" "$ROOT/vps/641/config.json"
start_vpsd
expect_eq "an older config.json loads with no features" '[]' "$(vps_field 641 features | jq -c .)"
vpsctl start 641 >/dev/null
probe_as "and starts with none" 641 tun:off,fuse:off,nesting:off
expect_eq "the default profile leaves the escape probe nothing" "" "$(escape_allowed 641)"

echo "feature probe: $ATTEMPTS attempts, all as expected"
check "the probe made its attempts" test "$ATTEMPTS" -ge 40
finish
