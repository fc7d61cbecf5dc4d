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
# Small logs (the audit log rotates as vpsd.log does) and 4 connections per client address.
printf 'log_max_size = 16K\nlog_keep = 30\nlisten_client_limit = 4\ntoken_snapshots = 5\n' >"$T/vpsd.conf"
start_vpsd --config "$T/vpsd.conf" --listen "127.0.0.1:$PORT"
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
        [[ $path == /v1/events ]] && a+=(--max-time 6) # a stream: its status is what counts (a refusal comes within 4 s)
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
                /v1/trust/*) path=${path/\{\}/$(jq -r '.trust[0].fingerprint' "$ROOT/remote/trust.json" 2>/dev/null || echo x)} ;;
                /v1/tokens/*) path=${path/\{\}/good} ;;
                /v1/nodes/*) path=${path/\{\}/node-x} ;;
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
[ -n "$BEFORE" ] && [ "$BEFORE" = "$AFTER" ] && pass "nothing changed" || { fail "something changed"; diff <(echo "$BEFORE") <(echo "$AFTER") >&2; }

# A change through the trusted certificate (audited below).
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$T/admin.crt" --key "$T/admin.key" -X POST "$URL/v1/vps/102/start")
expect_eq "the trusted certificate starts a VPS" 200 "$code"
# Positive controls: the trusted certificate and a token with its verb get through, and a
# token's list holds its VPSes alone; a token learns the version, not the host's paths.
code=$(curl -s -o "$T/list" -w '%{http_code}' --cacert "$CA" --cert "$T/admin.crt" --key "$T/admin.key" "$URL/v1/vps")
[ "$code" = 200 ] && [ "$(jq -c 'map(.id)' "$T/list")" = '["101","102"]' ] && pass "trusted certificate lists every VPS" || fail "trusted certificate: $code $(head -c 200 "$T/list")"
code=$(curl -s -o "$T/one" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/vps/101")
expect_eq "a token with status reads its VPS" "200 101" "$code $(jq -r .id "$T/one")"
list=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps" | jq -c 'map(.id)')
expect_eq "a token's list holds its VPSes alone" '["102"]' "$list"
# A token's VPS shows nothing of the host's: its state directory, the init's host PID, its
# cgroup, its uid range, vpsd's sysinfo socket (the trusted certificate sees them).
HOSTKEYS='["cgroup","pid","pid_ino","pid_starttime","root","sysinfo_socket","uid_base","uid_count"]'
shown() { jq -c --argjson h "$HOSTKEYS" '[(if type == "array" then .[] else . end) | keys[] | select(IN($h[]))] | unique'; }
expect_eq "the trusted certificate's list shows the running VPS's host details" \
        '["cgroup","pid","pid_ino","pid_starttime","root","uid_base","uid_count"]' "$(shown <"$T/list")"
expect_eq "a token's VPS shows no host details" "[]" "$(shown <"$T/one")"
expect_eq "a token's list shows no host details (its VPS running)" "[]" \
        "$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps?up=0" | shown)"
expect_eq "nor one VPS of it" "[]" \
        "$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps/102" | shown)"
keys=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/version" | jq -c 'keys')
expect_eq "a token's version shows no host details" '["api","version"]' "$keys"
# The 404 of another's VPS is that of a VPS that does not exist, word for word.
a=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps/101")
b=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_OTHER" "$URL/v1/vps/199")
expect_eq "another's VPS answers as a missing one" "$(sed 's/199/101/' <<<"$b")" "$a"

# A migration's fence (or migrate --keep-src's mark) on the stopped 101: a token with every
# customer verb may not lift it with "force", by start or by restart (a stopped VPS's restart
# is a start); the VPS stays stopped and marked.
curl -s -o /dev/null --unix-socket "$SOCK" -X PATCH -H 'Content-Type: application/json' \
        -d '{"migrated_to": "hostb"}' 'http://l/v1/vps/101?fence=1'
expect_eq "101 fenced" "stopped hostb" "$(vps_field 101 status) $(vps_field 101 migrated_to)"
TOK_ALL=$(vpsctl token create --name all101 --vps 101 2>/dev/null)
for a in start restart; do
        code=$(curl -s -o "$T/fb" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_ALL" \
                -H 'Content-Type: application/json' -X POST -d '{"force": true}' "$URL/v1/vps/101/$a")
        expect_eq "a token's $a {force: true} of the fenced VPS: 403" 403 "$code"
done
code=$(curl -s -o "$T/fb" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_ALL" -X POST "$URL/v1/vps/101/restart")
check "its restart without force: refused as migrated ($code)" grep -q "was migrated to hostb" "$T/fb"
expect_eq "101 still stopped and fenced" "stopped hostb" "$(vps_field 101 status) $(vps_field 101 migrated_to)"
curl -s -o /dev/null --unix-socket "$SOCK" -X PATCH -H 'Content-Type: application/json' \
        -d '{"migrated_to": ""}' 'http://l/v1/vps/101'
# The fence is for a source that does not run: a running VPS is not fenced (a migration whose
# source was started again while it was copied rolls back instead of making a second copy).
code=$(curl -s -o "$T/fr" -w '%{http_code}' --unix-socket "$SOCK" -X PATCH -H 'Content-Type: application/json' \
        -d '{"migrated_to": "hostb"}' 'http://l/v1/vps/102?fence=1')
check "PATCH ?fence=1 of the running 102: 409, not fenced ($code)" \
        sh -c "[ '$code' = 409 ] && grep -q 'runs here: not fenced' '$T/fr'"
expect_eq "102 unmarked" "running null" "$(vps_field 102 status) $(vps_field 102 migrated_to)"

# A copy's progress stream (vps-progress) over TLS: a token without the snapshot verb gets 403
# and no stream (and no snapshot); one with it gets the events and the answer.
EV="python3 $(dirname "$0")/../integration/backup_events.py"
TOK_SNAP=$(vpsctl token create --name snap --vps 101 --allow snapshot 2>/dev/null)
rc=0
out=$(EV_TLS=127.0.0.1:$PORT EV_CA=$CA EV_TOKEN=${TOK_NO[snapshot]} $EV post - /v1/vps/101/snapshots '{"name": "r1"}' 2>&1) || rc=$?
check "progress stream, token without 'snapshot': 403, no upgrade" sh -c "[ $rc != 0 ] && grep -q 'no upgrade: HTTP/1.1 403' <<<'$out'"
out=$(EV_TLS=127.0.0.1:$PORT EV_CA=$CA EV_TOKEN=$TOK_SNAP $EV post - /v1/vps/101/snapshots '{"name": "r2"}' 2>&1) || true
expect_jq "progress stream, token with 'snapshot': events, then the snapshot" \
        '(.[0].P.done == 0) and (.[-2].P.done == .[-2].P.total) and .[-1].K.name == "r2"' jq -s . <<<"$out"
expect_jq "and only that snapshot was taken" '[.snapshots[].name] == ["r2"]' vpsctl snapshot-list 101 -j
# snapshot-mount names a host directory: a token (even with `snapshot`) must not choose where
# its guest's files appear on the host (/etc/ssh/sshd_config.d, /etc/udev/rules.d: host root).
mkdir -p "$T/hostdir"
code=$(curl -s -o "$T/sm" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_SNAP" \
        -H 'Content-Type: application/json' -d '{"name": "r2", "dir": "'"$T/hostdir"'"}' "$URL/v1/vps/101/snapshot-mount")
mountpoint -q "$T/hostdir" && { umount -l "$T/hostdir"; fail "a snapshot token mounted its snapshot on a host directory ($code)"; } ||
        expect_eq "a snapshot token may not snapshot-mount (403, nothing mounted)" 403 "$code"
code=$(curl -s -o "$T/su" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_SNAP" \
        -H 'Content-Type: application/json' -d '{"name": "r2"}' "$URL/v1/vps/101/snapshot-umount")
expect_eq "nor snapshot-umount" 403 "$code"
# Where the admin mounted one is the host's: a token's snapshot list says only that it is.
vpsctl snapshot-mount 101 r2 "$T/hostdir" >/dev/null
TEST_MOUNTS="${TEST_MOUNTS:-} $T/hostdir" # (unmounted at the end if a check stops)
expect_jq "the admin's snapshot list names the directory" \
        ".snapshots[] | select(.name == \"r2\") | .mounted == \"$T/hostdir\"" vpsctl snapshot-list 101 -j
curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_SNAP" "$URL/v1/vps/101/snapshots" >"$T/tsl"
expect_jq "a token's says mounted: true" '.snapshots[] | select(.name == "r2") | .mounted == true' cat "$T/tsl"
check "and names no host directory" not grep -q "$T/hostdir" "$T/tsl"
code=$(curl -s -o "$T/sd" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_SNAP" \
        -H 'Content-Type: application/json' -d '{"name": "r2"}' "$URL/v1/vps/101/snapshot-delete")
check "a token's delete of the mounted snapshot: refused without naming where ($code)" \
        sh -c "[ '$code' = 409 ] && grep -q 'is mounted' '$T/sd' && ! grep -q '$T/hostdir' '$T/sd'"
vpsctl snapshot-umount 101 r2 >/dev/null

# Snapshots are outside the VPS's --diskspace: a token keeps at most token_snapshots (5 in
# this vpsd.conf; r2 is one), else it fills the host's disk; the admin is not held to it.
for n in 3 4 5 6 7; do
        code=$(curl -s -o "$T/sn" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_SNAP" \
                -H 'Content-Type: application/json' -d '{"name": "b'$n'"}' "$URL/v1/vps/101/snapshots")
        echo "$code"
done >"$T/sncodes"
expect_eq "a token's snapshots stop at vpsd.conf's token_snapshots, 5 (403 past them)" "200 200 200 200 403" "$(xargs <"$T/sncodes")"
check "with the reason" grep -q "as many as a token may keep" "$T/sn"
expect_jq "the admin may take more" '.name == "adm"' vpsctl snapshot 101 --name adm -j

# A --full restore on a host without the backup's template makes restored-ID of its merged
# root: that VPS's whole tree. Another VPS's token neither lists it nor reinstalls from it.
cp -a "$ROOT/templates/busybox" "$ROOT/templates/restored-199"
jq '.name = "restored-199"' "$ROOT/templates/busybox/meta.json" >"$ROOT/templates/restored-199/meta.json"
TOK_RE=$(vpsctl token create --name reinst --vps 101 --allow reinstall,status 2>/dev/null)
names=$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK_RE" "$URL/v1/templates" | jq -c 'map(.name)')
check "a token's template list holds no restored template ($names)" sh -c "jq -e 'index(\"busybox\") and (index(\"restored-199\") | not)' <<<'$names' >/dev/null"
expect_jq "the admin's lists it" 'map(.name) | index("restored-199")' vpsctl template list -j
code=$(curl -s -o "$T/re" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_RE" \
        -H 'Content-Type: application/json' -d '{"ostemplate": "restored-199", "keep": false}' "$URL/v1/vps/101/reinstall")
expect_eq "nor reinstalls from another VPS's restored template (404: no such template)" "404 restored-199" \
        "$code $(jq -r '.error | capture("(?<t>restored-[0-9]+)").t' "$T/re" 2>/dev/null)"
expect_jq "VPS 101 still on busybox" '.ostemplate == "busybox"' vpsctl status 101 -j

# A backup stream naming a migration's peer announces a move (migration events): not a
# token's, though it holds `backup`.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CA" -H "Authorization: Bearer ${TOK_NO[status]}" \
        -H 'Upgrade: vps-backup' -H 'Connection: Upgrade' -X POST "$URL/v1/vps/101/backup?migrate_to=elsewhere")
expect_eq "a token's backup may not name a migration (403)" 403 "$code"
# Nor ask for a suspended VPS's checkpoint images (its memory; an online migration's copy).
code=$(curl -s -o "$T/ck" -w '%{http_code}' --max-time 5 --cacert "$CA" -H "Authorization: Bearer ${TOK_NO[status]}" \
        -H 'Upgrade: vps-backup' -H 'Connection: Upgrade' -X POST "$URL/v1/vps/101/backup?checkpoint=1")
expect_eq "a token's backup may not ask for checkpoint images (403)" "403 true" \
        "$code $(jq '.error | test("may not name a migration")' "$T/ck" 2>/dev/null)"

# A token names VPSes by ID: once its VPS is destroyed, a later VPS given that ID (another
# customer's) must not be the old token's.
vpsctl create 103 --ostemplate busybox >/dev/null
TOK_103=$(vpsctl token create --name t103 --vps 103,101 --allow status 2>/dev/null)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_103" "$URL/v1/vps/103")
expect_eq "a token reads its VPS 103" 200 "$code"
vpsctl destroy 103 >/dev/null
vpsctl create 103 --ostemplate busybox >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOK_103" "$URL/v1/vps/103")
expect_eq "after a destroy, a new VPS 103 is not the old token's" 404 "$code"
expect_jq "the destroyed ID left the token's list, the other stays" \
        '(map(select(.name == "t103"))[0].vps) == ["101"]' vpsctl token list -j
vpsctl destroy 103 >/dev/null

# GET /metrics: Prometheus's text; a token with `metrics` sees its VPSes' series alone.
TOK_METRICS=$(vpsctl token create --name metrics --vps 101 --allow metrics 2>/dev/null)
curl -s -D "$T/mh" -o "$T/m.tok" --cacert "$CA" -H "Authorization: Bearer $TOK_METRICS" "$URL/metrics"
curl -s -o "$T/m.adm" --cacert "$CA" --cert "$T/admin.crt" --key "$T/admin.key" "$URL/metrics"
check "metrics are text/plain" grep -qi '^content-type: text/plain; version=0.0.4' "$T/mh"
check "a metrics token sees its VPS" grep -q '^vps_up{id="101"} 0$' "$T/m.tok"
grep -q 'id="102"' "$T/m.tok" && fail "a metrics token sees another VPS's series" || pass "a metrics token sees no other VPS"
check "the admin sees a running VPS's series" grep -q '^vps_up{id="102"} 1$' "$T/m.adm"
check "the admin sees the running VPS's processes" grep -qE '^vps_processes\{id="102"\} [1-9]' "$T/m.adm"
if command -v promtool >/dev/null; then
        promtool check metrics <"$T/m.adm" && pass "promtool check metrics" || fail "promtool check metrics"
fi

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
# It rotated (16K), and vpsctl audit reads the rotated files too.
vpsctl audit --since 1h -j >"$T/audit.json"
check "audit log: a refused token's request" jq -e 'any(.[]; .client == "token:other" and .status == 404 and .vps == "101")' "$T/audit.json"
check "audit log: the unauthenticated" jq -e 'any(.[]; .client == "unauthenticated" and .status == 401)' "$T/audit.json"
check "audit log: a trusted certificate's change" jq -e 'any(.[]; .client == "cert:'"$(jq -r '.trust[0].fingerprint' "$ROOT/remote/trust.json")"'" and .method == "POST")' "$T/audit.json"
[ -f "$ROOT/remote/audit.log.1" ] && [ "$(jq length "$T/audit.json")" -gt "$(wc -l <"$ROOT/remote/audit.log")" ] \
        && pass "audit log rotated, read whole ($(jq length "$T/audit.json") lines)" || fail "audit log not rotated or not read whole"
expect_eq "rotated audit files are root's alone" 600 "$(stat -c %a "$ROOT/remote/audit.log.1")"

# At most listen_client_limit (4) connections from one address; others still get in.
python3 - "$PORT" 127.0.0.251 4 >"$T/holder" 2>&1 <<'PY' &
import socket, sys, time
port, src, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held = []
for _ in range(n):
    s = socket.socket(); s.bind((src, 0)); s.connect(("127.0.0.1", port)); held.append(s)
print("held", flush=True)
time.sleep(20)
PY
HOLDER=$!
TEST_PIDS="${TEST_PIDS:-} $HOLDER"
for _ in $(seq 50); do grep -q held "$T/holder" && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 127.0.0.251 --cacert "$CA" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/vps/101") || true
expect_eq "a fifth connection from one address is refused" 000 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 127.0.0.252 --cacert "$CA" -H "Authorization: Bearer $TOK_GOOD" "$URL/v1/vps/101")
expect_eq "another address still gets in" 200 "$code"
kill "$HOLDER" 2>/dev/null || true

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

# vpsd exiting while it holds back a failed authentication answers it (libmicrohttpd must not
# stop with a suspended connection: it aborts).
CA=$ROOT/remote/server.crt # the new one
for _ in 1 2 3; do curl -s -o /dev/null --interface 127.0.0.253 --cacert "$CA" "$URL/v1/vps" || true; done
curl -s -o "$T/late" -w '%{http_code}' --interface 127.0.0.253 --cacert "$CA" "$URL/v1/vps" >"$T/late.code" &
LATE=$!
sleep 0.3
kill "$VPSD_PID"
for _ in $(seq 100); do kill -0 "$VPSD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$LATE" || true
kill -0 "$VPSD_PID" 2>/dev/null && fail "vpsd did not exit" || pass "vpsd exited"
expect_eq "the held-back answer was sent at exit" 401 "$(cat "$T/late.code")"
grep -q 'suspended connections' "$ROOT/vpsd.log" && fail "libmicrohttpd stopped with a suspended connection" || pass "no suspended connection at exit"
VPSD_PID=
[ -z "${KEEP_AUDIT:-}" ] || { cp "$T/audit.json" /tmp/h19s-audit.json; rm -rf /tmp/h19s-remote; cp -r "$ROOT/remote" /tmp/h19s-remote; }
[ "$FAILS" = 0 ] || exit 1
echo "PASS"
