#!/usr/bin/env bash
# Issue 14: API paths were cut at a NUL (GET /v1/vps/300%00x acted on VPS 300). Every route
# refuses an ID, name or argument holding a control character (%00, %0a, %1b) with a 400,
# and nothing is acted on; the plain ID works (positive control).
. "$(dirname "$0")/../integration/lib.sh"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
start_vpsd
make_running_vps 300
api() { # api METHOD PATH [BODY]: prints the HTTP status
        curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
                ${3:+-H 'Content-Type: application/json' --data "$3"} "http://localhost$2"
}
expect_eq "positive control: GET /v1/vps/300 works" 200 "$(api GET /v1/vps/300)"
for c in %00 %0a %1b; do
        expect_eq "GET /v1/vps/300${c}x" 400 "$(api GET "/v1/vps/300${c}x")"
        check "  its error names the control character" grep -q 'control character' "$T/body"
        expect_eq "POST /v1/vps/300${c}/stop" 400 "$(api POST "/v1/vps/300${c}/stop")"
        expect_eq "POST /v1/vps/300${c}/restart" 400 "$(api POST "/v1/vps/300${c}/restart")"
        expect_eq "PATCH /v1/vps/300${c}" 400 "$(api PATCH "/v1/vps/300${c}" '{"hostname": "changed"}')"
        expect_eq "DELETE /v1/vps/300${c}" 400 "$(api DELETE "/v1/vps/300${c}")"
        expect_eq "GET /v1/vps/300${c}/stats" 400 "$(api GET "/v1/vps/300${c}/stats")"
        expect_eq "POST /v1/vps/300${c}/console" 400 "$(api POST "/v1/vps/300${c}/console")"
        expect_eq "GET /v1/templates/busybox${c}" 400 "$(api GET "/v1/templates/busybox${c}")"
        expect_eq "DELETE /v1/templates/busybox${c}" 400 "$(api DELETE "/v1/templates/busybox${c}")"
        expect_eq "GET /v1/vps?stats=1${c}" 400 "$(api GET "/v1/vps?stats=1${c}")"
        expect_eq "POST /v1/vps with an ID holding ${c}" 400 \
                "$(api POST /v1/vps "{\"id\": \"301$(printf '%s' "$c" | sed 's/%/\\u00/')\", \"ostemplate\": \"busybox\"}")"
done
expect_eq "VPS 300 still runs" running "$(vps_field 300 status)"
expect_eq "its hostname is unchanged" vps300 "$(vpsctl exec 300 -- hostname)"
check "the template is still there" test -d "$ROOT/templates/busybox/rootfs"
expect_eq "no VPS 301 was made" "" "$(vps_field 301 id)"
expect_eq "positive control: POST /v1/vps/300/stop stops it" 200 "$(api POST /v1/vps/300/stop)"
expect_eq "it is stopped" stopped "$(vps_field 300 status)"
finish
