#!/usr/bin/env bash
# bench/run --quick as a smoke test: it runs (vpsd only, no peers) and writes a well-formed
# latest.json with every figure present and positive. Needs root (77 otherwise).
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

REPO=$(cd "$(dirname "$0")/../.." && pwd)
export VPS_BUILD_DIR=${VPS_BUILD_DIR:-$REPO/build}
OUT=$(mktemp -d /var/tmp/vpsbench-test.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

command -v jq >/dev/null || { echo "FAIL: jq missing"; exit 1; }

# A guard against a hang, not a figure: --quick takes 15-60 s on the normal build (its
# graceful stops alone sleep 2 s each), several times that with ASan/UBSan binaries on a
# busy machine.
LIMIT=$([ "${VPS_SANITIZED:-0}" = 1 ] && echo 400 || echo 150)
rc=0
timeout "$LIMIT" "$REPO/bench/run" --quick --no-peers --out "$OUT" >"$OUT/stdout" 2>"$OUT/stderr" || rc=$?
if [ "$rc" != 0 ]; then
        echo "FAIL: bench/run --quick exited with $rc$([ "$rc" = 124 ] && echo " (killed after $LIMIT s)")"
        tail -n 30 "$OUT/stderr"
        exit 1
fi
J=$OUT/latest.json
fails=0
check() { # check DESCRIPTION JQ-FILTER: passes when the filter is true on latest.json (jq 1.6 exits 0 on an empty file)
        if [ -s "$J" ] && jq -e "$2" "$J" >/dev/null 2>&1; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}

check "latest.json is JSON" 'type == "object"'
check "mode quick" '.mode == "quick"'
for b in start start_bridged start_routed start_bridged_ping start_routed_ping stop_fast start_stop cycle exec exec_cold create create_destroy stop list; do
        check "$b: median and p99 > 0" ".benchmarks.$b.vpsd | (.median_ms > 0 and .p99_ms >= .median_ms and .runs > 0)"
done
check "graceful stop shows busybox init's ~2 s" '.benchmarks.stop.vpsd.median_ms > 1000'
check "no peer ratios without peers" '[.benchmarks[][] | .ratio_to_best_peer] | all(. == null)'
check "peers recorded as not run" '.peers.lxc.ok == false and .peers.crun.ok == false'
check "disk per VPS > 0" '.create.disk_kib > 0 and .create.disk_apparent_bytes > 0'
check "list figures" '.list.n == 10 and .list.vpsd_rss_kib_before > 0 and .list.vpsd_rss_kib_at_n > 0
        and (.list.vpsd_rss_kib_per_vps | type == "number")
        and (.list.memavailable_drop_kib_per_vps | type == "number")'
check "machine" '.machine.nproc > 0 and .machine.mem_total_kib > 0 and (.machine.kernel | length > 0)'
n_raw=$(ls "$OUT"/raw/*.vpsd.json 2>/dev/null | wc -l)
[ "$n_raw" = 14 ] && echo "ok: 14 raw JSONs" || { echo "FAIL: $n_raw raw JSONs"; fails=$((fails + 1)); }
[ -s "$OUT/machine.json" ] && jq -e '.nproc > 0' "$OUT/machine.json" >/dev/null && echo "ok: machine.json" || { echo "FAIL: machine.json"; fails=$((fails + 1)); }
grep -q '^start ' "$OUT/stdout" && echo "ok: table printed" || { echo "FAIL: no table"; fails=$((fails + 1)); }

if [ "$fails" != 0 ]; then
        echo "$fails check(s) failed"
        cat "$OUT/stdout"
        exit 1
fi
echo "all checks passed"
