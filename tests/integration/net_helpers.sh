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
