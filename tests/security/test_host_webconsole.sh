#!/usr/bin/env bash
# Issue 19: the console in a browser. GET /v1/vps/ID/console upgraded to a WebSocket on the
# remote API (vpsd --listen), and the page vpsd serves at /console/ID (xterm.js). Headless
# Chromium opens the page with a token in the URL's fragment, types into the VPS's console and
# the answer shows on the page (the screenshot stays in build/webconsole.png). Then clients
# that must not get in: no token, a wrong one, another VPS's, one without `console`, a page
# of another origin, plain HTTP; and frames vpsd must refuse: unmasked, over the size cap.
# Each is refused, and nothing of it reaches the console (its log would show it: the pty
# echoes what it is given). The token never shows in vpsd's log, audit log or answers.
# `vpsctl --remote NAME console` reaches the same console over TLS with the same token.
. "$(dirname "$0")/../integration/lib.sh"
trap cleanup EXIT
for c in openssl curl jq python3; do command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }; done
HERE=$(cd "$(dirname "$0")" && pwd)
WS="python3 $HERE/ws_client.py"

for _ in $(seq 50); do
        PORT=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$PORT" | grep -q . || break
done
VPSD_CONSOLE_DIR=$BUILD/share/console "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" \
        --cgroup-parent "$CG_PARENT" --bridge "$BRIDGE" --subnet "$SUBNET" \
        --listen "127.0.0.1:$PORT" --daemon
VPSD_PID=$(vpsctl version -j | jq -r .server.pid)
URL=https://127.0.0.1:$PORT
CA=$T/ca.pem
cp "$ROOT/remote/server.crt" "$CA"
make_running_vps 101
make_running_vps 102
TOK=$(vpsctl token create --name web --vps 101 --allow console 2>/dev/null)
TOK_OTHER=$(vpsctl token create --name other --vps 102 --allow console 2>/dev/null)
TOK_NOCONSOLE=$(vpsctl token create --name noconsole --vps 101 \
        --allow start,stop,restart,status,exec,password,reinstall,snapshot,backup,metrics 2>/dev/null)
TOK_WRONG=vpst-$(openssl rand -hex 8)-$(openssl rand -hex 32)
[[ $TOK == vpst-* && $TOK_OTHER == vpst-* && $TOK_NOCONSOLE == vpst-* ]] || fail "tokens not made"
# The console is a shell: wait until it answers.
console_say 101 'echo up-$((6*7))' up-42 >/dev/null

# The page: served before authentication (it holds no secret), with a strict CSP.
code=$(curl -s -D "$T/ph" -o "$T/page" -w '%{http_code}' --cacert "$CA" "$URL/console/101")
expect_eq "GET /console/101 serves the page" 200 "$code"
check "the page's CSP allows scripts from the server alone" grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" "$T/ph"
check "the page may not be framed" grep -qi "frame-ancestors 'none'" "$T/ph"
for f in xterm.js xterm.css console.js console.css; do
        expect_eq "its file $f" 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/console/_/$f")"
done
for p in /console/_/../remote/server.key /console/_/console.html/x /console/_/.. "/console/a%2F..%2Fb" /console/_/server.key; do
        expect_eq "no other file: $p" 404 "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL$p")"
done

# ws CASE-NAME MODE [ENV...]: a WebSocket client (ws_client.py) for VPS 101 sending a marker
# line; prints its result.
leak() { echo "echo leak-$1-$$"; }
ws() {
        local name=$1 mode=$2; shift 2
        env "$@" $WS "127.0.0.1:$PORT" "$CA" "${VID:-101}" "$mode" "$(leak "$name")" 2>&1 || true
}
expect_eq "no token: 401" 401 "$(ws none early)"
expect_eq "a wrong token: 401" 401 "$(ws wrong early WS_TOKEN="$TOK_WRONG")"
expect_eq "another VPS's token: 404" 404 "$(ws other early WS_TOKEN="$TOK_OTHER")"
expect_eq "a token without console: 403" 403 "$(ws noconsole early WS_TOKEN="$TOK_NOCONSOLE")"
expect_eq "a page of another origin: 403" 403 "$(ws origin early WS_TOKEN="$TOK" WS_ORIGIN=https://evil.example)"
expect_eq "an origin in plain HTTP: 403" 403 "$(ws origin2 early WS_TOKEN="$TOK" WS_ORIGIN="http://127.0.0.1:$PORT")"
expect_eq "a token with no vps.console subprotocol: 400" 400 "$(ws noproto early WS_PROTOCOL="vps.token.$TOK")"
expect_eq "a missing VPS: 404" 404 "$(VID=199 ws missing early WS_TOKEN="$TOK_OTHER")"
expect_eq "unmasked client frame: closed with 1002" "101 close 1002" "$(ws unmasked unmasked WS_TOKEN="$TOK")"
expect_eq "frame over the cap: closed with 1009" "101 close 1009" "$(ws oversized oversized WS_TOKEN="$TOK")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/v1/vps/101/console" \
        -H 'Upgrade: websocket' -H 'Connection: Upgrade') || true
expect_eq "plain HTTP on the TLS port: no answer" 000 "$code"

# The positive controls: the token as a subprotocol, and as Authorization (not a browser).
out=$(WS_TOKEN=$TOK WS_EXPECT=sub-84 $WS "127.0.0.1:$PORT" "$CA" 101 say 'echo sub-$((6*7*2))' 2>&1 || true)
expect_eq "a subprotocol token: typed, answered" "101 got" "$out"
out=$(WS_AUTH=$TOK WS_ORIGIN= WS_EXPECT=hdr-84 $WS "127.0.0.1:$PORT" "$CA" 101 say 'echo hdr-$((6*7*2))' 2>&1 || true)
expect_eq "an Authorization header, no Origin: typed, answered" "101 got" "$out"
expect_eq "a ping is answered" "101 pong" "$(WS_TOKEN=$TOK $WS "127.0.0.1:$PORT" "$CA" 101 ping 2>&1 || true)"

# Clients that go away without a close frame (right after the 101) are dropped: vpsd's fds
# come back to what they were, and the console still answers.
fds() { ls "/proc/$VPSD_PID/fd" | wc -l; }
before=$(fds)
for i in $(seq 20); do WS_TOKEN=$TOK $WS "127.0.0.1:$PORT" "$CA" 101 early ": gone-$i" >/dev/null 2>&1 || true; done
for _ in $(seq 50); do [ "$(fds)" -le "$before" ] && break; sleep 0.1; done
check "20 clients gone without a close: no fd left behind ($(fds), before $before)" test "$(fds)" -le "$before"
out=$(WS_TOKEN=$TOK WS_EXPECT=after-84 $WS "127.0.0.1:$PORT" "$CA" 101 say 'echo after-$((6*7*2))' 2>&1 || true)
expect_eq "and the console still answers" "101 got" "$out"

# vpsctl console against the remote (POST .../console over TLS with the same token).
export XDG_CONFIG_HOME=$T/xdg
"$VPSCTL_BIN" remote add web "$URL" --token "$TOK" --accept-certificate >/dev/null
out=$(printf 'echo rc-$((6*7*3))\n' | "$VPSCTL_BIN" --remote web console 101 --timeout 2 2>&1 | tr -d '\r') || true
check "vpsctl --remote console: typed, answered" grep -q '^rc-126' <<<"$out"

# Nothing of the refused reached the console (the shell had echoed it into the log).
sleep 0.5
if grep -a "leak-" "$ROOT/vps/101/console.log" "$ROOT/vps/102/console.log"; then
        fail "a refused client's input reached a console"
else
        pass "no refused input reached a console"
fi

# Headless Chromium: the page with the token in its fragment.
NODE_PATH=${NODE_PATH:-/usr/local/lib/vps-npm/node_modules}
BROWSER=0
if command -v chromium >/dev/null && command -v node >/dev/null && [ -d "$NODE_PATH/playwright-core" ] &&
        [ -f "$BUILD/share/console/xterm.js" ]; then
        BROWSER=1
        n=$RANDOM
        rm -f "$BUILD/webconsole.png"
        out=$(NODE_PATH=$NODE_PATH timeout 90 node "$HERE/webconsole_browser.js" "$URL/console/101#token=$TOK" \
                "echo hello-\$(($n+1))" "hello-$((n + 1))" "$BUILD/webconsole.png" 2>&1) || true
        echo "$out"
        check "Chromium: typed into the console, the answer on the page" grep -q '^ok: connected' <<<"$out"
        check "Chromium: screenshot kept" test -s "$BUILD/webconsole.png"
        check "and what it typed reached the VPS" grep -aq "hello-$((n + 1))" "$ROOT/vps/101/console.log"
        # Another VPS's token in the page: the browser is refused its WebSocket (404).
        out=$(NODE_PATH=$NODE_PATH timeout 90 node "$HERE/webconsole_browser.js" "$URL/console/101#token=$TOK_OTHER" \
                "" - "$BUILD/webconsole-refused.png" 2>&1) || true
        echo "$out"
        check "Chromium with another VPS's token: refused" grep -q '^refused: disconnected' <<<"$out"
else
        echo "SKIP: no chromium, node, playwright-core or xterm.js (scripts/install-deps): the browser part"
fi

# The token is in no log and in no audit line; the audit has the console's opening.
secret=${TOK##*-}
grep -rqF "$secret" "$ROOT/vpsd.log" "$ROOT/remote/" 2>/dev/null && fail "the token's secret is in a log" || pass "the token's secret is in no log"
vpsctl audit --since 1h -j >"$T/audit.json"
check "audit: the refused token without console" jq -e 'any(.[]; .client == "token:noconsole" and .status == 403)' "$T/audit.json"

[ "$FAILS" = 0 ] || exit 1
[ "$BROWSER" = 1 ] || exit 77
echo "PASS"
