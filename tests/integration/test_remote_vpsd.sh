#!/usr/bin/env bash
# vpsctl against vpsd's own TLS listener (vpsd --listen): a customer's remote with a token
# (its VPSes alone, its verbs alone, the console through TLS), an admin's with a client
# certificate vpsd trusts (creates, backs up), a token vpsd does not know refused at `remote
# add` (nothing kept), and after vpsd's certificate is replaced (a reload with a new one),
# the pinned remotes refused in one line until removed and added again.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
free_port
start_vpsd --listen "127.0.0.1:$PORT"
URL=https://127.0.0.1:$PORT
make_running_vps 601
vpsctl create 602 --ostemplate busybox >/dev/null

export XDG_CONFIG_HOME=$T/config
unset VPSCTL_REMOTE
rvpsctl() { "$VPSCTL_BIN" "$@"; }
FP=$("$VPSD_BIN" --root "$ROOT" --fingerprint)

# A customer: a token for 601 with some verbs.
TOK=$(vpsctl token create --name cust --vps 601 --allow status,console,stop,start)
out=$(printf '%s\n' "$TOK" | rvpsctl remote add cust "$URL" --token - --fingerprint "$FP")
check "remote add with the token and vpsd --fingerprint's value" grep -qx "Certificate fingerprint of $URL: $FP" <<<"$out"
expect_jq "the customer's list holds 601 alone" 'map(.id) == ["601"]' rvpsctl --remote cust list -a -j
expect_eq "its status" running "$(rvpsctl --remote cust status 601 -j | jq -r .status)"
expect_error "another VPS does not exist for it" "602" rvpsctl --remote cust status 602
expect_eq "exit 3, as for no such VPS" 3 "$(rvpsctl --remote cust status 602 2>/dev/null; echo $?)"
expect_error "a verb it lacks is refused" "." rvpsctl --remote cust destroy 601 --force
expect_eq "exit 6" 6 "$(rvpsctl --remote cust destroy 601 --force 2>/dev/null; echo $?)"
expect_eq "601 is still there" running "$(vps_field 601 status)"
out=$(printf 'echo tls-$((6*7))\n' | rvpsctl --remote cust console 601 --timeout 3 2>&1 | tr -d '\r') || true
check "the console over vpsd's TLS answers" grep -q tls-42 <<<"$out"
check "stop and start through it" sh -c "'$VPSCTL_BIN' --remote cust stop 601 --fast >/dev/null && '$VPSCTL_BIN' --remote cust start 601 >/dev/null"
expect_eq "601 runs" running "$(vps_field 601 status)"

# A token vpsd does not know: refused at the first contact, nothing kept.
expect_error "remote add with a wrong token" "remote bad not added" rvpsctl remote add bad "$URL" --token vpst-nonesuch --fingerprint "$FP"
expect_jq "and not kept" '.remotes | has("bad") | not' cat "$XDG_CONFIG_HOME/vpsctl/remotes.json"

# An admin: a client certificate vpsd trusts.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=admin" -keyout "$T/admin.key" -out "$T/admin.crt" 2>/dev/null
vpsctl trust add "$T/admin.crt" --name panel >/dev/null
check "remote add with the trusted certificate" sh -c "'$VPSCTL_BIN' remote add adm '$URL' --cert '$T/admin.crt' --key '$T/admin.key' --accept-certificate >/dev/null"
check "the admin creates a VPS through it" sh -c "'$VPSCTL_BIN' --remote adm create 603 --ostemplate busybox >/dev/null"
expect_jq "and lists all" 'map(.id) == ["601", "602", "603"]' rvpsctl --remote adm list -a -j
expect_jq "a backup over vpsd's TLS" '.id == "602" and .files > 0' rvpsctl --remote adm backup 602 --to "$T/602.tar.zst" -j
expect_jq "a restore over it" '.id == "604"' rvpsctl --remote adm restore "$T/602.tar.zst" 604 -j

# vpsd's certificate replaced (a reload with the identity removed): both remotes refused.
rm "$ROOT/remote/server.key" "$ROOT/remote/server.crt"
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do [ -s "$ROOT/remote/server.crt" ] && vpsctl version >/dev/null 2>&1 && break; sleep 0.1; done
NEW=$("$VPSD_BIN" --root "$ROOT" --fingerprint)
check "vpsd has a new certificate" test -n "$NEW" -a "$NEW" != "$FP"
expect_error "the customer's remote is refused" "remote cust at $URL is not the one pinned at first contact \(fingerprint $NEW, pinned $FP\): refused" rvpsctl --remote cust list
expect_eq "exit 6" 6 "$(rvpsctl --remote cust list 2>/dev/null; echo $?)"
expect_error "the admin's too" "not the one pinned" rvpsctl --remote adm list
expect_error "and its console" "not the one pinned" rvpsctl --remote cust console 601 </dev/null
check "remove and add again: the new one pinned" sh -c "'$VPSCTL_BIN' remote remove cust >/dev/null && printf '%s\n' '$TOK' | '$VPSCTL_BIN' remote add cust '$URL' --token - --accept-certificate | grep -q '$NEW'"
expect_jq "then it works" 'map(.id) == ["601"]' rvpsctl --remote cust list -j
finish
