#!/bin/bash
# Guest test (issue 18): a TCP connection lives through `vpsctl migrate --online` of a routed
# VPS, and the VPS's public address moves with it. Three namespaces: A and B (two hosts, each
# with its own vpsd in routed mode, vpsd.conf `uplink = up0`, and B's sshd on a wire between
# them) and R, the upstream router: a bridge (the hosts' shared segment) with A's and B's
# uplinks as ports and R's own address on it, where R believes the VPS's /24 is on-link. A
# busybox VPS with the address P.81 runs an echo service (nc -ll -e cat). A client in R
# connects to it through A (A's proxy ARP on its uplink; R's neighbour entry says A's MAC),
# and its line comes back; the VPS moves to B online (criu --tcp-established on both sides);
# the same connection's next line comes back from B, R's entry says B's uplink MAC at once
# (the resume's gratuitous ARP: nothing else would tell R before its entry went stale), B
# routes and proxies the address and A no longer does, and a new connection reaches it too.
NET_TEST=1
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/migrate_lib.sh"
command -v python3 >/dev/null || { echo "FAIL: needs python3"; exit 1; }

NSA=vpsmt-a-$N-$$ NSB=vpsmt-b-$N-$$ R=vpsmt-r-$N-$$ WA=vmt${N}a WB=vmt${N}b P=198.18.$N
two_hosts "$NSA" "$NSB" "$WA" "$WB" "$A_IP" "$B_IP"
# R: the segment (bridge seg) with A's and B's uplinks on it, and R's own address.
ip netns add "$R"
TEST_NETNS="$TEST_NETNS $R"
ip -n "$R" link add seg type bridge
ip -n "$R" link set seg up
ip -n "$R" link set lo up
ip -n "$R" addr add "$P.254/24" dev seg
for h in a b; do
        ns=$NSA ip=$P.1
        [ $h = a ] || ns=$NSB ip=$P.2
        ip link add "vmu$N$h" type veth peer name "r$h" netns "$R"
        ip link set "vmu$N$h" netns "$ns"
        ip -n "$ns" link set "vmu$N$h" name up0
        ip -n "$ns" addr add "$ip/24" dev up0
        ip -n "$ns" link set up0 up
        ip -n "$R" link set "r$h" master seg up
done
in_r() { ip netns exec "$R" "$@"; }
r_mac() { ip -n "$R" neigh show "$P.81" dev seg | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'; }
MAC_A=$(ip -n "$NSA" link show up0 | awk '/link\/ether/ { print $2 }')
MAC_B=$(ip -n "$NSB" link show up0 | awk '/link\/ether/ { print $2 }')

printf 'netmode = routed\nuplink = up0\ncriu_timeout = 300\n' >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
in_a "$VPSD_BIN" --root "$ROOT" --socket "$SOCK" --cgroup-parent "$CG_PARENT" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
VPSD_PID=$(vpsctl version -j | jq -r '.server.pid // empty')
[ -n "$VPSD_PID" ] || { fail "vpsd A did not start"; finish; }
mkdir -p "$ROOTB" /run/vps/claims
in_b unshare -m --propagation slave sh -c 'mount -t tmpfs -o mode=0700 tmpfs /run/vps/claims && exec "$@"' sh \
        "$VPSD_BIN" --root "$ROOTB" --socket "$SOCKB" --cgroup-parent "$CGB" \
        --bridge "$BRIDGE" --subnet "$SUBNET" --daemon
PIDB=$(v2 version -j | jq -r '.server.pid // empty')
[ -n "$PIDB" ] || { fail "vpsd B did not start"; finish; }
sshd_on_b "$B_IP" "$PORT"
busybox_both
probes_done

vpsctl create 183 --ostemplate busybox --ipadd "$P.81" >/dev/null
UP=$ROOT/vps/183/upper
mkdir -p "$UP/etc"
printf '#!/bin/sh\n(nc -ll -p 7001 -e cat) </dev/null >/dev/null 2>&1 &\n' >"$UP/etc/rc.local"
chmod 0755 "$UP/etc/rc.local"
chown -R "$(stat -c %u:%g "$UP")" "$UP/etc"
vpsctl start 183 >/dev/null || { fail "start 183"; finish; }
for _ in $(seq 100); do in_r bash -c "echo >/dev/tcp/$P.81/7001" 2>/dev/null && break; sleep 0.2; done

# The client: one connection, a line before the move and one after it (when $T/go exists);
# what comes back is written to $T/client.out, one line each.
cat >"$T/client.py" <<'EOF'
import os, socket, sys, time
addr, go, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.create_connection((addr, 7001), timeout=20)
f = s.makefile("rwb", buffering=0)
def say(word):
    s.sendall(word.encode() + b"\n")
    line = f.readline().decode().strip()
    with open(out, "a") as o:
        o.write(line + "\n")
say("before")
while not os.path.exists(go):
    time.sleep(0.1)
s.settimeout(120)
say("after")
EOF
in_r python3 "$T/client.py" "$P.81" "$T/go" "$T/client.out" 2>"$T/client.err" &
CLIENT=$! B_PIDS=$!
for _ in $(seq 100); do [ -s "$T/client.out" ] && break; sleep 0.1; done
expect_eq "the client's first line comes back through A" before "$(head -n1 "$T/client.out" 2>/dev/null)"
expect_eq "R reaches the address at A's uplink MAC (A's proxy ARP)" "$MAC_A" "$(r_mac)"
PIDS_A=$(ls "/proc/$(vps_field 183 pid)/root/proc" | grep -E '^[0-9]+$' | sort -n | tr '\n' ' ')

if OUT=$(in_a timeout 600 "$VPSCTL_BIN" --socket "$SOCK" migrate 183 "$DEST" --online -j "${SSH_OPTS[@]}" \
        --remote-vpsctl "$VPSCTL_BIN" --remote-socket "$SOCKB" 2>&1); then
        pass "migrate 183 --online: $(jq -c . <<<"$OUT")"
else
        fail "migrate 183 --online: $OUT"
        tail -n 15 "$ROOT/vpsd.log" "$ROOTB/vpsd.log" 2>/dev/null
        finish
fi
# At once: the resume's gratuitous ARP, not R's own probing (its entry is still fresh).
expect_eq "R's entry for the address says B's uplink MAC right after the move (announced)" \
        "$MAC_B" "$(r_mac)"
expect_eq "B: 183 runs" running "$(v2 status 183 -j | jq -r .status)"
# Before the client's last line (its cat inside ends with the connection).
PIDS_B=$(ls "/proc/$(v2 status 183 -j | jq -r .pid)/root/proc" | grep -E '^[0-9]+$' | sort -n | tr '\n' ' ')
expect_eq "B: the PIDs inside are A's (the connection's cat among them)" "$PIDS_A" "$PIDS_B"
check "B routes the address to the VPS's veth" sh -c "nsenter --net=/run/netns/$NSB ip route show $P.81 | grep -q dev"
check "B answers ARP for it on its uplink (a proxy entry)" sh -c "nsenter --net=/run/netns/$NSB ip neigh show proxy dev up0 | grep -q '^$P.81 '"
check "A no longer does" sh -c "! nsenter --net=/run/netns/$NSA ip neigh show proxy dev up0 | grep -q '^$P.81 '"
check "A routes it no more" sh -c "! nsenter --net=/run/netns/$NSA ip route show $P.81 | grep -q dev"
touch "$T/go"
for _ in $(seq 600); do [ "$(wc -l <"$T/client.out")" -ge 2 ] && break; sleep 0.1; done
expect_eq "the same connection's next line comes back from B" "before after" \
        "$(tr '\n' ' ' <"$T/client.out" | sed 's/ $//')"
[ ! -s "$T/client.err" ] || echo "client: $(tail -n 3 "$T/client.err")"
wait "$CLIENT" 2>/dev/null && pass "the client ended well" || fail "the client failed: $(tail -n 2 "$T/client.err")"
B_PIDS=
expect_eq "a new connection from R reaches it on B" again \
        "$(in_r timeout 10 bash -c "exec 3<>/dev/tcp/$P.81/7001; echo again >&3; head -n1 <&3" 2>/dev/null || true)"
echo "online migration with a TCP connection: downtime $(jq -r '.downtime_seconds * 1000 | floor' <<<"$OUT") ms (TCG; load $(cut -d' ' -f1-3 /proc/loadavg))"
v2 stop 183 >/dev/null || fail "stop of the migrated VPS on B"
finish
