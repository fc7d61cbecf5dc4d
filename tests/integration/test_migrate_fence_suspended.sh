#!/usr/bin/env bash
# The fence of `migrate --online` on the source's vpsd, without criu (this host cannot dump):
# a VPS made to look suspended (a stopped VPS with a checkpoint/vpsd.json, which vpsd reads
# as suspended when it starts) takes PATCH ?fence=1 {"migrated_to": DEST} though settings of
# a suspended VPS are refused; marked, its resume is refused naming the destination (one
# line, the VPS untouched), a vpsd restart (onboot) leaves it suspended and logs why, and
# resume --force lifts the mark (then fails here for want of criu). resume's option parsing.
. "$(dirname "$0")/lib.sh"
export VPS_CRIU=$T/none
start_vpsd
api() { curl -sS --unix-socket "$SOCK" -X "$1" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "http://vpsd$2"; }
vpsctl template build busybox >/dev/null
vpsctl create 183 --ostemplate busybox --onboot yes >/dev/null 2>&1 ||
        vpsctl create 183 --ostemplate busybox >/dev/null || { fail "create 183"; finish; }
mkdir -p "$ROOT/vps/183/checkpoint"
echo '{}' >"$ROOT/vps/183/checkpoint/vpsd.json"
stop_daemon "$VPSD_PID" "$CG_PARENT"; VPSD_PID=; start_vpsd
expect_eq "183 looks suspended" suspended "$(vps_field 183 status)"
expect_error "a setting of a suspended VPS is still refused" "resume it before changing its settings" \
        vpsctl set 183 --hostname x
OUT=$(api PATCH "/v1/vps/183?fence=1" '{"migrated_to": "hostb"}')
check "PATCH ?fence=1 marks the suspended VPS ($OUT)" test "$(vps_field 183 migrated_to)" = hostb
expect_error "resume of the marked VPS: refused, naming the destination, one line" \
        "^vpsctl: VPS 183 was migrated to hostb and kept here suspended \\(its copy there may run\\): resume --force resumes it here anyway\$" \
        vpsctl resume 183
check "exit 6 (refused)" sh -c "'$VPSCTL_BIN' --socket '$SOCK' resume 183 2>/dev/null; [ \$? = 6 ]"
expect_eq "still suspended and marked" "suspended hostb" "$(vps_field 183 status) $(vps_field 183 migrated_to)"
: >"$ROOT/vpsd.log"
stop_daemon "$VPSD_PID" "$CG_PARENT"; VPSD_PID=; start_vpsd
sleep 1
expect_eq "after a vpsd restart: still suspended and marked" "suspended hostb" \
        "$(vps_field 183 status) $(vps_field 183 migrated_to)"
check "onboot does not resume it" not grep -q "onboot: VPS 183 resuming" "$ROOT/vpsd.log"
OUT=$(vpsctl suspend 183 --force 2>&1 || true)
check "suspend --force is no option ($OUT)" grep -q "unrecognized option '--force'" <<<"$OUT"
check "resume --help names --force" sh -c "'$VPSCTL_BIN' resume --help | grep -q -- '-f, --force'"
expect_error "resume --force: the mark lifted, then criu's absence says why" \
        "^vpsctl: resume needs checkpointing \\(CRIU\\)" vpsctl resume 183 --force
expect_eq "the mark is gone after the forced resume" "" "$(vps_field 183 migrated_to | sed 's/null//')"
OUT=$(api PATCH "/v1/vps/183" '{"hostname": "y", "migrated_to": "hostb"}')
check "a PATCH with more than the mark is refused for a suspended VPS ($OUT)" \
        grep -q "resume it before changing its settings" <<<"$OUT"
finish
