#!/usr/bin/env bash
# A create's claim held to its end (docs/fleet.md, "Claims"): one etcd member on a loopback
# port of this test's own and two vpsd nodes side by side, node a with VPS_TEST_FLEET_HOLD_MS
# (its loop held between each create's local part and its finish, as a loop stalled there by
# load would be). 1: node a's vpsd stopped (SIGSTOP) past its lease's TTL while a create is
# held: its lease lapses and it joins again, but the claim stays its own: node b cannot take
# the ID or the address meanwhile, and node a's create ends made and recorded. (Before the
# fix, a sync that ran while the loop was held took the VPS, made here but missing from the
# loop's last snapshot, for destroyed, and released its claim: node b then made the same ID.)
# 2: the claim deleted from etcd while a create is held (a claim lost, whatever lost it), and
# node b takes the ID and the address: node a's create fails with one line naming the
# problem, leaves no VPS and no files, and the fleet holds the ID once, node b's.
NET_TEST=1
. "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
[ -x "$ETCD" ] || { echo "SKIP: no $ETCD (Debian's etcd-server)"; exit 77; }
TTL=3
HOLD_MS=15000

for _ in $(seq 50); do
        BASE=$(( 20000 + (RANDOM % 2000) * 10 ))
        ss -Htln | awk '{print $4}' | grep -qE ":($BASE|$((BASE + 1)))\$" || break
done
E1=http://127.0.0.1:$BASE
"$ETCD" --name e1 --data-dir "$T/etcd1" --listen-client-urls "$E1" --advertise-client-urls "$E1" \
        --listen-peer-urls "http://127.0.0.1:$((BASE + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 1))" \
        --initial-cluster "e1=http://127.0.0.1:$((BASE + 1))" --initial-cluster-token "vpsclaim-$$" \
        --heartbeat-interval 50 --election-timeout 500 >>"$T/etcd1.log" 2>&1 &
EPID=$!

NODES="a b"
declare -A NPID NSUB=([a]=${NETPFX%.0}.1.0/24 [b]=${NETPFX%.0}.2.0/24)
node_start() { # node_start NAME [VAR=VALUE...]: its vpsd, with those in its environment
        local n=$1
        shift
        cat >"$T/$n.conf" <<CONF
cluster = $E1
node = node-$n
cluster_ttl = $TTL
netmode = routed
uplink = ${BRIDGE}u$n
CONF
        env "$@" "$VPSD_BIN" --config "$T/$n.conf" --root "$T/root-$n" --socket "$T/$n.sock" \
                --cgroup-parent "$CG_PARENT-$n" --bridge "${BRIDGE}$n" --subnet "${NSUB[$n]}" --daemon
        NPID[$n]=$("$VPSCTL_BIN" --socket "$T/$n.sock" version -j | jq -r .server.pid)
}
node() { local n=$1; shift; "$VPSCTL_BIN" --socket "$T/$n.sock" "$@"; }
claim_cleanup() {
        local rc=$? n
        set +e
        # A node left stopped by a failure must take its SIGTERM.
        [ -z "${NPID[a]:-}" ] || kill -CONT "${NPID[a]}" 2>/dev/null
        kill -9 "$EPID" 2>/dev/null
        wait "$EPID" 2>/dev/null
        for n in $NODES; do
                stop_node "${NPID[$n]:-}" "$T/root-$n" "$CG_PARENT-$n" "${BRIDGE}$n"
                nft delete table inet "vpsr_${BRIDGE}$n" 2>/dev/null || true
                ip link del "${BRIDGE}u$n" 2>/dev/null || true
        done
        check_node_logs "$rc" $NODES
        cleanup "$?"
}
trap claim_cleanup EXIT
b64() { printf '%s' "$1" | base64 -w0; }
etcd_get() { # etcd_get KEY: its value ("" when absent)
        curl -sf "$E1/v3/kv/range" -d "{\"key\":\"$(b64 "$1")\"}" | jq -r '.kvs[0].value // empty' | base64 -d
}
etcd_del() { curl -sf "$E1/v3/kv/deleterange" -d "{\"key\":\"$(b64 "$1")\"}" >/dev/null; }
node_state() { node b nodes -j | jq -r --arg n "node-$1" '.[] | select(.name == $n) | .state'; }
is_down() { [ "$(node_state "$1")" = down ]; }
is_up() { [ "$(etcd_get "/vps/v1/nodes/node-$1")" != "" ]; }
# create_bg NODE ID ADDR: a create in the background, its exit status in $T/create-ID.rc
create_bg() {
        (node "$1" create "$2" --ostemplate busybox --netmode routed --ipadd "$3" \
                >"$T/create-$2.out" 2>"$T/create-$2.err" && rc=0 || rc=$?
         echo "$rc" >"$T/create-$2.rc") &
        CREATE_PID=$!
}
held() { grep -q "test: holding the create of VPS $1 " "$T/root-a/vpsd.log"; }
# every_id_once: no ID in both nodes' own lists
every_id_once() {
        [ -z "$( { node a list -a -j; node b list -a -j; } | jq -r '.[].id' | sort | uniq -d)" ]
}

start_vpsd # a vpsd that is no node of a fleet
for _ in $(seq 100); do curl -sf -m 2 "$E1/v3/kv/range" -d '{"key":"eA=="}' >/dev/null && break; sleep 0.1; done
for n in $NODES; do
        ip link add "${BRIDGE}u$n" type veth peer name "${BRIDGE}p$n"
        ip link set "${BRIDGE}u$n" up
done
node_start a VPS_TEST_FLEET_HOLD_MS=$HOLD_MS
node_start b
node a template build busybox >/dev/null &
BPA=$!
node b template build busybox >/dev/null
wait "$BPA"
check "both nodes are up" eventually 10 sh -c "[ \"\$(\"$VPSCTL_BIN\" --socket \"$T/b.sock\" nodes -j | jq '[.[] | select(.state == \"up\")] | length')\" = 2 ]"

# 1. Node a stopped past its lease while a create of its is held between its local part and
# its finish.
create_bg a 800 198.51.100.80
check "node a holds its create of VPS 800" eventually 20 held 800
kill -STOP "${NPID[a]}"
check "node a, stopped, shows down once its lease lapses" eventually $((TTL + 10)) is_down a
kill -CONT "${NPID[a]}"
check "continued, it joins again with a new lease" eventually 10 is_up a
sleep 2 # the reconcile after that join, and a keep-alive's sync (TTL / 3) after it
check "its create of VPS 800 is still held" test ! -e "$T/create-800.rc"
expect_error "node b cannot take VPS 800 meanwhile" "^vpsctl: VPS 800 already exists on node node-a\$" \
        node b create 800 --ostemplate busybox --netmode routed --ipadd 198.51.100.81
expect_error "nor its address" "^vpsctl: address 198\.51\.100\.80 is held by VPS 800 on node node-a\$" \
        node b create 810 --ostemplate busybox --netmode routed --ipadd 198.51.100.80
wait "$CREATE_PID"
expect_eq "node a's create of VPS 800 succeeds once let go" "0" "$(cat "$T/create-800.rc")"
check "VPS 800 is node a's" node a status 800
expect_jq "and its record says so, made (no longer creating)" \
        '.node == "node-a" and .state == "stopped" and .ips == ["198.51.100.80"]' \
        etcd_get /vps/v1/vps/800
check "no ID on both nodes" every_id_once
check "node a never released the claim" sh -c "! grep -qE 'VPS 800( destroyed|: a create claimed here never finished)' '$T/root-a/vpsd.log'"

# 2. The claim lost while the create is held: deleted from etcd (a lapse of whatever kind),
# and node b takes the ID and the address.
create_bg a 801 198.51.100.82
check "node a holds its create of VPS 801" eventually 20 held 801
for k in vps/801 owners/node-a/801 ips/198.51.100.82; do etcd_del "/vps/v1/$k"; done
check "node b can create VPS 801 with its address, the claim gone" \
        node b create 801 --ostemplate busybox --netmode routed --ipadd 198.51.100.82
check "while node a's create of it is still held" test ! -e "$T/create-801.rc"
wait "$CREATE_PID"
expect_eq "node a's create of VPS 801 fails (exit 4: the ID is node b's)" "4" "$(cat "$T/create-801.rc")"
expect_eq "with one line naming the problem" \
        "vpsctl: VPS 801: this node's claim on it in the cluster was lost before the create ended (node node-b holds the ID now): not created" \
        "$(cat "$T/create-801.err")"
check "node a has no VPS 801" sh -c "\"$VPSCTL_BIN\" --socket \"$T/a.sock\" list -a -j | jq -e 'map(.id) | index(\"801\") == null' >/dev/null"
check "nor its files" eventually 10 sh -c "! ls -A '$T/root-a/vps' | grep -q 801"
check "no ID on both nodes" every_id_once
expect_jq "the fleet shows VPS 801 once, node b's" \
        '[.[] | select(.id == "801")] | length == 1 and .[0].node == "node-b"' node a list --all-nodes -j
sleep 2 # node a's syncs after its undone create: they leave node b's records be
expect_jq "its record and its address stay node b's" '.node == "node-b"' etcd_get /vps/v1/vps/801
expect_jq "and its address" '.node == "node-b" and .vps == "801"' etcd_get /vps/v1/ips/198.51.100.82
expect_eq "node a has no owner record of VPS 801" "" "$(etcd_get /vps/v1/owners/node-a/801)"
check "node a's log tells the create undone" \
        grep -q "cluster: create of VPS 801 undone: VPS 801: this node's claim on it in the cluster was lost" "$T/root-a/vpsd.log"
finish
