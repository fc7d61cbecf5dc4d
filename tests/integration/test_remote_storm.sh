#!/usr/bin/env bash
# Issue 19: 200 TLS clients list the VPSes at once (each its own connection and handshake,
# with a token) while the local Unix socket keeps answering: every client gets its list, and
# the Unix socket's slowest answer during the storm stays under a generous bound (2 s).
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
for c in python3 jq; do command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }; done
for _ in $(seq 50); do
        PORT=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$PORT" | grep -q . || break
done
# One client address for all 200: its connection limit and the token's rate raised for it.
printf 'listen_client_limit = 400\ntoken_rate = 100000\ntoken_burst = 100000\n' >"$T/vpsd.conf"
"$VPSD_BIN" --config "$T/vpsd.conf" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --listen "127.0.0.1:$PORT" --daemon
VPSD_PID=$(vpsctl version -j | jq -r .server.pid)
vpsctl template build busybox >/dev/null
for id in 101 102 103; do vpsctl create $id --ostemplate busybox >/dev/null; done
TOK=$(vpsctl token create --name storm --vps 101,102 --allow status 2>/dev/null)
cp "$ROOT/remote/server.crt" "$T/ca.pem"
N=${VPS_STORM_CLIENTS:-200}
out=$(python3 "$(dirname "$0")/remote_storm.py" 127.0.0.1 "$PORT" "$T/ca.pem" "$TOK" "$SOCK" "$N")
echo "$out"
expect_jq "all $N TLS clients got their list (200)" ".ok == $N" echo "$out"
expect_jq "each list holds the token's 2 VPSes alone" '.vps_listed == [2]' echo "$out"
expect_jq "the Unix socket answered every request during the storm" '.unix_bad == 0 and .unix_requests > 0' echo "$out"
expect_jq "the Unix socket's slowest answer during the storm under 2000 ms" '.unix_ms_max < 2000' echo "$out"
finish
