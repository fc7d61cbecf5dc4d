#!/usr/bin/env bash
# Issue 19: per-token request rate limits on the remote API (vpsd.conf token_rate and
# token_burst, a token bucket each). A token past its burst is answered 429 with Retry-After
# and the refusal is audited; another token has its own bucket; a trusted certificate is not
# limited; the bucket refills at the rate. A bad value in vpsd.conf stops vpsd from starting.
. "$(dirname "$0")/../integration/lib.sh"
trap cleanup EXIT
for c in openssl curl jq; do command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }; done
for _ in $(seq 50); do
        PORT=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$PORT" | grep -q . || break
done
printf 'token_rate = abc\n' >"$T/bad.conf"
expect_error "token_rate = abc: vpsd refuses to start" "token_rate takes a number" \
        "$VPSD_BIN" --config "$T/bad.conf" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --listen "127.0.0.1:$PORT"
printf 'token_rate = 1\ntoken_burst = 5\n' >"$T/vpsd.conf"
"$VPSD_BIN" --config "$T/vpsd.conf" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --listen "127.0.0.1:$PORT" --daemon
VPSD_PID=$(vpsctl version -j | jq -r .server.pid)
URL=https://127.0.0.1:$PORT
CA=$T/ca.pem
cp "$ROOT/remote/server.crt" "$CA"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=admin" -keyout "$T/admin.key" -out "$T/admin.crt" 2>/dev/null
vpsctl trust add "$T/admin.crt" --name panel >/dev/null
TOK_A=$(vpsctl token create --name a 2>/dev/null)
TOK_B=$(vpsctl token create --name b 2>/dev/null)

# Eight requests on one connection, at once.
codes=$(curl -s -o /dev/null -D "$T/heads" -w '%{stderr}%{http_code} ' --cacert "$CA" -H "Authorization: Bearer $TOK_A" \
        $(printf "$URL/v1/vps?n=%s " $(seq 8)) 2>&1 >/dev/null)
echo "token a, 8 requests at once: $codes"
expect_eq "the burst of 5 passes, then 429" "200 200 200 200 200 429 429 429 " "$codes"
check "the 429 says when to retry (Retry-After: 1)" grep -qi '^Retry-After: 1' "$T/heads"
body=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_A" "$URL/v1/vps")
expect_jq "the 429's body names the token" '.error | test("token a: too many requests")' echo "$body"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_B" "$URL/v1/vps")
expect_eq "another token has a bucket of its own" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_A" -X POST -H 'Content-Type: application/json' -d '{}' "$URL/v1/vps/101/start")
expect_eq "a POST over the rate: 429" 429 "$code"
check "the refused POST is audited with 429" sh -c "vpsctl() { \"$VPSCTL_BIN\" --socket \"$SOCK\" \"\$@\"; }; vpsctl audit -j | jq -e 'map(select(.status == 429 and .client == \"token:a\")) | length == 1'"
admin=""
for i in $(seq 12); do admin+="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$T/admin.crt" --key "$T/admin.key" "$URL/v1/vps") "; done
check "a trusted certificate is not limited (12 x 200)" test "$(grep -o 200 <<<"$admin" | wc -l)" = 12
sleep 1.1
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_A" "$URL/v1/vps")
expect_eq "after a second (1/s) the token may ask again" 200 "$code"
finish
