#!/usr/bin/env bash
# --onboot/--bootorder: after a host boot (a boot_id vpsd has not seen), the first vpsd
# starts the VPSes marked onboot, highest bootorder first; a failing one does not hold up
# the others; a vpsd restart within the same boot starts nothing.
. "$(dirname "$0")/lib.sh"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 951 --ostemplate busybox --onboot yes --bootorder 1 >/dev/null
vpsctl create 952 --ostemplate busybox --onboot yes --bootorder 9 >/dev/null
vpsctl create 953 --ostemplate busybox >/dev/null
vpsctl create 954 --ostemplate busybox --onboot yes --bootorder 5 >/dev/null
expect_eq "onboot is saved" true "$(jq .onboot "$ROOT/vps/951/config.json")"
expect_eq "bootorder is saved" 9 "$(jq .bootorder "$ROOT/vps/952/config.json")"
expect_eq "list -j shows onboot" true "$(vpsctl list -a -j | jq '.[] | select(.id=="952") | .onboot')"
rc=0; vpsctl set 953 --onboot maybe 2>"$T/err" || rc=$?
expect_eq "a bad --onboot is a usage error" 2 "$rc"
check "and says why" grep -q "invalid --onboot .maybe.: expected yes or no" "$T/err"
# 954 cannot start: its writable layer is gone.
rm -rf "$ROOT/vps/954/work"

kill_vpsd
echo "not-this-boot" >"$ROOT/.boot_id"
start_vpsd
# The onboot starts go on after vpsd answers (several at a time): wait for them.
for _ in $(seq 100); do
        grep -q "onboot: VPS 951 started" "$ROOT/vpsd.log" && grep -q "onboot: VPS 952 started" "$ROOT/vpsd.log" &&
                grep -q "onboot: starting VPS 954" "$ROOT/vpsd.log" && break
        sleep 0.1
done
expect_eq "onboot VPS 951 started" running "$(vps_field 951 status)"
expect_eq "onboot VPS 952 started" running "$(vps_field 952 status)"
expect_eq "VPS 953 without onboot stays stopped" stopped "$(vps_field 953 status)"
expect_eq "the failing 954 stays stopped" stopped "$(vps_field 954 status)"
check "the failure is logged" grep -q "onboot: starting VPS 954" "$ROOT/vpsd.log"
o952=$(grep -n "onboot: VPS 952 starting" "$ROOT/vpsd.log" | cut -d: -f1)
o954=$(grep -n "onboot: VPS 954 starting" "$ROOT/vpsd.log" | cut -d: -f1)
o951=$(grep -n "onboot: VPS 951 starting" "$ROOT/vpsd.log" | cut -d: -f1)
check "higher bootorder begun first (952, 954, 951)" test "$o952" -lt "$o954" -a "$o954" -lt "$o951"

vpsctl stop 951 --fast >/dev/null
kill_vpsd
start_vpsd
expect_eq "a restart within the same boot starts nothing" stopped "$(vps_field 951 status)"
expect_eq "and leaves the running one running" running "$(vps_field 952 status)"
vpsctl set 952 --onboot no >/dev/null
expect_eq "set --onboot no" false "$(jq .onboot "$ROOT/vps/952/config.json")"
finish
