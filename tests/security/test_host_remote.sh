#!/usr/bin/env bash
# Issue 19: the remote API (vpsd --listen) against clients that must not get in. Every route
# of vpsd's table (`vpsd --routes`, from the code: a new route is covered without changing
# this test) is asked with no credentials, a wrong token, an expired one, a revoked one, a
# token for another VPS, a token without the route's verb, an untrusted client certificate,
# and in plain HTTP on the TLS port; each gets exactly its documented answer
# (docs/security.md) and nothing changes. Then the positive controls: a trusted certificate
# and a token with the verb get through; TLS below 1.2 is refused; failed authentication is
# slowed down; the secrets are stored hashed, root's alone; the audit log names each client;
# a reload (SIGHUP) with the certificate removed serves a new one on the same port.
. "$(dirname "$0")/../integration/lib.sh"
trap cleanup EXIT
for c in openssl curl jq; do command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }; done

free_port
start_vpsd --listen "127.0.0.1:$PORT"
URL=https://127.0.0.1:$PORT
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox >/dev/null
vpsctl create 102 --ostemplate busybox >/dev/null
CA=$T/ca.pem
cp "$ROOT/remote/server.crt" "$CA"

# Certificates: one trusted (an admin's panel), one not.
for n in admin stranger; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                -subj "/CN=$n" -keyout "$T/$n.key" -out "$T/$n.crt" 2>/dev/null
done
vpsctl trust add "$T/admin.crt" --name panel >/dev/null
# Tokens: another VPS's (every verb), an expired one, a revoked one, and per verb one for VPS
# 101 with every verb but that one.
VERBS=(start stop restart status console exec password reinstall snapshot backup metrics)
without() { local v out=(); for v in "${VERBS[@]}"; do [ "$v" = "$1" ] || out+=("$v"); done; local IFS=,; echo "${out[*]}"; }
TOK_OTHER=$(vpsctl token create --name other --vps 102 2>/dev/null)
TOK_EXPIRED=$(vpsctl token create --name expired --vps 101 --expires 1s 2>/dev/null)
TOK_REVOKED=$(vpsctl token create --name revoked --vps 101 2>/dev/null)
vpsctl token revoke revoked >/dev/null
declare -A TOK_NO
for v in "${VERBS[@]}"; do TOK_NO[$v]=$(vpsctl token create --name "no-$v" --vps 101 --allow "$(without "$v")" 2>/dev/null); done
TOK_WRONG=vpst-$(openssl rand -hex 8)-$(openssl rand -hex 32)
TOK_GOOD=$(vpsctl token create --name good --vps 101 --allow status 2>/dev/null)
[[ $TOK_OTHER == vpst-* && $TOK_GOOD == vpst-* ]] || fail "tokens not made: '$TOK_OTHER'"
sleep 1.2 # the expired token's second is over

# What must not change: the VPSes' and templates' files and states, the credentials.
state() {
        find "$ROOT/vps" "$ROOT/templates" -path '*/console.log' -prune -o -printf '%P %s %m %T@\n' | sort
        vpsctl list -a -j | jq -c 'map({id, status})'
        sha256sum "$ROOT/remote/trust.json" "$ROOT/remote/tokens.json"
}
BEFORE=$(state)

# ask CASE METHOD PATH [SOURCE]: the HTTP status, or "closed" without an HTTP answer.
ask() {
        local case=$1 method=$2 path=$3 src=${4:-127.0.0.1}
        local -a a=(-s -o "$T/body.$src" -w '%{http_code}' --max-time 20 --interface "$src" -X "$method")
        local body='{}'
        [ "$method" = PATCH ] && body='{"userpasswd": "root:Secret1"}'
        [ "$method" = GET ] || a+=(-H 'Content-Type: application/json' -d "$body")
        [[ $path == */console ]] && a+=(-H 'Upgrade: vps-console')
        case $case in
        none) ;;
        wrong) a+=(-H "Authorization: Bearer $TOK_WRONG") ;;
        expired) a+=(-H "Authorization: Bearer $TOK_EXPIRED") ;;
        revoked) a+=(-H "Authorization: Bearer $TOK_REVOKED") ;;
        other) a+=(-H "Authorization: Bearer $TOK_OTHER") ;;
        noverb:*) a+=(-H "Authorization: Bearer ${TOK_NO[${case#noverb:}]}") ;;
        untrusted) a+=(--cert "$T/stranger.crt" --key "$T/stranger.key") ;;
        esac
        local code rc=0
        if [ "$case" = plain ]; then
                code=$(curl "${a[@]}" "http://127.0.0.1:$PORT$path") || rc=$?
        else
                code=$(curl --cacert "$CA" "${a[@]}" "$URL$path") || rc=$?
        fi
        if [ "$case" = plain ] && { [ "$rc" = 52 ] || [ "$rc" = 56 ]; }; then echo closed; else echo "$code"; fi
}

# expected CASE VERB VPS_ROUTE: the documented answer (docs/security.md, "Remote API").
expected() {
        local case=$1 verb=$2 isvps=$3
        case $case in
        none | wrong | expired | revoked) echo 401 ;;
        untrusted) echo 403 ;;
        plain) echo closed ;;
        other)
                if [ "$isvps" = true ]; then echo 404
                elif [ "$verb" = admin ]; then echo 403
                else echo 200; fi ;;
        noverb:*) if [ "$verb" = any ]; then echo 200; else echo 403; fi ;;
        esac
}

mapfile -t ROUTES < <("$VPSD_BIN" --routes)
[ "${#ROUTES[@]}" -gt 20 ] || fail "vpsd --routes lists ${#ROUTES[@]} routes"
# One source address per route (127.0.0.0/8 is all loopback): the slow-down of failed
# authentication is per address, and the routes run side by side.
i=0
for r in "${ROUTES[@]}"; do
        i=$((i + 1))
        (
                method=$(jq -r .method <<<"$r"); verb=$(jq -r .verb <<<"$r"); isvps=$(jq -r .vps <<<"$r")
                path=$(jq -r .path <<<"$r")
                case $path in
                /v1/vps/*) path=${path/\{\}/101} ;;
                /v1/templates/*) path=${path/\{\}/busybox} ;;
                /v1/trust/*) path=${path/\{\}/$(jq -r '.[0].fingerprint' "$ROOT/remote/trust.json" 2>/dev/null || echo x)} ;;
                /v1/tokens/*) path=${path/\{\}/good} ;;
                esac
                nv=$verb
                [ "$method $verb" = "PATCH admin" ] && nv=password # a PATCH of a password alone
                [[ " ${VERBS[*]} " == *" $nv "* ]] || nv=status
                for case in none wrong expired revoked other "noverb:$nv" untrusted plain; do
                        want=$(expected "$case" "$verb" "$isvps")
                        got=$(ask "$case" "$method" "$path" "127.0.0.$((10 + i))")
                        echo "$method $path [$case]: $got (want $want)"
                done
        ) >"$T/res.$i" 2>&1 &
done
wait
cat "$T"/res.* | while read -r line; do
        got=${line##*: }; got=${got%% (*}; want=${line##*want }; want=${want%)}
        [ "$got" = "$want" ] || echo "MISMATCH $line"
done >"$T/mismatch"
if [ -s "$T/mismatch" ]; then fail "answers differ from the documented ones:"; cat "$T/mismatch" >&2
else pass "$(cat "$T"/res.* | wc -l) route x client answers as documented"; fi
AFTER=$(state)
[ "$BEFORE" = "$AFTER" ] && pass "nothing changed" || { fail "something changed"; diff <(echo "$BEFORE") <(echo "$AFTER") >&2; }

# Positive controls: the trusted certificate and a token with its verb get through, and a
# token's list holds its VPSes alone; a token learns the version, not the host's paths.
code=$(curl -s -o "$T/list" -w '%{http_code}' --cacert "$CA" --cert "$T/admin.crt" --key "$T/admin.key" "$URL/v1/vps")
[ "$code" = 200 ] && [ "$(jq -c 'map(.id)' "$T/list")" = '["101","102"]' ] && pass "trusted certificate lists every VPS" || fail "trusted certificate: $code $(head -c 200 "$T/list")"
code=$(curl -s -o "$T/one" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/vps/101")
expect_eq "a token with status reads its VPS" "200 101" "$code $(jq -r .id "$T/one")"
list=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps" | jq -c 'map(.id)')
expect_eq "a token's list holds its VPSes alone" '["102"]' "$list"
keys=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/version" | jq -c 'keys')
expect_eq "a token's version shows no host details" '["api","version"]' "$keys"
# The 404 of another's VPS is that of a VPS that does not exist, word for word.
a=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps/101")
b=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps/199")
expect_eq "another's VPS answers as a missing one" "$(sed 's/199/101/' <<<"$b")" "$a"

# TLS 1.2 and newer only (the client offers 1.1 with its own limits lowered).
if openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1 | grep -q 'Protocol *: TLSv1.1$'; then
        echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' 2>&1 | grep -q 'BEGIN CERTIFICATE' && fail "TLS 1.1 accepted" || pass "TLS 1.1 refused"
else
        pass "TLS 1.1 refused"
fi
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 2>&1 | grep -q 'BEGIN CERTIFICATE' && pass "TLS 1.2 accepted" || fail "TLS 1.2 refused"
fp_served=$(echo | openssl s_client -connect "127.0.0.1:$PORT" 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
expect_eq "vpsd --fingerprint is the served certificate's" "$fp_served" "$("$VPSD_BIN" --root "$ROOT" --fingerprint)"

# Failed authentication slowed down: a fresh address's third failure waits 1 s.
for n in 1 2 3; do
        s=$(date +%s%N)
        curl -s -o /dev/null --interface 127.0.0.250 --cacert "$CA" -H "Authorization: Bearer $TOK_WRONG" "$URL/v1/vps"
        ms=$(( ($(date +%s%N) - s) / 1000000 ))
done
[ "$ms" -ge 900 ] && pass "third failure answered after $ms ms" || fail "third failure answered after $ms ms"

# Stored: hashes alone, root's alone.
grep -q "${TOK_GOOD##*-}" "$ROOT/remote/tokens.json" && fail "a token's secret is stored" || pass "no token secret stored"
expect_eq "modes of ROOT/remote and its files" "700 600 600 600 600" \
        "$(stat -c %a "$ROOT/remote" "$ROOT/remote/server.key" "$ROOT/remote/tokens.json" "$ROOT/remote/trust.json" "$ROOT/remote/audit.log" | xargs)"
# The audit log names each client of a change asked for.
check "audit log: a refused token's request" jq -se 'any(.[]; .client == "token:other" and .status == 404 and .vps == "101")' "$ROOT/remote/audit.log"
check "audit log: the unauthenticated" jq -se 'any(.[]; .client == "unauthenticated" and .status == 401)' "$ROOT/remote/audit.log"
check "vpsctl audit -j" bash -c "\"$VPSCTL_BIN\" --socket \"$SOCK\" audit --since 1h -j | jq -e 'length > 0'"

# A reload (SIGHUP: vpsd executes itself again) with the identity removed makes a new one,
# served on the same port, which stayed open.
old=$("$VPSD_BIN" --root "$ROOT" --fingerprint)
rm "$ROOT/remote/server.key" "$ROOT/remote/server.crt"
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do [ -s "$ROOT/remote/server.crt" ] && vpsctl version >/dev/null 2>&1 && break; sleep 0.1; done
new=$(echo | openssl s_client -connect "127.0.0.1:$PORT" 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
[ -n "$new" ] && [ "$new" != "$old" ] && [ "$new" = "$("$VPSD_BIN" --root "$ROOT" --fingerprint)" ] && pass "reload serves the new certificate" || fail "after reload: served '$new', old $old"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ROOT/remote/server.crt" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/vps/101")
expect_eq "tokens still work after the reload" 200 "$code"

[ "$FAILS" = 0 ] || exit 1
echo "PASS"
