#!/usr/bin/env bash
# vpsctl migrate ID DEST (offline) between two "hosts": two network namespaces joined by a veth
# pair (the wire), each with its own vpsd (own root, socket, cgroup parent; the same bridge
# name and subnet, as two hosts of one provider have, so the destination's vpsd gets claims of
# its own in a mount namespace; lib.sh's migrate_hosts) and the destination with its own
# sshd, which accepts only a
# key the test made. A running busybox VPS with a file and an address moves and answers there;
# a stopped one moves stopped; an ID taken there, a wire cut mid-transfer, a kill -9 of vpsctl,
# no space there (B's root on a loop ext4, filled) and a bad DEST leave the source as it was
# (running) and nothing on the destination. --keep-src's copy refuses to start without --force.
# A neighbour on B's bridge learns each moved address at its first start there (announced).
# A subscriber to each vpsd's events (vpsctl events -j) sees "migration" events: started and
# done for a move (to DEST on A, from A's hostname on B), failed for a refused one.
# VPS_TEST_FULL=1 also times a 1 GiB upper layer against the wire (ssh cat of 1 GiB);
# VPS_MIGRATE_RATE (a tc rate: 1gbit) shapes the wire A->B first, as a real link between two
# hosts is (here both "hosts" share two CPUs, so an unshaped veth is as fast as ssh's cipher).
NET_TEST=1
. "$(dirname "$0")/lib.sh"
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || { echo "SKIP: no sshd (openssh-server; scripts/install-deps)"; rm -rf "$T"; exit 77; }

migrate_hosts 1536M
# Each side's event stream.
vpsctl events -j >"$T/ev.a" 2>&1 & EV_PIDS+=" $!"
v2 events -j >"$T/ev.b" 2>&1 & EV_PIDS+=" $!"
SELF=$(hostname)
# mig FILE ID: VPS ID's migration events there, "phase:to" (A) or "phase:<from" (B).
mig() { jq -r --arg id "$2" 'select(.type == "migration" and .vps == $id) | "\(.phase):\(.to // ("<" + .from))"' "$1" 2>/dev/null | tr '\n' ' '; }
# expect_mig WHAT FILE ID WANT: waits a little for the events, then compares.
expect_mig() {
        for _ in $(seq 30); do [ "$(mig "$2" "$3")" = "$4" ] && break; sleep 0.1; done
        expect_eq "$1" "$4" "$(mig "$2" "$3")"
}

# A neighbour on B's bridge (a host on B's segment) holds stale entries at a wrong MAC for the
# addresses that move: only the announcement of the VPS's first start there (gratuitous ARP,
# from the migration's mark) sets them right, since nothing else is sent to it.
b_neighbour "$NETPFX.5" "$NETPFX.6"
nb_learns() {
        for _ in $(seq 20); do [ "$(nb_mac "$2")" = "$3" ] && break; sleep 0.1; done
        expect_eq "$1" "$3" "$(nb_mac "$2")"
}

check "the wire and B's sshd answer (the test's key)" in_a ssh -o BatchMode=yes \
        -o "IdentityFile=$T/id" -o "UserKnownHostsFile=$T/known_hosts" -p "$PORT" "root@$B_IP" true

# --- a running VPS with a file and an address --------------------------------------------------
vpsctl create 101 --ostemplate busybox --hostname mover --ipadd "$NETPFX.5" >/dev/null
vpsctl start 101 >/dev/null
vpsctl exec 101 -- sh -c 'echo written-inside >/root/note'
check "the source's VPS answers ping on host A" in_a ping -c1 -W2 "$NETPFX.5"
OUT=$(migrate 101 "$DEST" $FULL -j) || fail "migrate 101: $OUT"
expect_eq "it says it migrated a running VPS and removed it here" "true removed" \
        "$(jq -r '"\(.running) \(.source)"' <<<"$OUT")"
check "it counts bytes and time" jq -e '.bytes > 0 and .seconds > 0 and .downtime_seconds > 0' <<<"$OUT"
expect_eq "it runs on B" running "$(v2 status 101 -j | jq -r .status)"
expect_eq "with the file written inside" written-inside "$(v2 exec 101 -- cat /root/note)"
expect_eq "its hostname" mover "$(v2 exec 101 -- hostname)"
expect_eq "and its address" "$NETPFX.5" "$(v2 status 101 -j | jq -r '.ip | join(",")')"
nb_learns "B's segment learns its address at its MAC there (announced)" "$NETPFX.5" \
        "$(v2 exec 101 -- cat /sys/class/net/eth0/address)"
check "B took the mark away" test ! -e "$ROOTB/vps/101/announce"
check "which answers ping from B's namespace" in_b ping -c2 -W2 "$NETPFX.5"
expect_error "it is gone from A" "VPS 101|101" vpsctl status 101
check "no files of it left on A" test ! -e "$ROOT/vps/101"
expect_mig "A's events: 101's migration to B started and done" "$T/ev.a" 101 "started:$DEST done:$DEST "
expect_mig "B's events: 101's migration from A started and done" "$T/ev.b" 101 "started:<$SELF done:<$SELF "

# --- a stopped one moves stopped; the text report ------------------------------------------------
vpsctl create 102 --ostemplate busybox --ipadd "$NETPFX.6" >/dev/null
OUT=$(migrate 102 "$DEST" $FULL) || fail "migrate 102: $OUT"
check "the report names the destination and the time" grep -qE "^VPS 102 migrated to $DEST in [0-9.]+ s: [0-9.]+ (kB|MB) sent in .*; removed here\$" <<<"$OUT"
expect_eq "it is stopped on B" stopped "$(v2 status 102 -j | jq -r .status)"
check "gone from A" not vpsctl status 102
check "B keeps its mark until it starts there" test -e "$ROOTB/vps/102/announce"
sleep 1
expect_eq "so far B's segment holds the old entry for it" "$WRONG" "$(nb_mac "$NETPFX.6")"
v2 start 102 >/dev/null
nb_learns "its first start on B announces it" "$NETPFX.6" "$(v2 exec 102 -- cat /sys/class/net/eth0/address)"
v2 stop 102 >/dev/null

# --- faults ------------------------------------------------------------------------------------
# The ID taken there: refused before anything stops; both stay as they are.
vpsctl create 103 --ostemplate busybox --hostname src103 >/dev/null
vpsctl start 103 >/dev/null
v2 create 103 --ostemplate busybox --hostname theirs >/dev/null
PID103=$(vps_field 103 pid)
expect_error "an ID taken on B is refused" "already has a VPS 103: nothing done" migrate 103 "$DEST" $FULL
expect_eq "the source's 103 runs on, the same init" "running $PID103" \
        "$(vps_field 103 status) $(vps_field 103 pid)"
expect_eq "B's own 103 untouched" "stopped theirs" "$(v2 status 103 -j | jq -r '"\(.status) \(.hostname)"')"

# A bad DEST: one line, exit 2; an unreachable one: refused, nothing stopped.
expect_error "a bad DEST: one line, nothing run" "^vpsctl: bad destination 'root@-oProxyCommand=x': \\[user@\\]host\\[:port\\] expected\$" \
        migrate 103 'root@-oProxyCommand=x'
check "exit 2 for it" sh -c "\"$VPSCTL_BIN\" --socket \"$SOCK\" migrate 103 'a b'; [ \$? = 2 ]"
expect_error "no sshd at DEST" "^vpsctl: ssh root@$B_IP:2223: " migrate 103 "root@$B_IP:2223"
expect_eq "still running, the same init" "running $PID103" "$(vps_field 103 status) $(vps_field 103 pid)"

# --online: refused naming vpsd's checkpoint probe (this host cannot checkpoint).
WHY=$(vpsctl version -j | jq -r '.server.checkpoint.why // empty')
if [ "$(vpsctl version -j | jq -r '.server.checkpoint.available')" != true ] && [ -n "$WHY" ]; then
        expect_error "--online is refused with vpsd's reason" \
                "^vpsctl: --online needs checkpointing \\(CRIU\\), which this host's vpsd says is not available: " \
                migrate 103 "$DEST" --online
        OUT=$(vpsctl migrate 103 x --online 2>&1) || true
        check "the reason is the probe's" grep -qF -- "$WHY" <<<"$OUT"
        expect_eq "nothing touched: 103 runs on, the same init" "running $PID103" \
                "$(vps_field 103 status) $(vps_field 103 pid)"
        expect_eq "B's own 103 untouched" "stopped theirs" \
                "$(v2 status 103 -j | jq -r '"\(.status) \(.hostname)"')"
fi

# No debris on B: no VPS ID and no restore's staging files.
no_debris() { ! v2 status "$1" >/dev/null 2>&1 && ! ls -a "$ROOTB/vps" | grep -q -- "$1"; }
wait_no_debris() { for _ in $(seq 100); do no_debris "$1" && return 0; sleep 0.3; done; return 1; }
big_vps() { # big_vps ID IP MB: running, with MB of random data in its upper layer
        vpsctl create "$1" --ostemplate busybox --ipadd "$2" >/dev/null
        vpsctl start "$1" >/dev/null
        vpsctl exec "$1" -- dd if=/dev/urandom of=/big bs=1M count="$3" 2>/dev/null
}
wait_sending() { # until B's vpsd has a restore of ID under way
        for _ in $(seq 200); do ls -a "$ROOTB/vps" | grep -q "restore-$1" && return 0; sleep 0.05; done
        return 1
}

# The wire cut mid-transfer.
big_vps 104 "$NETPFX.7" 400
migrate 104 "$DEST" $FULL >"$T/m104.out" 2>&1 </dev/null &
MPID=$!
wait_sending 104 || fail "no restore of 104 began on B"
ip -n "$NSA" link set "$WA" down
wait "$MPID" && fail "migrate 104 succeeded across a cut wire" || true
ip -n "$NSA" link set "$WA" up
check "it said why and that the source runs again" grep -qE "VPS 104 runs here again" "$T/m104.out"
expect_eq "104 runs on A again" running "$(vps_field 104 status)"
check "with its data" vpsctl exec 104 -- test -s /big
check "and nothing of it left on B (its half restore removed)" wait_no_debris 104

# kill -9 of vpsctl mid-transfer: its guard starts the source again; B drops the half restore.
big_vps 105 "$NETPFX.8" 300
nsenter --net="/run/netns/$NSA" "$VPSCTL_BIN" --socket "$SOCK" migrate 105 "$DEST" $FULL "${SSH_OPTS[@]}" \
        --remote-vpsctl "$VPSCTL_BIN" --remote-socket "$SOCKB" </dev/null >/dev/null 2>&1 &
MPID=$!
wait_sending 105 || fail "no restore of 105 began on B"
kill -9 "$MPID" 2>/dev/null || true
wait "$MPID" 2>/dev/null || true
check "after kill -9 of vpsctl, 105 runs on A again" sh -c "for i in \$(seq 100); do [ \"\$(\"$VPSCTL_BIN\" --socket \"$SOCK\" status 105 -j | jq -r .status)\" = running ] && exit 0; sleep 0.2; done; exit 1"
check "and nothing of it is left on B" wait_no_debris 105
check "it never ran on both: not on B" not v2 status 105

# --keep-src: the source kept, stopped, onboot off.
vpsctl create 106 --ostemplate busybox --onboot yes >/dev/null
vpsctl start 106 >/dev/null
check "--keep-src migrates" migrate 106 "$DEST" $FULL --keep-src
expect_eq "106 runs on B" running "$(v2 status 106 -j | jq -r .status)"
expect_eq "and is kept stopped on A, onboot off, marked migrated to B" "stopped false $DEST" \
        "$(vpsctl status 106 -j | jq -r '"\(.status) \(.onboot) \(.migrated_to)"')"
expect_error "start of the kept copy is refused, one line" \
        "^vpsctl: VPS 106 was migrated to $DEST and kept here stopped \\(its copy there may run\\): start --force starts it here anyway\$" \
        vpsctl start 106
check "with exit 6 (refused)" sh -c "\"$VPSCTL_BIN\" --socket \"$SOCK\" start 106 2>/dev/null; [ \$? = 6 ]"
expect_error "restart of it too" "was migrated to" vpsctl restart 106
expect_eq "it stays stopped" stopped "$(vps_field 106 status)"
check "start --force starts it" vpsctl start 106 --force
expect_eq "and forgets the mark" "running null" \
        "$(vpsctl status 106 -j | jq -r '"\(.status) \(.migrated_to)"')"
check "config.json has no migrated_to left" not grep -q migrated_to "$ROOT/vps/106/config.json"
vpsctl stop --fast 106 >/dev/null

# No space on B: its restore fails with ENOSPC; the source runs on, nothing left on either side.
big_vps 109 "$NETPFX.9" 64
AVAIL=$(df -B1 --output=avail "$ROOTB" | tail -n1)
fallocate -l $((AVAIL - 24 * 1024 * 1024)) "$ROOTB/filler"
expect_error "no space on B: one line naming it, the source runs again" \
        "^vpsctl: the restore on $DEST: .*No space left on device.*; VPS 109 runs here again\$" \
        migrate 109 "$DEST" $FULL
expect_eq "109 runs on A (started again) with its data" "running ok" \
        "$(vps_field 109 status) $(vpsctl exec 109 -- sh -c 'test -s /big && echo ok')"
check "nothing of it left on B" wait_no_debris 109
expect_mig "A's events: 109's migration started and failed (no space there)" "$T/ev.a" 109 "started:$DEST failed:$DEST "
expect_mig "B's events: 109's restore started and failed" "$T/ev.b" 109 "started:<$SELF failed:<$SELF "
check "no debris on A (only the VPS's own files)" \
        test -z "$(ls -A "$ROOT/vps" | grep '^\.' || true)"
rm -f "$ROOTB/filler"

# A template B lacks: the restore there refuses naming it (nothing stopped for long, nothing
# left); --full carries it along as template restored-ID.
mkdir -p "$T/tiny/bin" "$T/tiny/etc" "$T/tiny/sbin"
cp "$(command -v busybox)" "$T/tiny/bin/busybox"
ln -s busybox "$T/tiny/bin/sh"
ln -s ../bin/busybox "$T/tiny/sbin/init"
printf 'ID=tiny\nNAME=tiny\n' >"$T/tiny/etc/os-release"
tar -C "$T/tiny" -czf "$T/tiny.tar.gz" .
vpsctl template import tiny "$T/tiny.tar.gz" >/dev/null
vpsctl create 108 --ostemplate tiny >/dev/null
expect_error "a template B lacks is refused, named" "^vpsctl: the restore on $DEST: .*needs template tiny version .*, which this host does not have .*; VPS 108 stays here\$" \
        migrate 108 "$DEST"
check "108 is still on A" vpsctl status 108
check "nothing of it on B" wait_no_debris 108
expect_mig "A's events: 108's migration (stopped) started and failed (refused there)" "$T/ev.a" 108 "started:$DEST failed:$DEST "
check "--full carries the template" migrate 108 "$DEST" --full
expect_eq "108 is on B, on template restored-108" "stopped restored-108" \
        "$(v2 status 108 -j | jq -r '"\(.status) \(.ostemplate)"')"

# --- an online migration's stream (restore - ID --checkpoint: the archive, then the images)
# is checked as any hostile archive. This host cannot checkpoint, but B's restore of one can
# be fed by hand: a stopped VPS's backup, then image frames ("NAME\0BYTES"), then 'Z'.
vpsctl create 191 --ostemplate busybox >/dev/null
vpsctl backup 191 --to "$T/191.bk" >/dev/null
# ckpt_stream ARCHIVE [NAME=TEXT]... [--cut]: the frames (type, 32-bit big-endian length, body)
ckpt_stream() {
        python3 - "$@" <<'PY'
import os, struct, sys
out = sys.stdout.buffer
def frame(t, body):
        try:
                out.write(t + struct.pack(">I", len(body)) + body)
                out.flush()
        except BrokenPipeError: # the reader refused the stream: that is its answer
                os._exit(0)
data = open(sys.argv[1], "rb").read()
for i in range(0, len(data), 1 << 20):
        frame(b"D", data[i:i + (1 << 20)])
cut = False
for a in sys.argv[2:]:
        if a == "--cut":
                cut = True
                continue
        name, text = a.split("=", 1)
        frame(b"C", name.encode() + b"\0" + text.encode())
if not cut:
        frame(b"Z", b"")
PY
}
ck_restore() { v2 restore - 150 --checkpoint --migrated-from testsrc; }
ck_bad_name() { ckpt_stream "$T/191.bk" vpsd.json={} ../evil.img=x | ck_restore; }
ck_twice() { ckpt_stream "$T/191.bk" a.img=1 vpsd.json={} a.img=2 | ck_restore; }
ck_no_meta() { ckpt_stream "$T/191.bk" a.img=1 | ck_restore; }
ck_cut() { ckpt_stream "$T/191.bk" vpsd.json={} --cut | ck_restore; }
expect_error "images: a name with a path is refused" \
        "^vpsctl: the checkpoint images: refused: an image with a bad name" ck_bad_name
check "nothing of it on B" wait_no_debris 150
expect_error "images: a name sent twice is refused" \
        "^vpsctl: the checkpoint images: refused: image a.img: File exists" ck_twice
expect_error "images: not whole without vpsd.json" \
        "^vpsctl: the checkpoint images: refused: the images are not whole" ck_no_meta
expect_error "images: a stream cut before its end" \
        "^vpsctl: the migration's stream ended early \\(cut\\)" ck_cut
OUT=$(v2 restore - 150 --checkpoint </dev/null 2>&1) && fail "restore --checkpoint without --migrated-from: exit 0"
check "--checkpoint needs '-' and --migrated-from" grep -q "^vpsctl: --checkpoint needs FILE '-' and --migrated-from" <<<"$OUT"
check "nothing of it on B" wait_no_debris 150
# A whole one: restored suspended, its images root's in a 0700 directory; start refuses it.
ckpt_stream "$T/191.bk" vpsd.json='{"tty": "tty[0:0]", "externals": []}' core-1.img=x | ck_restore >/dev/null ||
        fail "a whole checkpoint stream is refused"
expect_eq "restored suspended" suspended "$(v2 status 150 -j | jq -r .status)"
expect_eq "its images: root's, 0700; each 0644" "root 700 644" \
        "$(stat -c '%U %a' "$ROOTB/vps/150/checkpoint") $(stat -c %a "$ROOTB/vps/150/checkpoint/core-1.img")"
expect_error "start refuses it" "suspended" v2 start 150
v2 destroy 150 --force >/dev/null || fail "destroy of the suspended 150"

if [ "${VPS_TEST_FULL:-0}" = 1 ]; then
        # 1 GiB: the wire (ssh cat to /dev/null over the same path) vs an offline migration.
        vpsctl create 107 --ostemplate busybox >/dev/null
        vpsctl start 107 >/dev/null
        vpsctl exec 107 -- dd if=/dev/urandom of=/big bs=1M count=1024 2>/dev/null
        vpsctl stop 107 >/dev/null
        if [ -n "${VPS_MIGRATE_RATE:-}" ]; then
                in_a tc qdisc add dev "$WA" root tbf rate "$VPS_MIGRATE_RATE" burst 1mb latency 50ms ||
                        fail "tc: shaping the wire at $VPS_MIGRATE_RATE"
        fi
        S0=$(date +%s.%N)
        # VPS_MIGRATE_CIPHER: an ssh cipher for both (e.g. aes128-gcm@openssh.com).
        C=${VPS_MIGRATE_CIPHER:-}
        SSH_OPTS+=(${C:+--ssh-option "Ciphers=$C"})
        head -c 1073741824 /dev/zero | in_a ssh ${C:+-o "Ciphers=$C"} -o BatchMode=yes -o "IdentityFile=$T/id" \
                -o "UserKnownHostsFile=$T/known_hosts" -p "$PORT" "root@$B_IP" 'cat >/dev/null'
        WIRE=$(echo "1073741824 / ($(date +%s.%N) - $S0) / 1000000" | bc -l)
        OUT=$(migrate 107 "$DEST" $FULL -j)
        MIG=$(jq -r '.bytes / .seconds / 1000000' <<<"$OUT")
        printf 'bench: wire%s (ssh cat 1 GiB) %.0f MB/s; migrate 1 GiB upper: %s bytes in %s s = %.0f MB/s; ratio %.0f%%\n' \
                "${VPS_MIGRATE_RATE:+ shaped at $VPS_MIGRATE_RATE}" "$WIRE" "$(jq .bytes <<<"$OUT")" "$(jq .seconds <<<"$OUT")" "$MIG" \
                "$(echo "100 * $MIG / $WIRE" | bc -l)"
        echo "bench: $(jq -c '{seconds, stop_seconds, transfer_seconds, start_seconds}' <<<"$OUT")"
        # The same pipeline without ssh (B's backup piped into a restore on A): its own ceiling.
        S0=$(date +%s.%N)
        v2 backup 107 --to - | vpsctl restore - 107 -j >/dev/null
        printf 'bench: backup | restore without ssh: %.0f MB/s\n' \
                "$(echo "$(jq .bytes <<<"$OUT") / ($(date +%s.%N) - $S0) / 1000000" | bc -l)"
fi
finish
