# Sourced (after lib.sh) by the networked tests, test_network.sh and test_network_routed.sh:
# waiting for a server and asking it again, so that a loaded machine makes them slower, not
# failed. What must not work is tried once (failing is what it must do).

# reach COMMAND...: COMMAND (a ping) succeeds within 3 tries: a first packet can wait for a
# neighbour entry (proxy answers come after the kernel's proxy_delay, up to 0.8 s) or be lost.
reach() { for _ in 1 2 3; do "$@" >/dev/null 2>&1 && return 0; done; return 1; }

# listening PORT COMMAND...: true once COMMAND (a netstat -ltn where the server is) shows a
# listener on PORT, within 30 s.
listening() {
        local port=$1 deadline=$((SECONDS + 30))
        shift
        until "$@" 2>/dev/null | grep -q ":$port "; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

# free_port: a host port no TCP or UDP socket uses now.
free_port() {
        local p
        while :; do
                p=$((20000 + RANDOM % 30000))
                ss -Htaun "sport = :$p" | grep -q . || { echo "$p"; return; }
        done
}

# tcp_get HOST PORT NC...: what the server at HOST PORT says to the client NC (a netcat,
# run as NC -w SECONDS HOST PORT), asked again with a longer wait when it said nothing.
tcp_get() {
        local host=$1 port=$2 out w
        shift 2
        for w in 2 5 10; do
                out=$("$@" -w "$w" "$host" "$port" </dev/null 2>/dev/null) || true
                [ -z "$out" ] || break
        done
        printf '%s\n' "$out"
}

# iperf_mbit ADDR [iperf3 options]: host -> ADDR (or back, with -R) for 5 s, the first 2 of
# them (slow start, the token bucket's burst) not counted: the receiver's Mbit/s, or "failed".
iperf_mbit() {
        local addr=$1 out
        shift
        out=$(iperf3 -c "$addr" -p 5201 -t 5 -O 2 -J "$@" 2>/dev/null) &&
                jq -e '.end.sum_received.bits_per_second / 1e6 | floor' <<<"$out" 2>/dev/null ||
                echo failed
}
# rate_check WHAT LOW HIGH ADDR [iperf3 options]: an iperf3 measurement in LOW..HIGH Mbit/s.
# One out of it (or an iperf3 that failed) is taken again, twice at most: a loaded host can
# starve iperf3 for seconds, which no shaping explains; a wrong rate is wrong every time.
in_range() { [ "$1" != failed ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
rate_check() {
        local what=$1 lo=$2 hi=$3 got seen=
        shift 3
        for _ in 1 2 3; do
                got=$(iperf_mbit "$@")
                seen="$seen $got"
                in_range "$got" "$lo" "$hi" && break
                sleep 1
        done
        echo "iperf3 for \"$what\": Mbit/s:$seen"
        check "$what ($got)" in_range "$got" "$lo" "$hi"
}

# iperf_server_in ID: an iperf3 server on port 5201 in VPS ID's network namespace, this
# test's child (nsenter execs it) and in TEST_PIDS from the start; IPERF_PID is its PID.
# iperf_server_stop: it stopped and reaped by that PID, and out of TEST_PIDS (its PID may be
# another process's next).
iperf_server_in() {
        nsenter --net="/proc/$(vps_field "$1" pid)/ns/net" iperf3 -s -p 5201 \
                --logfile "$T/iperf-server-$1.log" </dev/null &
        IPERF_PID=$!
        TEST_PIDS="${TEST_PIDS:-} $IPERF_PID"
        check "iperf3 listens in $1" listening 5201 in_vps "$1" netstat -ltn
}
iperf_server_stop() {
        kill "$IPERF_PID" 2>/dev/null || true
        wait "$IPERF_PID" 2>/dev/null || true
        TEST_PIDS=${TEST_PIDS//" $IPERF_PID"/}
}
