#!/usr/bin/env bash
# create --node NAME|auto and node drain/undrain (docs/fleet.md): a one-member etcd on a loopback
# port of this test's own and three vpsd nodes, each with its remote API on a loopback port of its
# own, advertised in etcd. The local vpsd sends a create for another node to that node's API,
# pinned to the key the node published in etcd, presenting its own certificate, which the other
# node trusts because etcd lists it. auto picks by the rule (up, schedulable, the template, room;
# most free RAM: the nodes report a test-only free RAM, VPS_TEST_FLEET_RAM_FREE), skips a drained
# node; a down or unknown node is refused with one line; a token, a certificate etcd does not list
# or a node whose key differs from the one in etcd cannot use the node-to-node path.
. "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
[ -x "$ETCD" ] || { echo "SKIP: no $ETCD (Debian's etcd-server)"; exit 77; }
TTL=3

free_port() {
        local p
        for _ in $(seq 50); do
                p=$((20000 + RANDOM % 30000))
                ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
        done
}
EC=$(free_port)
EPEER=$(free_port)
CLUSTER=http://127.0.0.1:$EC
"$ETCD" --name e1 --data-dir "$T/etcd1" --listen-client-urls "$CLUSTER" \
        --advertise-client-urls "$CLUSTER" --listen-peer-urls "http://127.0.0.1:$EPEER" \
        --initial-advertise-peer-urls "http://127.0.0.1:$EPEER" \
        --initial-cluster "e1=http://127.0.0.1:$EPEER" --initial-cluster-token "vpsplace-$$" \
        >>"$T/etcd1.log" 2>&1 &
EPID=$!

NODES="a b c"
declare -A NPID NSUB PORT RAM=([a]=2147483648 [b]=4294967296 [c]=8589934592)
k=1
for n in $NODES; do
        NSUB[$n]=${NETPFX%.0}.$k.0/24
        k=$((k + 1))
        PORT[$n]=$(free_port)
done
node_start() {
        local n=$1
        cat >"$T/$n.conf" <<CONF
cluster = $CLUSTER
node = node-$n
cluster_ttl = $TTL
advertise = https://127.0.0.1:${PORT[$n]}
CONF
        VPS_TEST_FLEET_RAM_FREE=${RAM[$n]} "$VPSD_BIN" --config "$T/$n.conf" --root "$T/root-$n" \
                --socket "$T/$n.sock" --cgroup-parent "$CG_PARENT-$n" --bridge "${BRIDGE}$n" \
                --subnet "${NSUB[$n]}" --listen "127.0.0.1:${PORT[$n]}" --daemon
        NPID[$n]=$("$VPSCTL_BIN" --socket "$T/$n.sock" version -j | jq -r .server.pid)
}
node() { local n=$1; shift; "$VPSCTL_BIN" --socket "$T/$n.sock" "$@"; }
place_cleanup() {
        local rc=$? n
        set +e
        for n in $NODES; do
                stop_node "${NPID[$n]:-}" "$T/root-$n" "$CG_PARENT-$n" "${BRIDGE}$n"
        done
        kill -9 "$EPID" 2>/dev/null || true
        wait "$EPID" 2>/dev/null || true
        check_node_logs "$rc" $NODES
        cleanup "$?"
}
trap place_cleanup EXIT

start_vpsd # a vpsd that is no node of a fleet
for _ in $(seq 100); do
        curl -sf -m 2 "$CLUSTER/v3/kv/range" -d '{"key":"eA=="}' >/dev/null && break
        sleep 0.1
done
for n in $NODES; do node_start "$n"; done
# busybox on a and b only: c (the most free RAM) lacks it.
for n in a b; do node "$n" template build busybox >/dev/null; done
for _ in $(seq 60); do
        node a nodes -j | jq -e 'length == 3 and ([.[] | select((.templates | index("busybox")) != null)] | length) == 2 and all(.pubkey | startswith("sha256//"))' >/dev/null 2>&1 && break
        sleep 0.5
done
expect_jq "the nodes publish their certificate's fingerprint and key, and are schedulable" \
        'length == 3 and all(.fingerprint | length == 64) and all(.pubkey | startswith("sha256//")) and all(.schedulable == true)' \
        node a nodes -j

expect_error "create --node without a cluster is refused" \
        "not a node of a cluster" vpsctl create 90 --ostemplate busybox --node x
OUT=$(node a create 101 --ostemplate busybox --node node-b 2>&1)
check "create --node node-b from node a says where ($OUT)" test "$OUT" = "VPS 101 created from busybox on node node-b"
expect_jq "node b's own list shows VPS 101" 'map(.id) == ["101"]' node b list -a -j
expect_jq "node a's own list does not" 'length == 0' node a list -a -j
expect_jq "the cluster says node b owns it" 'map(select(.id == "101"))[0].node == "node-b"' node c list --all-nodes -j
grep -q "create of VPS 101 sent to node node-b: 201" "$T/root-a/vpsd.log"
check "node a logged the create it sent" test $? = 0
expect_error "an ID taken on another node is refused through the forward" \
        "^vpsctl: node node-a: VPS 101 already exists on node node-b\$" \
        node c create 101 --ostemplate busybox --node node-a
# Node c joined after node a last read the nodes: a knew c's certificate by reading them again.
check "node a read the nodes again for c's certificate" \
        grep -q "cluster: node node-c's certificate known from a fresh read of the nodes" "$T/root-a/vpsd.log"

OUT=$(node a create 102 --ostemplate busybox --node auto -j | jq -r .node)
expect_eq "auto: node b (busybox, and more free RAM than a; c has no busybox)" node-b "$OUT"
expect_jq "auto: node b's list has 102" 'map(.id) | index("102") != null' node b list -a -j
expect_error "auto with no node fitting says why for each" \
        "no node fits: .*node-a: 2048 MiB RAM free, 65536 asked.*node-c: no template busybox" \
        node a create 103 --ostemplate busybox --node auto --ram 64G
expect_error "an unknown node is refused" "node node-z is not a node of this cluster" \
        node a create 103 --ostemplate busybox --node node-z

# drain b (its VPSes removed first: moving them is integration-fleet_drain's): auto takes a;
# b listed as drained.
node b destroy 101 >/dev/null
node b destroy 102 >/dev/null
# (A destroy reaches etcd at node b's next tick, within a second: wait for its owner records
# to go, or the drain may still see them.)
for _ in $(seq 40); do
        [ "$(node a nodes -j | jq '.[] | select(.name == "node-b") | .vps_owned')" = 0 ] && break
        sleep 0.1
done
rc=0
node a node drain node-b -j >"$T/drain.out" 2>"$T/drain.err" || rc=$?
expect_eq "drain of a node without VPSes exits 0" 0 "$rc"
expect_jq "drain says it moved nothing and left nothing" \
        '.node == "node-b" and .schedulable == false and .vps == [] and .moved == [] and .failed == []' \
        cat "$T/drain.out"
expect_jq "nodes shows node b unschedulable" \
        'map(select(.name == "node-b"))[0].schedulable == false and map(select(.name == "node-a"))[0].schedulable == true' \
        node c nodes -j
check "the nodes table says drained" sh -c "'$VPSCTL_BIN' --socket '$T/c.sock' nodes | grep -qE '^node-b +up +drained'"
OUT=$(node c create 104 --ostemplate busybox --node auto -j | jq -r .node)
expect_eq "auto skips the drained node b: node a" node-a "$OUT"
OUT=$(node a create 108 --ostemplate busybox --node auto -j | jq -r .node)
expect_eq "auto from node a picking node a itself: made here" node-a "$OUT"
expect_jq "node a's list has 104 and 108" 'map(.id) | sort == ["104","108"]' node a list -a -j
expect_error "a drained node named is refused" "node node-b is drained" \
        node a create 105 --ostemplate busybox --node node-b
node a node undrain node-b >/dev/null
check "undrain" test $? = 0
OUT=$(node a create 105 --ostemplate busybox --node auto -j | jq -r .node)
expect_eq "undrained: auto picks node b again" node-b "$OUT"
expect_error "drain of an unknown node" "node node-z is not a node of this cluster" \
        node a node drain node-z

# The node-to-node path: what b trusts is what etcd lists.
cat >"$T/body.json" <<'JSON'
{"id": "190", "ostemplate": "busybox"}
JSON
post_b() { # post_b CURL-ARGS...: POST /v1/vps on b's API; prints the status
        curl -s -o "$T/post.out" -w '%{http_code}' --max-time 20 -k -H 'Content-Type: application/json' \
                --data @"$T/body.json" "$@" "https://127.0.0.1:${PORT[b]}/v1/vps"
}
expect_eq "node a's certificate creates on b (it is node a's in etcd)" 201 \
        "$(post_b --cert "$T/root-a/remote/server.crt" --key "$T/root-a/remote/server.key")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/x.key" \
        -out "$T/x.crt" -subj /CN=intruder -days 1 2>/dev/null
expect_eq "a certificate etcd does not list is refused (403)" 403 \
        "$(post_b --cert "$T/x.crt" --key "$T/x.key")"
TOK=$(node b token create --name customer 2>/dev/null)
expect_eq "a customer's token cannot create (403)" 403 "$(post_b -H "Authorization: Bearer $TOK")"
expect_jq "nothing else was made on b" 'map(.id) | sort == ["105","190"]' node b list -a -j

# Figures (printed, not checked): a create here, and one sent from node c to node a.
ms() { date +%s%3N; }
t0=$(ms); node a create 120 --ostemplate busybox >/dev/null; t1=$(ms)
node c create 121 --ostemplate busybox --node node-a >/dev/null; t2=$(ms)
echo "measured: create on node a $((t1 - t0)) ms; create --node node-a from node c $((t2 - t1)) ms"

# A node whose key is not the one etcd lists is not sent the create (the pin): b's record
# rewritten with c's key.
KEY=$(printf '/vps/v1/nodes/node-b' | base64 -w0)
# b writes its record again when its VPS count changes: wait until it has (190 above).
for _ in $(seq 40); do
        curl -sf "$CLUSTER/v3/kv/range" -d "{\"key\":\"$KEY\"}" | jq -r '.kvs[0].value' | base64 -d |
                jq -e '.vps_count == 2' >/dev/null && break
        sleep 0.25
done
REC=$(curl -sf "$CLUSTER/v3/kv/range" -d "{\"key\":\"$KEY\"}" | jq -r '.kvs[0].value' | base64 -d)
CPIN=$(node a nodes -j | jq -r 'map(select(.name == "node-c"))[0].pubkey')
LEASE=$(curl -sf "$CLUSTER/v3/kv/range" -d "{\"key\":\"$KEY\"}" | jq -r '.kvs[0].lease')
NEW=$(jq -c --arg p "$CPIN" '.pubkey = $p | .vps_count = 99' <<<"$REC" | base64 -w0)
curl -sf "$CLUSTER/v3/kv/put" -d "{\"key\":\"$KEY\",\"value\":\"$NEW\",\"lease\":\"$LEASE\"}" >/dev/null
expect_error "a node whose key is not etcd's is not sent the create" \
        "node node-b: https://127.0.0.1:${PORT[b]}: its key is not the one it published in etcd" \
        node a create 106 --ostemplate busybox --node node-b
check "VPS 106 is nowhere" sh -c "! '$VPSCTL_BIN' --socket '$T/b.sock' status 106 >/dev/null 2>&1"

# A down node: c killed; once its lease expires, a create for it is refused with one line.
kill -9 "${NPID[c]}"
for _ in $(seq 40); do
        node a nodes -j | jq -e 'map(select(.name == "node-c"))[0].state == "down"' >/dev/null 2>&1 && break
        sleep 0.25
done
expect_error "a down node is refused" "node node-c is down" \
        node a create 107 --ostemplate busybox --node node-c
