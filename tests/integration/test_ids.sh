#!/usr/bin/env bash
# VPS IDs as vzctl has them: a number from 1 to 2147483647 without leading zeros (so that two
# spellings never name two VPSes), or a name that is not digits alone; the same rule in vpsctl
# and in vpsd's API.
. "$(dirname "$0")/lib.sh"
start_vpsd
vpsctl template build busybox >/dev/null
check "create 201" vpsctl create 201 --ostemplate busybox
check "create the name web-1" vpsctl create web-1 --ostemplate busybox
check "create the largest number" vpsctl create 2147483647 --ostemplate busybox
for id in 0 0201 00 2147483648 4294967296; do
        expect_error "vpsctl refuses ID $id" "invalid VPS ID '$id'" vpsctl create "$id" --ostemplate busybox
done
expect_error "status -1 is a bad ID, not an option" "invalid VPS ID '-1'" vpsctl status -1
expect_error "status -- -1" "invalid VPS ID '-1'" vpsctl status -- -1
# The API itself, without vpsctl's check in front of it.
api() { curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" "$@"; }
for id in 0 0201 4294967296; do
        code=$(api -X POST -H 'Content-Type: application/json' \
                -d "{\"id\":\"$id\",\"ostemplate\":\"busybox\"}" http://localhost/v1/vps)
        expect_eq "API create of $id refused with 400" 400 "$code"
        check "API error for $id names the ID" grep -q "invalid VPS ID '$id'" "$T/body"
        code=$(api "http://localhost/v1/vps/$id")
        expect_eq "API GET of $id refused with 400" 400 "$code"
done
code=$(api http://localhost/v1/vps/201)
expect_eq "API GET of 201 (positive control)" 200 "$code"
# Nothing but the three good ones was made, on disk or in the list.
expect_eq "only the valid IDs exist on disk" "201 2147483647 web-1" "$(ls "$ROOT/vps" | sort | xargs)"
expect_eq "only the valid IDs are listed" "201 2147483647 web-1" \
        "$(vpsctl list -a -j | jq -er '.[].id' | sort | xargs)"
finish
