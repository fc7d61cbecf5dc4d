#!/usr/bin/env bash
# vpsd's start-up probe of CRIU (issue 18): one log line and `vpsctl version` (-j too) say
# whether checkpointing is available and why not: no criu, a criu that fails its check (as
# bookworm's 3.17 does on a 6.18 kernel: a stand-in script says what it says), and the
# installed one (scripts/install-criu's backport) when there is one. The probe runs in a
# child: a start meanwhile is not held up by a `criu check` that takes seconds. suspend and
# resume refuse with the probe's reason, one line, the VPS untouched.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null; }
restart_vpsd() { stop_daemon "$VPSD_PID" "$CG_PARENT"; VPSD_PID=; start_vpsd; }
# probed: waits until the probe has ended (the log line).
probed() { for _ in $(seq 600); do grep -q "checkpoint: \(available\|not available\)" "$ROOT/vpsd.log" && return 0; sleep 0.05; done; return 1; }

export VPS_CRIU=$T/none
start_vpsd
check "probed" probed
check "the log says there is no criu" grep -q "checkpoint: not available: no criu at $T/none" "$ROOT/vpsd.log"
expect_jq "version -j: not available, why" \
        '.server.checkpoint | .state == "unavailable" and (.available | not) and (.why | test("no criu at"))' \
        vpsctl version -j
check "version says it in a line" sh -c "'$VPSCTL_BIN' --socket '$SOCK' version | grep -q '^checkpoint: not available: no criu at'"

# A criu that fails its check, slowly (8 s): meanwhile vpsd answers and starts VPSes.
cat >"$T/fake-criu" <<'EOF'
#!/bin/sh
case $1 in
--version) echo "Version: 3.17.1" ;;
check) sleep 8; echo "Error (criu/vdso.c:627): vdso: Unexpected rt vDSO area bounds"
        echo "Error (criu/cr-check.c:1605): Can't fill kdat"; exit 1 ;;
esac
EOF
chmod 0755 "$T/fake-criu"
export VPS_CRIU=$T/fake-criu
: >"$ROOT/vpsd.log"
restart_vpsd
expect_jq "while the check runs: probing" '.server.checkpoint.state == "probing"' vpsctl version -j
t0=$(date +%s%N)
make_running_vps 182
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a create and start meanwhile (${ms} ms) run" test "$(vps_field 182 status)" = running
expect_jq "before the probe has ended: the start did not wait for it" '.server.checkpoint.state == "probing"' vpsctl version -j
PID182=$(vps_field 182 pid)
expect_error "suspend while probing: try again" "^vpsctl: suspend needs checkpointing \\(CRIU\\), which vpsd is still probing: try again in a moment\$" \
        vpsctl suspend 182
check "probed" probed
check "the log names the version and the check's error" \
        grep -q "checkpoint: not available: criu 3.17.1 ($T/fake-criu) fails its check on this kernel: Error (criu/cr-check.c:1605): Can't fill kdat" "$ROOT/vpsd.log"
expect_jq "version -j: its version and why" \
        '.server.checkpoint | .version == "3.17.1" and .criu == "'"$T/fake-criu"'" and (.why | test("fails its check"))' \
        vpsctl version -j
check "one log line" test "$(grep -c 'checkpoint:' "$ROOT/vpsd.log")" = 1
# suspend and resume refuse with the probe's reason: one line, exit 6, the VPS untouched.
expect_error "suspend names the probe's reason, one line" \
        "^vpsctl: suspend needs checkpointing \\(CRIU\\), which this host's vpsd says is not available: criu 3.17.1 \\($T/fake-criu\\) fails its check on this kernel: .*Can't fill kdat\$" \
        vpsctl suspend 182
check "exit 6 (refused)" sh -c "'$VPSCTL_BIN' --socket '$SOCK' suspend 182 2>/dev/null; [ \$? = 6 ]"
expect_eq "182 runs on, the same init" "running $PID182" "$(vps_field 182 status) $(vps_field 182 pid)"
check "no dump left in its directory" test -z "$(find "$ROOT/vps/182" -maxdepth 1 -name '*checkpoint*' -o -maxdepth 1 -name '*.img')"
expect_error "resume too" "^vpsctl: resume needs checkpointing \\(CRIU\\), which this host's vpsd says is not available: " \
        vpsctl resume 182
expect_error "suspend -j: the error as JSON" '"error":' vpsctl suspend 182 -j
# criu's deadline of a request (-t S, {"timeout": S}; vpsd.conf criu_timeout otherwise):
# checked before anything else, 1 to 86400 s.
usage_error() { local out rc=0; out=$("$VPSCTL_BIN" --socket "$SOCK" "${@:2}" 2>&1) || rc=$?
        [ "$rc" = 2 ] && grep -q -- "$1" <<<"$out"; }
check "suspend -t 0 is a usage error (exit 2)" usage_error "invalid timeout '0': expected a number of seconds" suspend 182 -t 0
check "resume --timeout x is a usage error (exit 2)" usage_error "invalid timeout 'x'" resume 182 --timeout x
expect_error "a deadline past 86400 s is refused by vpsd" "^vpsctl: 'timeout': seconds from 1 to 86400\$" \
        vpsctl suspend 182 -t 86401
check "pause takes no -t (exit 2)" usage_error "invalid option" pause 182 -t 3
vpsctl create 183 --ostemplate busybox >/dev/null
expect_error "a stopped VPS does not suspend (exit 5)" "^vpsctl: VPS 183 is not running: only a running one suspends\$" \
        vpsctl suspend 183
check "exit 5 for it" sh -c "'$VPSCTL_BIN' --socket '$SOCK' suspend 183 2>/dev/null; [ \$? = 5 ]"
expect_error "no such VPS" "VPS 189" vpsctl suspend 189
# Reaped: no child of vpsd left a zombie (its children: the VPS inits, the keeper).
zombies() { local c n=0; for c in $(cat /proc/"$VPSD_PID"/task/*/children); do
        [ "$(awk '{ print $3 }' /proc/"$c"/stat 2>/dev/null)" != Z ] || n=$((n + 1)); done; echo "$n"; }
expect_eq "the probe's child is reaped" 0 "$(zombies)"

# A VPS with whole images (checkpoint/vpsd.json, which a suspend writes once criu's dump has
# succeeded; the VM layer makes real ones: tests/vm/test_criu.sh) is suspended, also for a
# vpsd that starts: start and set refuse, resume names the host's reason, destroy removes them.
mkdir -m 0700 "$ROOT/vps/183/checkpoint"
echo '{"tty": "tty[8800:19]", "externals": []}' >"$ROOT/vps/183/checkpoint/vpsd.json"
export VPS_CRIU=$T/none # a quick probe
: >"$ROOT/vpsd.log"
restart_vpsd
expect_eq "a VPS with whole images is suspended after a restart" suspended "$(vps_field 183 status)"
expect_error "start refuses, naming resume" "^vpsctl: VPS 183 is suspended: resume it \\(vpsctl resume 183\\), or destroy it\$" \
        vpsctl start 183
expect_error "set refuses" "^vpsctl: VPS 183 is suspended: resume it before changing its settings\$" \
        vpsctl set 183 --hostname other
check "probed" probed
expect_error "resume names the host's reason" "^vpsctl: resume needs checkpointing \\(CRIU\\), which this host's vpsd says is not available: " \
        vpsctl resume 183
expect_error "suspend of it refuses" "^vpsctl: VPS 183 is suspended already" vpsctl suspend 183
# Its images restore its processes over the root they were dumped with. A customer's token may
# reinstall its VPS and switch its snapshots (POST .../reinstall, .../snapshot-switch: the API
# itself, not vpsctl, which stops a VPS first); after either, the admin's resume (or the next
# boot's, onboot) would bring the old processes and their memory back over the new root: an
# intruder's processes back after a reinstall meant to remove them. Both refuse, as start does.
vpsctl snapshot 183 --name before >/dev/null
echo dumped-with-this-root >"$ROOT/vps/183/upper/marker"
api_post() { curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -X POST -d "$2" \
        "http://localhost/v1/vps/183/$1"; }
suspended_msg='VPS 183 is suspended: resume it (vpsctl resume 183), or destroy it'
expect_eq "POST reinstall refuses while suspended (409, why)" "409 $suspended_msg" \
        "$(api_post reinstall '{"keep": false}') $(jq -r .error "$T/out")"
expect_eq "POST snapshot-switch refuses while suspended (409, why)" "409 $suspended_msg" \
        "$(api_post snapshot-switch '{"name": "before"}') $(jq -r .error "$T/out")"
expect_error "vpsctl reinstall: one line" "^vpsctl: ${suspended_msg//[()]/.}\$" \
        vpsctl reinstall 183 --no-keep
expect_eq "still suspended, its root as it was" "suspended dumped-with-this-root" \
        "$(vps_field 183 status) $(cat "$ROOT/vps/183/upper/marker" 2>&1)"
check "its images are left as they were" test -s "$ROOT/vps/183/checkpoint/vpsd.json"
quiet vpsctl destroy 183
check "destroy removes the VPS with its images" test ! -e "$ROOT/vps/183"

# The installed criu (scripts/install-criu), as vpsd finds it.
unset VPS_CRIU
if [ -x /usr/local/sbin/criu ] || [ -x /usr/sbin/criu ]; then
        : >"$ROOT/vpsd.log"
        restart_vpsd
        check "probed" probed
        capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
        if ! /usr/local/sbin/criu check >/dev/null 2>&1; then
                expect_jq "the installed criu fails its check: said" '.server.checkpoint.available | not' vpsctl version -j
        elif (( ((0x$capeff >> 24) & 1) == 0 )); then
                # This host's sandbox dropped CAP_SYS_RESOURCE (bit 24): criu's check passes,
                # but no VPS could be dumped (criu reads its rlimits). Said, by name.
                expect_jq "the installed criu passes its check, but vpsd lacks cap_sys_resource: not available, why" \
                        '.server.checkpoint | (.available | not) and (.why | test("vpsd lacks cap_sys_resource"))' \
                        vpsctl version -j
                check "the log says it" grep -q "checkpoint: not available: vpsd lacks cap_sys_resource" "$ROOT/vpsd.log"
                vpsctl start 182 >/dev/null
                PID182=$(vps_field 182 pid)
                expect_error "suspend refuses, naming it" \
                        "^vpsctl: suspend needs checkpointing \\(CRIU\\), which this host's vpsd says is not available: vpsd lacks cap_sys_resource" \
                        vpsctl suspend 182
                expect_eq "182 runs on, the same init" "running $PID182" "$(vps_field 182 status) $(vps_field 182 pid)"
        else
                expect_jq "the installed criu: available" \
                        '.server.checkpoint | .available and .criu == "/usr/local/sbin/criu" and (.version | test("^[0-9]"))' \
                        vpsctl version -j
                check "version says available" sh -c "'$VPSCTL_BIN' --socket '$SOCK' version | grep -q '^checkpoint: available (criu [0-9.]*, /usr/local/sbin/criu)'"
        fi
else
        echo "note: no criu installed (scripts/install-criu): the real probe is not tried"
fi
finish
