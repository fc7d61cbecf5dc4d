#!/usr/bin/env bash
# Plans (vzctl's sample configs): create --plan NAME takes the limits and settings of
# plans_dir/NAME.conf, the options given override them, vpsd.conf's default_plan applies
# without --plan and --plan none means none; list -o plan and the JSON show it; set --plan
# applies a plan to an existing VPS. Bad names, unknown plans and bad plan files are refused
# in one line with nothing created or changed, and no name reaches outside plans_dir.
# Limits are checked as saved (this host's cgroup2 tree has no memory or pids controller:
# vpsd runs with enforce_limits = warn; the VM layer shows them enforced).
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
P=$T/plans
mkdir -p "$P"
cp "$SRC"/plans/*.conf "$P"/
cat >"$P/tiny.conf" <<'PLAN'
# a test plan
RAM="64M"
swap = "0"
NUMPROC="40"
CPULIMIT="25"
FEATURES="tun"
ONBOOT="yes"
PLAN
printf 'RAM="64M"\nNUMPROC="lots"\n' >"$P/badvalue.conf"
printf 'RAM="64M"\nCOLOUR="red"\n' >"$P/badkey.conf"
printf 'RAM="64M"\nRAM="128M"\n' >"$P/twice.conf"
echo 'RAM="1G"' >"$T/secret.conf"
ln -s ../secret.conf "$P/escape.conf"
ln -s /etc/passwd "$P/abs.conf"
printf 'plans_dir = %s\ndefault_plan = tiny\nenforce_limits = warn\n' "$P" >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
vpsctl template build busybox >/dev/null
lim() { vpsctl list -a -j | jq -c --arg id "$1" ".[] | select(.id == \$id) | .limits | {ram, swap, numproc, cpulimit, cpus, diskspace}"; }

# A shipped plan, one option overriding it.
vpsctl create 701 --ostemplate busybox --plan small --cpus 0.5 >/dev/null
expect_eq "create --plan small: the plan's limits, --cpus given overriding" \
        '{"ram":536870912,"swap":536870912,"numproc":512,"cpulimit":null,"cpus":0.5,"diskspace":{"soft":10737418240,"hard":11811160064}}' "$(lim 701)"
expect_eq "the plan's rate" 100000000 "$(vps_field 701 rate)"
expect_eq "list -o plan shows it" "701 small" "$(vpsctl list -a -H -o id,plan | grep '^701 ' | tr -s ' ')"
expect_eq "the JSON shows it" small "$(vpsctl list -a -j | jq -r '.[] | select(.id == "701") | .plan')"
check "config.json keeps it" grep -q '"plan": "small"' "$ROOT/vps/701/config.json"

# vpsd.conf's default_plan, and --plan none.
vpsctl create 702 --ostemplate busybox --ram 96M >/dev/null
expect_eq "no --plan: default_plan tiny, --ram overriding" \
        '{"ram":100663296,"swap":0,"numproc":40,"cpulimit":25,"cpus":null,"diskspace":null}' "$(lim 702)"
expect_eq "and its settings (features, onboot)" "tun true tiny" \
        "$(vpsctl list -a -j | jq -r '.[] | select(.id == "702") | "\(.features | join(",")) \(.onboot) \(.plan)"')"
vpsctl create 703 --ostemplate busybox --plan none >/dev/null
expect_eq "--plan none: no plan, no limits" \
        '{"ram":null,"swap":null,"numproc":null,"cpulimit":null,"cpus":null,"diskspace":null}' "$(lim 703)"
expect_eq "and list shows -" "703 -" "$(vpsctl list -a -H -o id,plan | grep '^703 ' | tr -s ' ')"

# Refused, in one line, and nothing created.
expect_error "an unknown plan" "no plan 'gold'" vpsctl create 710 --ostemplate busybox --plan gold
expect_error "a name with a path" "invalid plan name" vpsctl create 710 --ostemplate busybox --plan ../secret
expect_error "a name with a slash" "invalid plan name" vpsctl create 710 --ostemplate busybox --plan a/b
expect_error "a hidden name" "invalid plan name" vpsctl create 710 --ostemplate busybox --plan .hidden
expect_error "a bad value, naming the file and line" "badvalue.conf:2: --numproc: invalid number 'lots'" \
        vpsctl create 710 --ostemplate busybox --plan badvalue
expect_error "an unknown key" "badkey.conf:2: unknown setting 'COLOUR'" vpsctl create 710 --ostemplate busybox --plan badkey
expect_error "a key set twice" "twice.conf:2: RAM is set twice" vpsctl create 710 --ostemplate busybox --plan twice
expect_error "a symlink out of plans_dir is not followed out" "no plan 'escape'" \
        vpsctl create 710 --ostemplate busybox --plan escape
expect_error "nor an absolute one" "no plan 'abs'" vpsctl create 710 --ostemplate busybox --plan abs
expect_eq "none of them created a VPS" "701 702 703" "$(vpsctl list -a -H -o id | tr '\n' ' ' | sed 's/ $//')"
check "nor left a directory" test ! -e "$ROOT/vps/710"

# set --plan: the plan again over an existing VPS, options given overriding; a refused one
# changes nothing.
cp "$ROOT/vps/703/config.json" "$T/703.before"
expect_error "set --plan of a bad plan file" "badvalue.conf:2" vpsctl set 703 --plan badvalue
expect_error "set --plan with a bad option beside it" "--ram" vpsctl set 703 --plan medium --ram lots
check "a refused set --plan changed nothing" cmp -s "$T/703.before" "$ROOT/vps/703/config.json"
vpsctl set 703 --plan medium --numproc 100 >/dev/null
expect_eq "set --plan medium --numproc 100" \
        '{"ram":2147483648,"swap":1073741824,"numproc":100,"cpulimit":null,"cpus":2,"diskspace":{"soft":42949672960,"hard":47244640256}}' "$(lim 703)"
expect_eq "and its plan is medium" medium "$(vps_field 703 plan)"
vpsctl set 701 --plan none >/dev/null
expect_eq "set --plan none forgets the name, keeps the limits" "null 536870912" \
        "$(vpsctl list -a -j | jq -r '.[] | select(.id == "701") | "\(.plan) \(.limits.ram)"')"

# A running VPS takes a plan again; features it already has change nothing.
vpsctl start 702 >/dev/null
vpsctl set 702 --plan tiny >/dev/null
expect_eq "set --plan tiny on the running 702: limits back to the plan's" 67108864 "$(vps_field 702 limits.ram)"

# Bad vpsd.conf values are refused at start-up.
printf 'default_plan = ../x\n' >"$T/bad.conf"
expect_error "a bad default_plan" "default_plan: invalid plan name" \
        env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock"
printf 'plans_dir = relative\n' >"$T/bad.conf"
expect_error "a relative plans_dir" "plans_dir takes an absolute directory" \
        env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock"
printf 'default_numproc = -5\n' >"$T/bad.conf"
expect_error "a bad default_numproc" "default_numproc takes a number" \
        env VPSD_CONFIG="$T/bad.conf" "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock"
finish
