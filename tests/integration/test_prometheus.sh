#!/usr/bin/env bash
# Issue 19: a real Prometheus (Debian's prometheus package) scrapes vpsd's GET /metrics over
# TLS with a token (a bearer token file) and vpsd's own certificate as its CA; a query through
# Prometheus's HTTP API returns VPS 101's series (its memory where this host has the memory
# controller; vps_up and vps_state here otherwise); a token for VPS 102 alone sees none of
# 101's; and `promtool check metrics` finds nothing wrong with vpsd's output.
. "$(dirname "$0")/lib.sh"
trap 'rc=$?; kill ${PROM_PID:-} 2>/dev/null || true; cleanup "$rc"' EXIT
for c in prometheus promtool curl jq openssl; do command -v $c >/dev/null || { echo "SKIP: no $c (scripts/install-deps)"; exit 77; }; done
free_port() {
        local p
        for _ in $(seq 50); do
                p=$((20000 + RANDOM % 30000))
                ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
        done
}
PORT=$(free_port)
PPORT=$(free_port)
"$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --listen "127.0.0.1:$PORT" --daemon
VPSD_PID=$(vpsctl version -j | jq -r .server.pid)
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox >/dev/null
vpsctl create 102 --ostemplate busybox >/dev/null
vpsctl start 101 >/dev/null 2>&1
cp "$ROOT/remote/server.crt" "$T/ca.pem"
vpsctl token create --name prom --vps 101 --allow metrics >"$T/token" 2>/dev/null
vpsctl token create --name other --vps 102 --allow metrics >"$T/token102" 2>/dev/null
chmod 0600 "$T/token" "$T/token102"

# promtool on what vpsd serves (as the token sees it, and as an admin does on the local socket)
curl -s --cacert "$T/ca.pem" -H "Authorization: Bearer $(cat "$T/token")" "https://127.0.0.1:$PORT/metrics" >"$T/m.tok"
curl -s --unix-socket "$SOCK" http://l/metrics >"$T/m.all"
check "promtool check metrics: vpsd's output (a token's) is clean" sh -c "promtool check metrics <'$T/m.tok'"
check "promtool check metrics: vpsd's output (all) is clean" sh -c "promtool check metrics <'$T/m.all'"
check "the token's metrics name VPS 101" grep -q 'vps_up{id="101"} 1' "$T/m.tok"
check "the token's metrics name no other VPS" not grep -q 'id="102"' "$T/m.tok"

# vpsd's certificate names its host (localhost and the host name, not 127.0.0.1): Prometheus
# checks it against the CA with server_name set to a name the certificate carries.
CN=$(openssl x509 -in "$T/ca.pem" -noout -ext subjectAltName | grep -o 'DNS:[^,]*' | head -n1 | cut -d: -f2)
[ -n "$CN" ] || fail "vpsd's certificate names no host"
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: vpsd
    scheme: https
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $T/token
    tls_config:
      ca_file: $T/ca.pem
      server_name: "$CN"
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
  - job_name: vpsd-other
    scheme: https
    authorization:
      type: Bearer
      credentials_file: $T/token102
    tls_config:
      ca_file: $T/ca.pem
      server_name: "$CN"
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YML
check "promtool check config" promtool check config "$T/prometheus.yml"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
        --web.listen-address="127.0.0.1:$PPORT" >"$T/prom.log" 2>&1 &
PROM_PID=$!
P=http://127.0.0.1:$PPORT
query() { curl -s --max-time 5 "$P/api/v1/query" --data-urlencode "query=$1"; }
HAS_MEMORY=0
grep -q '^vps_memory_bytes{id="101"}' "$T/m.all" && HAS_MEMORY=1
# tests/vm/test_prometheus.sh (a kernel with the memory controller) wants the memory series.
[ "${VPS_PROM_NEED_MEMORY:-0}" = 1 ] && [ "$HAS_MEMORY" = 0 ] &&
        fail "vpsd serves no vps_memory_bytes{id=\"101\"} where the memory controller is"
series='vps_up{id="101"}'
[ "$HAS_MEMORY" = 1 ] && series='vps_memory_bytes{id="101"}'
targets() { curl -s --max-time 5 "$P/api/v1/targets" | jq -r '[.data.activeTargets[] | .scrapePool + ":" + .health] | sort | join(" ")' 2>/dev/null || true; }
# Until the series is there and both targets have been scraped (each on its own schedule).
got= health=
for _ in $(seq 60); do
        got=$(query "$series" | jq -r '.data.result[0].value[1] // empty' 2>/dev/null || true)
        health=$(targets)
        [ -n "$got" ] && [[ $health != *unknown* ]] && break
        sleep 0.5
done
curl -s "$P/api/v1/targets" | jq -c ".data.activeTargets[] | {scrapePool, health, lastError}" || true
echo "targets: $health; $series = $got"
expect_eq "both scrapes over TLS with a bearer token are up" "vpsd-other:up vpsd:up" "$health"
check "Prometheus answers a query of $series" test -n "$got"
if [ "$HAS_MEMORY" = 1 ]; then
        check "VPS 101's memory is more than 0 bytes" test "${got%.*}" -gt 0
else
        echo "note: no memory controller in this host's cgroup v2 tree: vps_memory_bytes is not served here (tests/vm has it)"
fi
n=$(query 'count(vps_up{job="vpsd-other",id="101"})' | jq -r '.data.result | length')
expect_eq "the other token's scrape holds no series of VPS 101" 0 "$n"
kill "$PROM_PID" 2>/dev/null || true
wait "$PROM_PID" 2>/dev/null || true
PROM_PID=
finish
