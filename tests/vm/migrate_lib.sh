# Shared by the guest's migration tests (test_migrate_online.sh, test_migrate_tcp.sh), sourced
# after ../integration/lib.sh: what they need (SKIP without it), host B's vpsd and sshd (and
# any PIDs in B_PIDS) stopped at the end, B's client v2, the SSH options of the test's key,
# the busybox template on both vpsds with A's stamp, and the wait for both criu probes.
grep -qw memory "$CG_MOUNT/cgroup.controllers" ||
        { echo "SKIP: not in the VM guest (run this through tests/vm/run)"; exit 77; }
CRIU=${VPS_CRIU:-/usr/local/sbin/criu}
[ -x "$CRIU" ] || { echo "SKIP: no criu at $CRIU (scripts/install-criu)"; exit 77; }
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || { echo "SKIP: no sshd (openssh-server)"; exit 77; }
# `criu check` takes over a minute under TCG: a longer deadline for the probe.
export VPS_CRIU_CHECK_TIMEOUT=400

A_IP=10.$N.9.1 B_IP=10.$N.9.2 PORT=2222 DEST=root@10.$N.9.2:2222
ROOTB=$T/rootb SOCKB=$T/b.sock CGB=$CG_PARENT-b PIDB= SSHD_PID= B_PIDS=
stop_b() {
        [ -z "$B_PIDS" ] || kill $B_PIDS 2>/dev/null || true
        local run2
        run2=$(run_state_dir "$ROOTB")
        stop_daemon "$PIDB" "$CGB"
        [ -z "$SSHD_PID" ] || { kill "$SSHD_PID" 2>/dev/null || true; }
        [ -z "$run2" ] || rm -rf "$run2"
}
trap 'rc=$?; stop_b; cleanup "$rc"' EXIT
v2() { "$VPSCTL_BIN" --socket "$SOCKB" "$@"; }
SSH_OPTS=(--ssh-option "IdentityFile=$T/id" --ssh-option IdentitiesOnly=yes
        --ssh-option "UserKnownHostsFile=$T/known_hosts" --ssh-option StrictHostKeyChecking=yes
        --ssh-option ServerAliveInterval=5 --ssh-option ServerAliveCountMax=6
        --ssh-option ConnectTimeout=10)

# busybox_both: the template built by both vpsds; the same busybox, stamped at each build:
# B's gets A's stamp (one template repository).
busybox_both() {
        vpsctl template build busybox >/dev/null
        v2 template build busybox >/dev/null
        local va
        va=$(jq -r .version "$ROOT/templates/busybox/meta.json")
        jq --arg v "$va" '.version = $v' "$ROOTB/templates/busybox/meta.json" >"$T/meta.json"
        cp "$T/meta.json" "$ROOTB/templates/busybox/meta.json"
}

# probes_done: waits for both vpsds' criu probes, which must say available.
probes_done() {
        local who sock s
        for who in A B; do
                sock=$SOCK
                [ $who = A ] || sock=$SOCKB
                for _ in $(seq 4000); do
                        s=$("$VPSCTL_BIN" --socket "$sock" version -j | jq -r .server.checkpoint.state)
                        [ "$s" != probing ] && break
                        sleep 0.1
                done
                expect_eq "vpsd $who's probe says checkpointing is available" available "$s"
        done
}
