#!/usr/bin/env bash
# Issue 19: the event stream, GET /v1/events. A subscriber (vpsctl events -j) sees a VPS's
# life as JSON lines: created, started (reason start), paused, unpaused, stopped (reason),
# snapshot done, backup done, migration (a PATCH migrated_to), changed (a change in the loop, and one entering the running
# guest made by a job), destroyed; --vps narrows it to one VPS. A snapshot's and a backup's
# progress comes as "progress" events (operation, done, total, unit; at most every 0.5 s and
# the last), to those who may see the VPS alone. On the remote API a token
# sees only its VPSes' events and only with its status verb (else 403; another's VPS asked
# by ?vps= is 404). A subscriber that does not read is sent "overflow" and dropped while vpsd
# keeps answering and the other subscribers get every event. A token holds 8 streams at most.
# A failed job's "error" reaches a token as the error's kind alone, not vpsd's words.
. "$(dirname "$0")/lib.sh"
trap 'rc=$?; kill ${BG_PIDS:-} 2>/dev/null || true; cleanup "$rc"' EXIT
for c in curl jq python3 openssl; do command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }; done
BG_PIDS=
for _ in $(seq 50); do
        PORT=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$PORT" | grep -q . || break
done
# A small queue per subscriber, so that the slow one overflows after a few hundred events.
printf 'events_queue = 8\n' >"$T/vpsd.conf"
"$VPSD_BIN" --config "$T/vpsd.conf" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --listen "127.0.0.1:$PORT" --daemon
VPSD_PID=$(vpsctl version -j | jq -r .server.pid)
URL=https://127.0.0.1:$PORT
CA=$T/ca.pem
cp "$ROOT/remote/server.crt" "$CA"
vpsctl template build busybox >/dev/null

# Subscribers: all (local), VPS 101's alone, a token for 101 with status, one for 102.
vpsctl events -j >"$T/all" 2>&1 & BG_PIDS+=" $!"
vpsctl events --vps 101 >"$T/only101" 2>&1 & BG_PIDS+=" $!"
TOK101=$(vpsctl token create --name t101 --vps 101 --allow status,start 2>/dev/null)
TOK102=$(vpsctl token create --name t102 --vps 102 --allow status 2>/dev/null)
TOKNS=$(vpsctl token create --name nostatus --vps 101 --allow start,stop 2>/dev/null)
curl -sN --cacert "$CA" -H "Authorization: Bearer $TOK101" "$URL/v1/events" >"$T/tok101" & BG_PIDS+=" $!"
curl -sN --cacert "$CA" -H "Authorization: Bearer $TOK102" "$URL/v1/events" >"$T/tok102" & BG_PIDS+=" $!"
code=$(curl -s -o "$T/ns" -w '%{http_code}' --max-time 5 --cacert "$CA" -H "Authorization: Bearer $TOKNS" "$URL/v1/events") || true
expect_eq "a token without 'status': 403" 403 "$code"
code=$(curl -s -o "$T/ns" -w '%{http_code}' --max-time 5 --cacert "$CA" -H "Authorization: Bearer $TOK102" "$URL/v1/events?vps=101") || true
expect_eq "a token asking for another's VPS: 404" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CA" "$URL/v1/events") || true
expect_eq "no credentials: 401" 401 "$code"
# At most 8 streams per token: 102's has one; 7 more, then the ninth is refused.
# (each stream subscribed, as its first line says, before the ninth: seconds under load)
subscribed() { local f; for f in "$@"; do grep -q subscribed "$f" 2>/dev/null || return 1; done; }
for i in $(seq 7); do curl -sN --cacert "$CA" -H "Authorization: Bearer $TOK102" "$URL/v1/events" >"$T/more$i" & BG_PIDS+=" $!"; done
eventually 20 subscribed "$T"/more[1-7] || true
code=$(curl -s -o "$T/ninth" -w '%{http_code}' --max-time 5 --cacert "$CA" -H "Authorization: Bearer $TOK102" "$URL/v1/events") || true
expect_eq "a token's ninth stream: 429" 429 "$code"
check "the refusal says why" grep -q 'too many event streams' "$T/ninth"
check "the four subscribers are subscribed" eventually 20 subscribed "$T/all" "$T/only101" "$T/tok101" "$T/tok102"

vpsctl create 101 --ostemplate busybox >/dev/null
vpsctl create 102 --ostemplate busybox >/dev/null
vpsctl start 101 >/dev/null
vpsctl pause 101 >/dev/null
vpsctl unpause 101 >/dev/null
# A change entering the running guest (its hostname): made by a job off the loop, announced too.
vpsctl set 101 --hostname one >/dev/null
vpsctl stop 101 --fast >/dev/null 2>&1 || vpsctl stop 101 >/dev/null
vpsctl snapshot 101 --name s1 >/dev/null
vpsctl backup 101 --to "$T/b101.tar.zst" >/dev/null
vpsctl set 102 --hostname two >/dev/null
vpsctl destroy 101 >/dev/null
# (the last events reach each subscriber within moments, seconds under load)
seen_destroy() { grep -q '"destroyed"' "$T/all" && grep -q destroyed "$T/only101" && grep -q '"destroyed"' "$T/tok101"; }
eventually 20 seen_destroy || true

types() { jq -r 'select(.type != null and .type != "progress") | .type + ":" + (.vps // "-") + ":" + (.reason // .result // "")' "$1" | tr '\n' ' '; }
want="subscribed:-: created:101: created:102: started:101:start paused:101: unpaused:101: changed:101: stopped:101:kill snapshot:101:done backup:101:done changed:102: destroyed:101: "
all=$(types "$T/all")
expect_eq "vpsctl events -j: each change in order" "$want" "$all"
check "the snapshot event names the snapshot" jq -se 'map(select(.type == "snapshot"))[0].name == "s1"' "$T/all"
check "each event has an ISO time" jq -se 'map(.time | test("^20[0-9-]+T[0-9:.]+Z$")) | all' "$T/all"
check "vpsctl events --vps 101: no event of 102" not grep -q ' 102' "$T/only101"
check "vpsctl events --vps 101: human lines, the stop's reason" grep -qE '^20.*Z  stopped +101 reason=kill$' "$T/only101"
expect_eq "a token for 101: 101's events alone" "subscribed:-: created:101: started:101:start paused:101: unpaused:101: changed:101: stopped:101:kill snapshot:101:done backup:101:done destroyed:101: " "$(types "$T/tok101")"
expect_eq "a token for 102: 102's events alone" "subscribed:-: created:102: changed:102: " "$(types "$T/tok102")"
# Progress: the snapshot's and the backup's, each ending at its total, before its result.
progress_ok() {
        jq -se '[.[] | select(.type == "progress")] as $p
                | ([$p[].vps] | unique) == ["101"] and ([$p[].operation] | unique) == ["backup", "snapshot"]
                and ([$p[] | (.done | type) == "number" and (.total | type) == "number" and (.unit | type) == "string"] | all)
                and ([$p[] | select(.operation == "snapshot")][-1] | .done == .total and .unit == "bytes")
                and ([$p[] | select(.operation == "backup")][-1] | .done == .total and .phase == "archive")
                and ([.[] | select(.type == "progress" or .type == "snapshot")] | map(.type) | index("snapshot")) > 0' "$1"
}
check "progress events of 101's snapshot and backup (all)" progress_ok "$T/all"
check "progress events of 101's snapshot and backup (a token for 101)" progress_ok "$T/tok101"
check "a token for 102 sees none of 101's progress" not grep -q '"progress"' "$T/tok102"

# A migration's end (PATCH migrated_to, as vpsctl migrate --keep-src's last step): a
# "migration" event, seen as the VPS's others are (migrate's own: test_migrate.sh).
curl -s -o /dev/null --unix-socket "$SOCK" -X PATCH -H 'Content-Type: application/json' \
        -d '{"migrated_to":"root@hostx:22"}' http://l/v1/vps/102
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -X DELETE 'http://l/v1/vps/102?migrated_to=a%0Ab')
expect_eq "DELETE ?migrated_to= with a bad name: 400, nothing done" "400 stopped" "$code $(vps_field 102 status)"
seen_migration() { grep -q '"migration"' "$T/all" && grep -q '"migration"' "$T/tok102"; }
eventually 20 seen_migration || true
mig() { jq -r 'select(.type == "migration") | "\(.vps):\(.phase):\(.to)"' "$1" | tr '\n' ' '; }
expect_eq "all: the migration event of 102" "102:done:root@hostx:22 " "$(mig "$T/all")"
expect_eq "a token for 102 sees it" "102:done:root@hostx:22 " "$(mig "$T/tok102")"
expect_eq "a token for 101 does not" "" "$(mig "$T/tok101")"

# A job that fails (a restore of an archive cut short, refused by vpsd's child): its event's "error" is vpsd's words for
# the host's subscribers, and only the error's kind (the errno's text) for a token's: vpsd's
# words can hold host PIDs and paths (a restore's init, criu's own lines).
vpsctl backup 102 --to "$T/b102.tar.zst" >/dev/null
head -c "$(($(stat -c %s "$T/b102.tar.zst") - 16))" "$T/b102.tar.zst" >"$T/bad.tar.zst"
vpsctl restore "$T/bad.tar.zst" 101 >/dev/null 2>&1 || true
failed_of() { jq -r 'select(.type == "restore" and .result == "failed") | .error' "$1"; }
seen_failed() { [ -n "$(failed_of "$T/all")" ] && [ -n "$(failed_of "$T/tok101")" ]; }
eventually 20 seen_failed || true
expect_eq "all: the failed restore's error in vpsd's words" "its child failed" "$(failed_of "$T/all")"
expect_eq "a token for 101: only its kind" "Input/output error" "$(failed_of "$T/tok101")"
check "no line of a token's stream has vpsd's words" not grep -q "its child failed" "$T/tok101"

# A subscriber that stops reading: its queue (8 here) and the socket's buffers fill, then it
# is sent "overflow" and its stream ends; meanwhile vpsd answers and the others keep up.
python3 - "$SOCK" "$T/slow" "$T/slow.go" <<'PY' & BG_PIDS+=" $!"
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
open(sys.argv[2] + ".up", "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
data = b""
s.settimeout(10)
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
open(sys.argv[2], "wb").write(data)
PY
SLOW=$!
for _ in $(seq 100); do [ -e "$T/slow.up" ] && break; sleep 0.05; done
rss0=$(awk '/VmRSS/ {print $2}' /proc/$VPSD_PID/status)
N=${VPS_EVENTS_BURST:-450}
t0=$(date +%s%N)
curl -s -o /dev/null --unix-socket "$SOCK" -X PATCH -H 'Content-Type: application/json' \
        -d '{"hostname":"burst"}' $(printf 'http://l/v1/vps/102 %.0s' $(seq "$N")) >/dev/null &
BURST=$!
# vpsd's loop keeps answering during the burst
worst=0
while kill -0 $BURST 2>/dev/null; do
        a=$(date +%s%N); vpsctl version >/dev/null; b=$(date +%s%N)
        ms=$(( (b - a) / 1000000 )); [ $ms -gt $worst ] && worst=$ms
        sleep 0.2
done
wait $BURST || true
echo "burst of $N changes: $(( ($(date +%s%N) - t0) / 1000000 )) ms; vpsctl version at worst $worst ms meanwhile"
check "vpsd answered within 2 s during the burst" test "$worst" -lt 2000
touch "$T/slow.go"
wait $SLOW || true
last=$(tr -d '\r' <"$T/slow" | grep '^{' | tail -n1)
check "the slow subscriber's last line is an overflow event" jq -se '.[0].type == "overflow" and .[0].queue == 8' <<<"$last"
got=$(tr -d '\r' <"$T/slow" | grep -c '"changed"' || true)
check "the slow subscriber got fewer than the $N changes ($got)" test "$got" -lt "$N"
check "its stream ended (chunked end)" grep -q $'^0\r$' "$T/slow"
all_changes() { jq -r 'select(.type == "changed" and .vps == "102") | .vps' "$T/all" | wc -l | awk '{print $1 - 2}'; }
got_all() { [ "$(all_changes)" = "$N" ]; }
eventually 10 got_all || true
expect_eq "the other subscriber got all $N changes" "$N" "$(all_changes)"
rss1=$(awk '/VmRSS/ {print $2}' /proc/$VPSD_PID/status)
echo "vpsd RSS: ${rss0} kB before, ${rss1} kB after"
# Under ASan freed memory sits in its quarantine (up to 256 MB): RSS says nothing there.
if [ "${VPS_SANITIZED:-0}" = 1 ]; then
        echo "vpsd's memory bound not checked under ASan (its quarantine keeps freed memory)"
else
        check "vpsd's memory did not grow by more than 16 MB" test $((rss1 - rss0)) -lt 16384
fi
finish
