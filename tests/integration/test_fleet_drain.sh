#!/usr/bin/env bash
# migrate --to-node and node drain (docs/fleet.md): a 3-member etcd on loopback ports of this
# test's own and three vpsd nodes, each with its remote API advertised in etcd and routed
# addresses on an uplink of its own (a VPS keeps its address wherever it runs). Two running
# busybox VPSes on node a (with VPS_TEST_FULL=1 five and a Debian 12 one, booted: systemd
# running): `node drain node-a` moves each to the node the placement rule picks (c: the most
# free RAM; its templates the same versions as a's, so none is sent: busybox's made so,
# debian-12 the same tarball from the test cache on both), where each answers ping at its
# address (and the Debian one runs systemd again and keeps a file written before the move),
# etcd's owner records and `list --all-nodes` name the new node and node a has none left. A
# VPS whose ID node c already holds cannot move, nor one whose address is used there: the
# drain names them, exits 5, and they still run on node a alone. migrate --to-node: one move from c to b, and one-line
# refusals (unknown, drained, no quorum). Node a's and c's event streams tell each move
# (migration started and done, to node-c on a, from node-a on c) and 207's failure on both.
NET_TEST=1
. "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
[ -x "$ETCD" ] || { echo "SKIP: no $ETCD (Debian's etcd-server)"; exit 77; }
TTL=3

for _ in $(seq 50); do
        BASE=$(( 20000 + (RANDOM % 2000) * 10 ))
        ss -Htln | awk '{print $4}' | grep -qE ":($BASE|$((BASE + 1))|$((BASE + 2))|$((BASE + 3))|$((BASE + 4))|$((BASE + 5)))\$" || break
done
CLUSTER=
INITIAL=
for i in 1 2 3; do
        CLUSTER+=${CLUSTER:+,}http://127.0.0.1:$((BASE + i - 1))
        INITIAL+=${INITIAL:+,}e$i=http://127.0.0.1:$((BASE + 2 + i))
done
E1=http://127.0.0.1:$BASE
declare -A EPID
etcd_start() {
        local i=$1
        "$ETCD" --name "e$i" --data-dir "$T/etcd$i" \
                --listen-client-urls "http://127.0.0.1:$((BASE + i - 1))" \
                --advertise-client-urls "http://127.0.0.1:$((BASE + i - 1))" \
                --listen-peer-urls "http://127.0.0.1:$((BASE + 2 + i))" \
                --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 2 + i))" \
                --initial-cluster "$INITIAL" --initial-cluster-token "vpsdrain-$$" \
                --heartbeat-interval 50 --election-timeout 500 >>"$T/etcd$i.log" 2>&1 &
        EPID[$i]=$!
}
etcd_kill() { [ -n "${EPID[$1]:-}" ] || return 0; kill -9 "${EPID[$1]}" 2>/dev/null || true; wait "${EPID[$1]}" 2>/dev/null || true; }

NODES="a b c"
port_free() {
        local p
        for _ in $(seq 50); do
                p=$((20000 + RANDOM % 30000))
                ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
        done
}
declare -A NPID NSUB APORT RAM=([a]=2147483648 [b]=4294967296 [c]=8589934592)
k=1
for n in $NODES; do
        NSUB[$n]=${NETPFX%.0}.$k.0/24
        k=$((k + 1))
        APORT[$n]=$(port_free)
done
node_start() {
        local n=$1
        cat >"$T/$n.conf" <<CONF
cluster = $CLUSTER
node = node-$n
cluster_ttl = $TTL
advertise = https://127.0.0.1:${APORT[$n]}
netmode = routed
uplink = ${BRIDGE}u$n
CONF
        VPS_TEST_FLEET_RAM_FREE=${RAM[$n]} "$VPSD_BIN" --config "$T/$n.conf" --root "$T/root-$n" \
                --socket "$T/$n.sock" --cgroup-parent "$CG_PARENT-$n" --bridge "${BRIDGE}$n" \
                --subnet "${NSUB[$n]}" --listen "127.0.0.1:${APORT[$n]}" --daemon
        NPID[$n]=$("$VPSCTL_BIN" --socket "$T/$n.sock" version -j | jq -r .server.pid)
}
node() { local n=$1; shift; "$VPSCTL_BIN" --socket "$T/$n.sock" "$@"; }
drain_cleanup() {
        local rc=$? n i
        set +e
        [ -z "${EV_PIDS:-}" ] || kill $EV_PIDS 2>/dev/null
        # etcd first: a vpsd leaving revokes its lease, which fails at once with no member
        # left (it ends without quorum: each would wait out the live member's timeout).
        for i in 1 2 3; do etcd_kill "$i"; done
        for n in $NODES; do
                stop_node "${NPID[$n]:-}" "$T/root-$n" "$CG_PARENT-$n" "${BRIDGE}$n"
                nft delete table inet "vpsr_${BRIDGE}$n" 2>/dev/null || true
                ip link del "${BRIDGE}u$n" 2>/dev/null || true
        done
        check_node_logs "$rc" $NODES
        cleanup "$?"
}
trap drain_cleanup EXIT
etcd_get() { # etcd_get KEY: its value, decoded ("" when absent)
        curl -sf "$E1/v3/kv/range" -d "{\"key\":\"$(printf '%s' "$1" | base64 -w0)\"}" |
                jq -r '.kvs[0].value // empty' | base64 -d
}
etcd_keys() { # etcd_keys PREFIX: the keys under it, one a line
        local k e
        k=$(printf '%s' "$1" | base64 -w0)
        e=$(printf '%s' "${1%?}$(printf '%s' "${1: -1}" | tr '/' '0')" | base64 -w0)
        curl -sf "$E1/v3/kv/range" -d "{\"key\":\"$k\",\"range_end\":\"$e\",\"keys_only\":true}" |
                jq -r '.kvs[]?.key' | while read -r x; do printf '%s\n' "$(base64 -d <<<"$x")"; done
}
etcd_del() { curl -sf "$E1/v3/kv/deleterange" -d "{\"key\":\"$(printf '%s' "$1" | base64 -w0)\"}" >/dev/null; }

start_vpsd # a vpsd that is no node of a fleet
for i in 1 2 3; do etcd_start "$i"; done
for _ in $(seq 100); do curl -sf -m 2 "$E1/v3/kv/range" -d '{"key":"eA=="}' >/dev/null && break; sleep 0.1; done
for n in $NODES; do
        ip link add "${BRIDGE}u$n" type veth peer name "${BRIDGE}p$n"
        ip link set "${BRIDGE}u$n" up
        node_start "$n"
done
# Each node builds busybox; then a's and c's are made the same version (the drain to c sends
# no template) and b's another (a move to b needs --full).
node a template build busybox >/dev/null &
BPA=$!
node b template build busybox >/dev/null &
BPB=$!
node c template build busybox >/dev/null
wait "$BPA" "$BPB" # (not a bare wait: the etcd members are children too)
tpl_version() { # tpl_version NODE [VERSION]: its busybox's version (set to VERSION first)
        local m=$T/root-$1/templates/busybox/meta.json
        [ -z "${2:-}" ] || { jq --arg v "$2" '.version = $v' "$m" >"$m.new" && mv "$m.new" "$m"; }
        jq -r .version "$m"
}
V=$(tpl_version a)
tpl_version c "$V" >/dev/null
tpl_version b "$V-b" >/dev/null
# VPS_TEST_FULL=1: nodes a and c get debian-12 from the test cache's tarball (lib.sh; built
# and cached when it is not there), the same version on both.
if [ -n "${VPS_TEST_FULL:-}" ]; then
        for n in a c; do
                ROOT=$T/root-$n SOCK=$T/$n.sock debian_template || {
                        fail "template debian-12 on node $n: $(tail -n3 "$T/debian-build.out" 2>/dev/null)"
                        finish
                }
        done
        DV=$(jq -r .version "$T/root-a/templates/debian-12/meta.json")
        expect_eq "nodes a and c have debian-12 in one version" "$DV" \
                "$(jq -r .version "$T/root-c/templates/debian-12/meta.json")"
fi
DEB_NODES=$([ -z "${VPS_TEST_FULL:-}" ] || echo '["node-a","node-c"]')
for _ in $(seq 60); do
        node a nodes -j | jq -e 'length == 3 and all(.state == "up") and all((.templates | index("busybox")) != null) and all(.pubkey | startswith("sha256//"))'"${DEB_NODES:+ and all(.[] | select(.name | IN($DEB_NODES[])); .templates | index(\"debian-12\") != null)}" >/dev/null 2>&1 && break
        sleep 0.5
done
IP() { echo "${NETPFX%.0}.9.$1"; }

# Node a's VPSes that move: two by default, five with VPS_TEST_FULL=1.
# By default the drain stops them with --fast (busybox's clean halt is 2 s of its init's
# sleeps, a VPS; nothing here depends on it); VPS_TEST_FULL=1 drains with clean halts.
MOVES=2 FAST=--fast
[ -z "${VPS_TEST_FULL:-}" ] || { MOVES=5; FAST=; }
MOVED=$(seq -s ' ' 1 "$MOVES")
for i in $MOVED; do
        node a create "20$i" --ostemplate busybox --ipadd "$(IP "$i")" >/dev/null
        node a start "20$i" >/dev/null
done
# VPS_TEST_FULL=1: and 208, Debian 12, booted (systemd running) with a file in its disk.
sysd_state() { # sysd_state NODE ID: systemd's state in the VPS once it settles
        local st= end=$((SECONDS + 90))
        while [ "$SECONDS" -lt "$end" ]; do
                st=$(node "$1" exec "$2" -- systemctl is-system-running 2>/dev/null || true)
                case $st in running|degraded) break ;; esac
                sleep 0.2
        done
        echo "$st"
}
if [ -n "${VPS_TEST_FULL:-}" ]; then
        node a create 208 --ostemplate debian-12 --ipadd "$(IP 8)" >/dev/null
        node a start 208 >/dev/null
        st=$(sysd_state a 208)
        check "Debian VPS 208 boots on node a (systemd: $st)" grep -qxE 'running|degraded' <<<"$st"
        node a exec 208 -- sh -c 'echo before-the-move >/root/drain-mark'
        MOVED+=" 8"
        MOVES=$((MOVES + 1))
fi
# Node c holds a VPS 206 of its own that the cluster does not know (its records removed), so
# the move of node a's 206 there is refused.
node c create 206 --ostemplate busybox --ipadd "$(IP 66)" >/dev/null
for _ in $(seq 40); do # its record settled (a later write would bring it back)
        [ "$(etcd_get /vps/v1/vps/206 | jq -r .state)" = stopped ] && break
        sleep 0.25
done
etcd_del /vps/v1/vps/206
etcd_del /vps/v1/owners/node-c/206
etcd_del "/vps/v1/ips/$(IP 66)"
node a create 206 --ostemplate busybox --ipadd "$(IP 6)" >/dev/null
node a start 206 >/dev/null
# And 207 has the address of c's stray 206 (free in etcd): its restore on c is refused at the
# end of the transfer (the address is used there), after 207 was stopped here: the fencing
# brings it back here, running, and leaves nothing on c.
node a create 207 --ostemplate busybox --ipadd "$(IP 66)" >/dev/null
node a start 207 >/dev/null
for i in $MOVED 6 66; do check "VPS with $(IP "$i") answers ping on node a" ping -c 1 -W 2 "$(IP "$i")"; done
# Their records reach etcd at node a's next sync: wait for them (seconds on a loaded machine).
for id in $(for i in $MOVED; do echo "20$i"; done) 206 207; do
        for _ in $(seq 80); do
                [ "$(etcd_get "/vps/v1/vps/$id" | jq -r .node 2>/dev/null)" = node-a ] && break
                sleep 0.25
        done
done

expect_error "migrate to an unknown node" "^vpsctl: node node-z is not a node of this cluster\$" \
        node a migrate 201 --to-node node-z
expect_error "migrate to the node it is on" "VPS 201 is on node node-a already" \
        node a migrate 201 --to-node node-a
rc=0
OUT=$(node a migrate 201 host --to-node node-b 2>&1) || rc=$?
check "migrate takes --to-node or DEST, not both (exit 2: $OUT)" sh -c \
        "test $rc = 2 && echo '$OUT' | grep -q 'to-node takes the place of DEST'"
# Each node built its own busybox: another version.
expect_error "a destination whose template differs is refused without --full" \
        "node node-b has template busybox in version .*, not .* as here .--full carries it along.$" \
        node a migrate 201 --to-node node-b
check "and VPS 201 still runs on node a" ping -c 1 -W 2 "$(IP 1)"

EV_PIDS=
node a events -j >"$T/ev.a" 2>&1 & EV_PIDS+=" $!"
node c events -j >"$T/ev.c" 2>&1 & EV_PIDS+=" $!"
# The drain: node a's VPSes move (to c: the most free RAM), 206 cannot. DRAIN_FROM=b runs it
# from node b (through node a's remote API).
t0=$(date +%s%3N)
rc=0
timeout 120 "$VPSCTL_BIN" --socket "$T/${DRAIN_FROM:-a}.sock" node drain node-a $FAST -j >"$T/drain.json" 2>"$T/drain.err" || rc=$?
t1=$(date +%s%3N)
echo "measured: drain of $((MOVES + 2)) running VPSes${VPS_TEST_FULL:+ (one Debian 12)} ($MOVES moved): $((t1 - t0)) ms"
jq -c '.moved[]? | {id, seconds, stop_seconds, transfer_seconds, start_seconds, bytes, full}' "$T/drain.json" || true
expect_eq "the drain exits 5 (two VPSes could not move)" 5 "$rc"
WANT=$(for i in $MOVED; do echo "20$i"; done | jq -Rsc 'split("\n") | map(select(. != ""))')
expect_jq "the drain reports $MOVES moves to node c and 206, 207 failed" \
        "(.moved | map(.id) | sort) == $WANT"' and all(.moved[]; .node == "node-c" and .running == true and .full == false) and (.failed | map(.id)) == ["206","207"] and (.failed[0].error | test("node node-c already has a VPS 206")) and (.failed[1].error | test("address .* is already used by VPS 206.*VPS 207 runs here again")) and .schedulable == false' \
        cat "$T/drain.json"
[ -z "$FAST" ] || expect_jq "--fast: each stopped without the clean halt (under 2 s)" \
        'all(.moved[]; .stop_seconds < 2)' cat "$T/drain.json"
check "the drain names what could not move" grep -q "2 VPSes could not move off node node-a: 206, 207" "$T/drain.err"
check "and why" grep -q "node node-c already has a VPS 206" "$T/drain.err"
for i in $MOVED; do
        check "VPS 20$i answers ping at its address on node c" ping -c 1 -W 2 "$(IP "$i")"
        expect_eq "etcd says node c owns VPS 20$i" node-c "$(etcd_get "/vps/v1/vps/20$i" | jq -r .node)"
done
if [ -n "${VPS_TEST_FULL:-}" ]; then
        st=$(sysd_state c 208)
        check "Debian VPS 208 boots again on node c (systemd: $st)" grep -qxE 'running|degraded' <<<"$st"
        expect_eq "the file written in 208 before the move is there" before-the-move "$(node c exec 208 -- cat /root/drain-mark)"
fi
expect_eq "node a owns only 206 and 207 in etcd" "/vps/v1/owners/node-a/206 /vps/v1/owners/node-a/207" "$(etcd_keys /vps/v1/owners/node-a/ | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the ips records follow" node-c "$(etcd_get "/vps/v1/ips/$(IP 1)" | jq -r .node)"
# (their status there comes with node c's next sync: wait for it)
MOVED_Q="[.[] | select(.id >= \"201\" and .id <= \"205\" or .id == \"208\")] | length == $MOVES"' and all(.node == "node-c" and .status == "running")'
for _ in $(seq 80); do node b list --all-nodes -j | jq -e "$MOVED_Q" >/dev/null 2>&1 && break; sleep 0.25; done
expect_jq "list --all-nodes shows them on node c" \
        "[.[] | select(.id >= \"201\" and .id <= \"205\" or .id == \"208\")] | length == $MOVES"' and all(.node == "node-c" and .status == "running")' \
        node b list --all-nodes -j
expect_jq "node a has 206 and 207, running" 'map(.id) == ["206","207"] and all(.status == "running")' node a list -a -j
expect_jq "node c runs the $MOVES; its own 206 stays stopped" \
        "(map(select(.status == \"running\") | .id) | sort) == $WANT"' and (map(select(.id == "206"))[0].status == "stopped")' \
        node c list -a -j
check "node a's 206 still answers ping (one running copy)" ping -c 1 -W 2 "$(IP 6)"
check "node a's 207 runs again and answers ping" ping -c 1 -W 2 "$(IP 66)"
check "node c has no 207 (its refused restore left nothing)" sh -c "! '$VPSCTL_BIN' --socket '$T/c.sock' status 207 >/dev/null 2>&1"

# mig FILE ID: VPS ID's migration events there ("phase:to", or "phase:<from").
mig() { jq -r --arg id "$2" 'select(.type == "migration" and .vps == $id) | "\(.phase):\(.to // ("<" + .from))"' "$1" 2>/dev/null | tr '\n' ' '; }
sleep 0.3
for i in $MOVED; do
        expect_eq "node a's events: 20$i's migration to node c started, done" "started:node-c done:node-c " "$(mig "$T/ev.a" "20$i")"
        expect_eq "node c's events: 20$i's migration from node a started, done" "started:<node-a done:<node-a " "$(mig "$T/ev.c" "20$i")"
done
expect_eq "207's failed on both (a: the roll-back; c: its restore)" "started:node-c failed:node-c started:<node-a failed:<node-a " \
        "$(mig "$T/ev.a" 207)$(mig "$T/ev.c" 207)"
expect_eq "206's was refused before it began: no event" "" "$(mig "$T/ev.a" 206)"
expect_error "migrate to a drained node is refused" "node node-a is drained" \
        node c migrate 201 --to-node node-a
# (b lacks the template 201 has on c: busybox in another version; the drain sent none.)
expect_error "from c too, b lacks the template" \
        "node node-b has template busybox in version $V-b, not $V as here" \
        node c migrate 201 --to-node node-b
# One move named, with the template: 201 from c to b (VPS_TEST_FULL=1: a few MB take ~15 s).
if [ -n "${VPS_TEST_FULL:-}" ]; then
        OUT=$(node c migrate 201 --to-node node-b --full -j)
        echo "measured: migrate --full from c to b: $(jq -c . <<<"$OUT")"
        expect_jq "migrate --to-node node-b reports the move" '.node == "node-b" and .running == true and .source == "removed"' echo "$OUT"
        check "VPS 201 answers ping on node b" ping -c 1 -W 2 "$(IP 1)"
        expect_jq "node b runs 201" 'map(.id) == ["201"] and .[0].status == "running"' node b list -a -j
        expect_eq "etcd says node b owns VPS 201" node-b "$(etcd_get /vps/v1/vps/201 | jq -r .node)"
fi
node a node undrain node-a >/dev/null
# No quorum: two etcd members gone, a migration is refused before anything stops.
etcd_kill 2
etcd_kill 3
expect_error "no quorum: migrate refused" "cluster unavailable" node c migrate 202 --to-node node-a
expect_jq "and VPS 202 still runs on node c" 'map(select(.id == "202"))[0].status == "running"' node c list -a -j
finish
