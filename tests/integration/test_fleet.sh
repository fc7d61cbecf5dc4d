#!/usr/bin/env bash
# A fleet on etcd (docs/fleet.md): a 3-member etcd cluster on ports of this test's own, and 3
# vpsd nodes, each in a network namespace of its own (its own bridge, subnet and veth uplink for
# routed addresses; its own /run/vps/claims, in a mount namespace) with its own root, socket and
# cgroup parent, the namespaces joined by a test bridge on the host, on whose address etcd
# answers the nodes. Concurrent creates on every node asking for the same IDs and
# for overlapping addresses: each ID and each address ends up on one VPS alone, every refusal a
# clear line. One etcd member killed: the fleet works on; two: creates fail with "cluster
# unavailable", while start, exec, stop and list keep working; both back: creates again. A node's
# vpsd killed -9: `down` once its lease expires, its VPSes `unknown`; restarted: `up`, its VPS
# still running, and a record the cluster lost meanwhile put back (logged).
NET_TEST=1
. "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
[ -x "$ETCD" ] || { echo "SKIP: no $ETCD (Debian's etcd-server)"; exit 77; }
COUNT=${VPS_TEST_FULL:+100}
COUNT=${COUNT:-12}
TTL=3

# The test bridge: the host's end (etcd's clients' address) and one veth a node.
TBR=${BRIDGE}t
EHOST=${NETPFX%.0}.250.254
# Six free ports (3 client, 3 peer) from a random base.
for _ in $(seq 50); do
        BASE=$(( 20000 + (RANDOM % 2000) * 10 ))
        ss -Htln | awk '{print $4}' | grep -qE ":($BASE|$((BASE + 1))|$((BASE + 2))|$((BASE + 3))|$((BASE + 4))|$((BASE + 5)))\$" || break
done
CLUSTER=
INITIAL=
for i in 1 2 3; do
        CLUSTER+=${CLUSTER:+,}http://$EHOST:$((BASE + i - 1))
        INITIAL+=${INITIAL:+,}e$i=http://127.0.0.1:$((BASE + 2 + i))
done
declare -A EPID
etcd_start() {
        local i=$1
        "$ETCD" --name "e$i" --data-dir "$T/etcd$i" \
                --listen-client-urls "http://$EHOST:$((BASE + i - 1))" \
                --advertise-client-urls "http://$EHOST:$((BASE + i - 1))" \
                --listen-peer-urls "http://127.0.0.1:$((BASE + 2 + i))" \
                --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 2 + i))" \
                --initial-cluster "$INITIAL" --initial-cluster-token "vpstest-$$" \
                --heartbeat-interval 50 --election-timeout 500 >>"$T/etcd$i.log" 2>&1 &
        EPID[$i]=$!
}
etcd_kill() { [ -n "${EPID[$1]:-}" ] || return 0; kill -9 "${EPID[$1]}" 2>/dev/null || true; wait "${EPID[$1]}" 2>/dev/null || true; }
etcd_healthy() { # etcd_healthy I: member I answers a linearizable read
        curl -sf -m 2 "http://$EHOST:$((BASE + $1 - 1))/v3/kv/range" -d '{"key":"eA=="}' >/dev/null
}

# Three nodes a, b, c, each in its network namespace (10.N.250.K on the test bridge): bridge
# and subnet of their own; routed addresses on an uplink of their own (a veth whose peer
# stays in the namespace: nothing is started on it).
NODES="a b c"
declare -A NPID NSUB NS
k=1
for n in $NODES; do
        NSUB[$n]=${NETPFX%.0}.$k.0/24
        NS[$n]=vpsfleet-$n-$N-$$
        k=$((k + 1))
done
in_ns() { local n=$1; shift; nsenter --net="/run/netns/${NS[$n]}" "$@"; }
node_conf() {
        cat >"$T/$1.conf" <<CONF
cluster = $CLUSTER
node = node-$1
cluster_ttl = $TTL
uplink = ${BRIDGE}u$1
CONF
}
# Node a also serves the remote API (issue 19) on a loopback port of its namespace: a token
# must not list the fleet.
for _ in $(seq 50); do
        APORT=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$APORT" | grep -q . || break
done
node_start() {
        local n=$1 listen=()
        [ "$n" != a ] || listen=(--listen "127.0.0.1:$APORT")
        # Its own claims: a tmpfs on /run/vps/claims in a mount namespace of its own.
        in_ns "$n" unshare -m --propagation slave sh -c \
                'mount -t tmpfs -o mode=0700 tmpfs /run/vps/claims && exec "$@"' sh \
                "$VPSD_BIN" --config "$T/$n.conf" --root "$T/root-$n" --socket "$T/$n.sock" \
                --cgroup-parent "$CG_PARENT-$n" --bridge "${BRIDGE}$n" --subnet "${NSUB[$n]}" \
                "${listen[@]}" --daemon
        NPID[$n]=$("$VPSCTL_BIN" --socket "$T/$n.sock" version -j | jq -r .server.pid)
}
node() { local n=$1; shift; "$VPSCTL_BIN" --socket "$T/$n.sock" "$@"; }
fleet_cleanup() {
        local rc=$? n i
        set +e # all of it, whatever fails
        for n in $NODES; do
                stop_node "${NPID[$n]:-}" "$T/root-$n" "$CG_PARENT-$n" "${BRIDGE}$n"
                ip link del "${BRIDGE}h$n" 2>/dev/null || true
        done
        ip link del "$TBR" 2>/dev/null || true
        for i in 1 2 3; do etcd_kill "$i"; done
        # Under ASan/UBSan a report in a node's log fails the test (lib.sh checks its own vpsd's).
        check_node_logs "$rc" $NODES
        cleanup "$?"
}
trap fleet_cleanup EXIT

start_vpsd # a vpsd that is no node of a fleet
ip link add "$TBR" type bridge
ip addr add "$EHOST/24" dev "$TBR"
ip link set "$TBR" up
k=1
for n in $NODES; do
        ip netns add "${NS[$n]}"
        TEST_NETNS+=" ${NS[$n]}"
        ip link add "${BRIDGE}h$n" type veth peer name "${BRIDGE}e$n"
        ip link set "${BRIDGE}h$n" master "$TBR" up
        ip link set "${BRIDGE}e$n" netns "${NS[$n]}"
        ip -n "${NS[$n]}" addr add "${NETPFX%.0}.250.$k/24" dev "${BRIDGE}e$n"
        ip -n "${NS[$n]}" link set "${BRIDGE}e$n" up
        ip -n "${NS[$n]}" link set lo up
        k=$((k + 1))
done
mkdir -p /run/vps/claims
for i in 1 2 3; do etcd_start "$i"; done
for _ in $(seq 100); do etcd_healthy 1 && break; sleep 0.1; done
check "the 3-member etcd cluster answers" etcd_healthy 1

for n in $NODES; do
        in_ns "$n" ip link add "${BRIDGE}u$n" type veth peer name "${BRIDGE}p$n"
        in_ns "$n" ip link set "${BRIDGE}u$n" up
        node_conf "$n"
        node_start "$n"
done
expect_error "--node without --cluster is refused" "^vpsd: --node and --advertise need --cluster\$" \
        "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock" --node n1
expect_error "a bad node name is refused" "^vpsd: --node: node name 'a/b': only letters" \
        "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock" --cluster "$CLUSTER" --node a/b
expect_error "a bad endpoint is refused" "^vpsd: --cluster: etcd endpoint 'ftp://x': not an http" \
        "$VPSD_BIN" --root "$T/x" --socket "$T/x.sock" --cluster ftp://x
check "nothing of theirs was made" test ! -e "$T/x"
own_netns() { # each node's vpsd in a network namespace of its own, none the host's
        local n
        for n in $NODES; do readlink "/proc/${NPID[$n]}/ns/net"; done | sort -u | wc -l | grep -qx 3 &&
                for n in $NODES; do [ "$(readlink "/proc/${NPID[$n]}/ns/net")" != "$(readlink /proc/self/ns/net)" ] || return 1; done
}
check "each node runs in a network namespace of its own" own_netns
own_claims() { # and has /run/vps/claims of its own (a tmpfs each, not the host's)
        local n
        for n in $NODES; do stat -c %d "/proc/${NPID[$n]}/root/run/vps/claims"; done | sort -u | wc -l | grep -qx 3 &&
                for n in $NODES; do [ "$(stat -c %d "/proc/${NPID[$n]}/root/run/vps/claims")" != "$(stat -c %d /run/vps/claims)" ] || return 1; done
}
check "and its own /run/vps/claims" own_claims
expect_jq "vpsctl nodes lists the 3 nodes up" \
        'length == 3 and all(.state == "up") and (map(.name) == ["node-a","node-b","node-c"]) and all(.cpus > 0 and .ram_free > 0 and .disk_free > 0)' \
        node a nodes -j
for n in $NODES; do node "$n" template build busybox >/dev/null; done

# Every node asks for IDs 500.. at once, each with a routed address from one pool, shifted per
# node so that different IDs ask for the same address.
declare -A SHIFT=([a]=0 [b]=1 [c]=2)
CPIDS=()
for n in $NODES; do
        for j in $(seq 0 $((COUNT - 1))); do
                (node "$n" create $((500 + j)) --ostemplate busybox --netmode routed \
                        --ipadd "198.51.100.$((1 + (j + SHIFT[$n]) % COUNT))" \
                        >"$T/c-$n-$j.out" 2>"$T/c-$n-$j.err" && rc=0 || rc=$?
                 echo "$rc" >"$T/c-$n-$j.rc") &
                CPIDS+=($!)
        done
done
wait "${CPIDS[@]}" || true # (not a bare wait: the etcd members are children too)
ok=0 refused=0 unclear=0
for n in $NODES; do
        for j in $(seq 0 $((COUNT - 1))); do
                if [ "$(cat "$T/c-$n-$j.rc")" = 0 ]; then ok=$((ok + 1))
                elif grep -qE '^vpsctl: (VPS [0-9]+ already exists on node node-[abc]|address 198\.51\.100\.[0-9]+ is held by VPS [0-9]+ on node node-[abc])$' "$T/c-$n-$j.err" &&
                        [ "$(wc -l <"$T/c-$n-$j.err")" = 1 ]; then refused=$((refused + 1))
                else unclear=$((unclear + 1)); echo "unclear: node $n, create $((500 + j)): $(cat "$T/c-$n-$j.err")"; fi
        done
done
expect_eq "every refusal of the $((3 * COUNT)) creates is a clear line" "0" "$unclear"
# The truth of what exists: each node's own list.
for n in $NODES; do node "$n" list -a -j | jq -c --arg n "node-$n" '.[] | {id, ip, node: $n}'; done >"$T/local.json"
expect_eq "no ID made twice" "" "$(jq -r .id "$T/local.json" | sort | uniq -d)"
expect_eq "no address given twice" "" "$(jq -r '.ip[]' "$T/local.json" | sort | uniq -d)"
expect_eq "as many VPSes as creates that succeeded ($ok, $refused refused)" "$ok" "$(wc -l <"$T/local.json")"
check "each of the $COUNT IDs made at most once, at least one ($ok)" test "$ok" -ge 1 -a "$ok" -le "$COUNT"
# The records' state follows within a second of each node's sync: seconds on a loaded machine.
jq -c '{id, ip, node}' "$T/local.json" | sort >"$T/local.sorted"
for _ in $(seq 80); do
        node b list --all-nodes -j | jq -c '.[] | {id, ip, node}' | sort >"$T/fleet.json"
        cmp -s "$T/local.sorted" "$T/fleet.json" && break
        sleep 0.25
done
expect_eq "list --all-nodes shows exactly them" "$(cat "$T/local.sorted")" "$(cat "$T/fleet.json")"

# A customer's token (every VPS, every verb a token may have) on node a's remote API: the
# fleet's nodes and other VPSes are the provider's.
TOK=$(node a token create --name customer 2>/dev/null)
ask_remote() { # ask_remote PATH: status and body (from node a's namespace)
        nsenter --net="/run/netns/$NSA" curl -s --max-time 20 --cacert "$T/root-a/remote/server.crt" -H "Authorization: Bearer $TOK" \
                -w ' %{http_code}' "https://127.0.0.1:$APORT$1" | tr -d '\n'
}
check "a token may not list the fleet's VPSes (403)" sh -c \
        "$(declare -f ask_remote); T='$T' APORT=$APORT TOK='$TOK' NSA='${NS[a]}'; ask_remote '/v1/vps?all_nodes=1' | grep -q 'a token may not list the fleet.s VPSes.* 403\$'"
check "nor its nodes (403)" sh -c \
        "$(declare -f ask_remote); T='$T' APORT=$APORT TOK='$TOK' NSA='${NS[a]}'; ask_remote /v1/nodes | grep -q ' 403\$'"
check "while its own list answers (200)" sh -c \
        "$(declare -f ask_remote); T='$T' APORT=$APORT TOK='$TOK' NSA='${NS[a]}'; ask_remote /v1/vps | grep -q ' 200\$'"

# Pick a VPS of node a and one of c for what follows.
A_ID=$(jq -r 'select(.node == "node-a") | .id' "$T/local.json" | head -n1)
C_ID=$(jq -r 'select(.node == "node-c") | .id' "$T/local.json" | head -n1)
[ -n "$A_ID" ] || A_ID=$(node a list -a -j | jq -r '.[0].id // empty')
if [ -z "$A_ID" ]; then node a create 600 --ostemplate busybox >/dev/null; A_ID=600; fi
if [ -z "$C_ID" ]; then node c create 601 --ostemplate busybox >/dev/null; C_ID=601; fi

# One member down: the fleet works on.
etcd_kill 1
check "with one etcd member killed a create works (on every node)" sh -c \
        "for n in a b c; do \"$VPSCTL_BIN\" --socket \"$T/\$n.sock\" create 70\$(printf %s \$n | od -An -tu1 | tr -d ' ' | tail -c2) --ostemplate busybox >/dev/null || exit 1; done"
expect_jq "and the nodes are up" 'length == 3 and all(.state == "up")' node c nodes -j

# Two down: no quorum.
etcd_kill 2
sleep 1
t0=$(date +%s%N)
expect_error "without quorum a create fails, clearly" "^vpsctl: cluster unavailable: http://${EHOST//./\\.}:[0-9]+: " \
        node a create 720 --ostemplate busybox
t1=$(date +%s%N)
check "within 15 s ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 15000
check "and made nothing" sh -c "! \"$VPSCTL_BIN\" --socket \"$T/a.sock\" status 720 -j 2>/dev/null | grep -q exist.*true"
check "local start works" node a start "$A_ID"
check "exec works" node a exec "$A_ID" -- true
check "list works" sh -c "\"$VPSCTL_BIN\" --socket \"$T/a.sock\" list -j | jq -e --arg id $A_ID 'map(.id) | index(\$id) != null' >/dev/null"
check "stop works" node a stop "$A_ID" --fast
check "start again" node a start "$A_ID"

# Both back.
etcd_start 1
etcd_start 2
for _ in $(seq 100); do etcd_healthy 1 && etcd_healthy 2 && break; sleep 0.1; done
check "etcd has quorum again" etcd_healthy 2
for _ in $(seq 60); do node a create 721 --ostemplate busybox >/dev/null 2>&1 && break; sleep 0.25; done
check "a create works again" node a status 721
for _ in $(seq 40); do
        [ "$(node b nodes -j | jq '[.[] | select(.state == "up")] | length')" = 3 ] && break
        sleep 0.25
done
expect_jq "every node is up again" 'length == 3 and all(.state == "up")' node b nodes -j

# A node's vpsd killed: down after its lease; its VPSes unknown; back when restarted.
node c start "$C_ID" >/dev/null
C_PID=$(node c status "$C_ID" -j | jq -r .pid)
kill -9 "${NPID[c]}"
t0=$(date +%s)
for _ in $(seq 80); do
        [ "$(node a nodes -j | jq -r '.[] | select(.name == "node-c") | .state')" = down ] && break
        sleep 0.25
done
t1=$(date +%s)
expect_jq "node c shows down after its lease (TTL $TTL s; $((t1 - t0)) s)" \
        'map(select(.name == "node-c"))[0].state == "down"' node a nodes -j
check "not before the TTL" test $((t1 - t0)) -ge $((TTL - 1))
expect_jq "its VPSes show unknown" \
        "map(select(.node == \"node-c\")) | length > 0 and all(.status == \"unknown\")" node a list --all-nodes -j
# A record the cluster loses while c is away: c puts it back when it returns, and says so.
KEY=$(printf '/vps/v1/vps/%s' "$C_ID" | base64 -w0)
curl -sf "http://$EHOST:$((BASE + 2))/v3/kv/deleterange" -d "{\"key\":\"$KEY\"}" >/dev/null
# And a key no vpsd would write, from whoever else can write etcd: ignored, not logged as is.
BAD=$(printf '/vps/v1/owners/node-c/x\n2026-01-01 vpsd[1]: FAKE LINE' | base64 -w0)
curl -sf "http://$EHOST:$((BASE + 2))/v3/kv/put" -d "{\"key\":\"$BAD\",\"value\":\"e30=\"}" >/dev/null
node_start c
for _ in $(seq 40); do
        [ "$(node a nodes -j | jq -r '.[] | select(.name == "node-c") | .state')" = up ] && break
        sleep 0.25
done
expect_jq "restarted, node c is up" 'map(select(.name == "node-c"))[0].state == "up"' node a nodes -j
expect_eq "its VPS still runs, the same init" "running $C_PID" \
        "$(node c status "$C_ID" -j | jq -r '"\(.status) \(.pid)"')"
LOST_BACK="map(select(.id == \"$C_ID\"))[0] | .node == \"node-c\" and .status == \"running\""
for _ in $(seq 80); do node a list --all-nodes -j | jq -e "$LOST_BACK" >/dev/null 2>&1 && break; sleep 0.25; done
expect_jq "the record it lost is back, running" "$LOST_BACK" node a list --all-nodes -j
check "and the difference was logged" grep -q "reconcile: VPS $C_ID is here without a record in the cluster: recorded" "$T/root-c/vpsd.log"
check "a record whose key is no VPS ID is ignored" grep -q "reconcile: 1 records under /vps/v1/owners/node-c/ with a key that is no VPS ID: ignored" "$T/root-c/vpsd.log"
check "and never reaches the log" sh -c "! grep -q 'FAKE LINE' '$T/root-c/vpsd.log'"

# A set --ipadd claims nothing before the change (docs/fleet.md): an address another node's
# VPS holds is logged by the reconcile, and that VPS keeps it in the cluster's records.
B_ID=$(node b list -a -j | jq -r '[.[] | select((.ip | length) > 0)][0].id // empty')
# Which creates node b won above is up to the race: give it one of its own when it won none.
if [ -z "$B_ID" ]; then
        node b create 731 --ostemplate busybox --netmode routed --ipadd 198.51.100.200 >/dev/null
        B_ID=731
fi
B_IP=$(node b status "$B_ID" -j | jq -r '.ip[0]')
# (its record reaches etcd at node b's next sync: wait for it, a loaded machine takes seconds)
for _ in $(seq 80); do
        node c list --all-nodes -j | jq -e "map(select(.id == \"$B_ID\"))[0] | .node == \"node-b\" and (.ip | index(\"$B_IP\")) != null" >/dev/null 2>&1 && break
        sleep 0.25
done
node a create 730 --ostemplate busybox --netmode routed >/dev/null
node a set 730 --ipadd "$B_IP" >/dev/null
for _ in $(seq 80); do grep -q "VPS 730 runs here but address $B_IP is held by VPS $B_ID on node node-b" "$T/root-a/vpsd.log" && break; sleep 0.25; done
check "an address set here that node b's VPS holds is logged as a conflict" \
        grep -q "reconcile: VPS 730 runs here but address $B_IP is held by VPS $B_ID on node node-b: left as it is" "$T/root-a/vpsd.log"
expect_jq "and node b's VPS keeps it in the records" \
        "map(select(.id == \"$B_ID\"))[0] | .node == \"node-b\" and (.ip | index(\"$B_IP\")) != null" node c list --all-nodes -j
node a destroy 730 >/dev/null

# A destroy gives the ID and the address back to the fleet.
IP_A=$(node a status "$A_ID" -j | jq -r '.ip[0] // empty')
node a stop "$A_ID" --fast >/dev/null
node a destroy "$A_ID" >/dev/null
for _ in $(seq 20); do node b create "$A_ID" --ostemplate busybox --netmode routed ${IP_A:+--ipadd $IP_A} >/dev/null 2>&1 && break; sleep 0.25; done
check "after a destroy on node a its ID and address can be created on node b" node b status "$A_ID"
expect_error "a node without --cluster has no nodes to list" "not a node of a cluster" vpsctl nodes
finish
