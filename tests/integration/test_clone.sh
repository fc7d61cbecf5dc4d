#!/usr/bin/env bash
# vpsctl clone (issue 17): the copy is exact but for its new identity (compared by a manifest
# of every file with owners, ACL ids and file capabilities moved into the new id range); no
# machine-id, ssh host keys, addresses; a running source is frozen for the copy only; bad
# input refused; a kill -9 of vpsd mid-clone leaves no clone and no debris.
. "$(dirname "$0")/lib.sh"
MANIFEST="python3 $(dirname "$0")/tree_manifest.py"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox --hostname src.example >/dev/null
b1=$(vps_field 101 uid_base)
U1=$ROOT/vps/101/upper
$MANIFEST populate "$U1" "$b1"
mkdir -p "$U1/etc/ssh"
echo 0123456789abcdef0123456789abcdef >"$U1/etc/machine-id"
echo KEY >"$U1/etc/ssh/ssh_host_ed25519_key"
echo PUB >"$U1/etc/ssh/ssh_host_ed25519_key.pub"
echo keep >"$U1/etc/ssh/sshd_config"
# a namespaced file capability (VFS_CAP_REVISION_3), its root id the VPS's root
python3 -c 'import os, struct, sys
p = sys.argv[1] + "/srv/nscap"; open(p, "w").write("x"); os.chown(p, int(sys.argv[2]), int(sys.argv[2]))
os.setxattr(p, "security.capability", struct.pack("<IIIIII", 0x03000001, 1 << 10, 0, 0, 0, int(sys.argv[2])))' "$U1" "$b1"
chown -R "$b1:$b1" "$U1/etc/ssh" "$U1/etc/machine-id"
touch -d @1500000000 "$U1/etc" "$U1/etc/ssh"

expect_jq "clone of a stopped VPS" \
        '.id == "102" and .hostname == "c.example" and .status == "stopped" and (.ip | length) == 0 and .frozen_ms == 0' \
        vpsctl clone 101 102 --hostname c.example -j
b2=$(vps_field 102 uid_base)
U2=$ROOT/vps/102/upper
check "a new id range" test "$b2" != "$b1"
# What must differ: the identity files, and the mtimes of the directories they left.
ident="^b'etc' |^b'etc/ssh' |^b'etc/machine-id' |^b'etc/ssh/ssh_host_"
$MANIFEST manifest "$U1" --shift "$b1:$b2" | grep -Ev "$ident" >"$T/want"
check "the clone's files are the source's in the new range (manifest)" \
        sh -c "$MANIFEST manifest '$U2' | grep -Ev \"$ident\" | diff '$T/want' -"
check "the namespaced capability's root id moved to the new range" \
        python3 -c 'import os, struct, sys
v = os.getxattr(sys.argv[1], "security.capability")
sys.exit(0 if len(v) == 24 and struct.unpack("<I", v[20:])[0] == int(sys.argv[2]) else 1)' "$U2/srv/nscap" "$b2"
check "no machine-id, no ssh host keys in the clone" \
        sh -c "[ ! -e '$U2/etc/machine-id' ] && ! ls '$U2/etc/ssh' | grep -q ssh_host_ && [ -e '$U2/etc/ssh/sshd_config' ]"
check "the source keeps its own" test -e "$U1/etc/ssh/ssh_host_ed25519_key"
check "no clone debris" sh -c "! ls -A '$ROOT/vps' | grep -q '^\\.clone'"

vpsctl start 102 >/dev/null
expect_eq "the clone runs under its hostname" c.example "$(vpsctl exec 102 -- hostname)"
expect_eq "its files are owned inside as in the source" "33 hello snapshot" \
        "$(vpsctl exec 102 -- sh -c 'stat -c %u /srv/www/index.html; cat /etc/hello' | tr '\n' ' ' | sed 's/ $//')"
vpsctl stop 102 --fast >/dev/null

# A running source: frozen for the copy, then running on.
vpsctl start 101 >/dev/null
expect_jq "clone of a running VPS is frozen for the copy" '.frozen_ms > 0 and .status == "stopped"' \
        vpsctl clone 101 103 -j
expect_jq "the source runs on" '.status == "running"' vpsctl status 101 -j
check "thawed" sh -c "grep -qx 'frozen 0' '$CG_MOUNT$CG_PARENT/101/cgroup.events'"

expect_error "a clone onto an existing VPS" "already exists" vpsctl clone 101 102
expect_error "a bad new ID" "ID|invalid|must" vpsctl clone 101 'a/b'
expect_error "no such source" "VPS 999 does not exist" vpsctl clone 999 104
check "nothing made by the refusals" sh -c "[ \"\$(ls '$ROOT/vps' | sort | tr '\\n' ' ')\" = '101 102 103 ' ]"

# kill -9 of vpsd in the middle of a clone: after the restart no clone and no debris.
python3 -c 'import os, sys
for i in range(40):
    d = "%s/many/d%d" % (sys.argv[1], i); os.makedirs(d)
    for j in range(50):
        open("%s/f%d" % (d, j), "w").write("%d %d\n" % (i, j))' "$ROOT/vps/101/upper"
vpsctl clone 101 104 >/dev/null 2>&1 &
for _ in $(seq 400); do [ -e "$ROOT/vps/.clone-104" ] && break; sleep 0.005; done
check "the clone was under way" test -e "$ROOT/vps/.clone-104"
kill_vpsd
wait || true
start_vpsd
check "no clone debris after the restart" sh -c "! ls -A '$ROOT/vps' | grep -q '104'"
expect_error "and no VPS 104" "does not exist" vpsctl status 104
expect_jq "the source still runs, thawed" '.status == "running"' vpsctl status 101 -j
check "thawed after the restart" sh -c "grep -qx 'frozen 0' '$CG_MOUNT$CG_PARENT/101/cgroup.events'"
# A backup, a snapshot and a clone racing a stop of the same running VPS (twice: all at once,
# then the stop a moment later): each one completes consistently or is refused with one clear
# line and leaves nothing; the VPS ends stopped (a refused stop done again after) with its
# files intact; no debris: no temporaries, no mounts left, no frozen cgroup.
# (atimes aside: reading the files is what a backup, a snapshot and a clone do)
mf_noatime() { $MANIFEST manifest "$1" | sed 's/ atime=[0-9]*//'; }
export -f mf_noatime
export MANIFEST
mf_noatime "$U1" >"$T/mrace"
nfiles=$(find "$U1" | wc -l)
race_stop() { # N STOP_DELAY
        local n=$1 rb rs rc rt
        vpsctl start 101 >/dev/null 2>&1 || true
        local cg
        cg=$(jq -r .cgroup "$(state_file 101)")
        set +e
        vpsctl backup 101 --to "$T/race$n.tar.zst" >/dev/null 2>"$T/rb$n" & local pb=$!
        vpsctl snapshot 101 --name "race$n" >/dev/null 2>"$T/rs$n" & local ps=$!
        vpsctl clone 101 "2$n" >/dev/null 2>"$T/rc$n" & local pc=$!
        sleep "$2"
        vpsctl stop 101 --fast >/dev/null 2>"$T/rt$n" & local pt=$!
        wait $pb; rb=$?; wait $ps; rs=$?; wait $pc; rc=$?; wait $pt; rt=$?
        set -e
        local refusal='busy|is stopping|is not running|is stopped|try again'
        refused() { [ "$(wc -l <"$1")" = 1 ] && grep -qE "$refusal" "$1"; }
        [ "$rt" = 0 ] || vpsctl stop 101 --fast >/dev/null 2>&1 || true
        check "race $n: the stop went through or was refused clearly ($rt: $(cat "$T/rt$n"))" \
                sh -c "[ $rt = 0 ] || grep -qE '$refusal' '$T/rt$n'"
        expect_jq "race $n: the VPS ends stopped" '.status == "stopped"' vpsctl status 101 -j
        check "race $n: its files intact (manifest)" bash -c "mf_noatime '$U1' | diff '$T/mrace' -"
        if [ "$rb" = 0 ]; then
                local got
                got=$(zstd -dc "$T/race$n.tar.zst" | tar -tf - 2>/dev/null | grep -ac '^upper/')
                expect_eq "race $n: the backup completed, whole (every entry)" "$nfiles" "$got"
        else
                check "race $n: the backup was refused clearly ($(cat "$T/rb$n"))" refused "$T/rb$n"
                check "race $n: and left no file" not sh -c "ls -A '$T' | grep -q '^race$n\\.tar\\|\\.part-'"
        fi
        if [ "$rs" = 0 ]; then
                check "race $n: the snapshot completed, exact (manifest)" \
                        bash -c "mf_noatime '$ROOT/vps/101/snapshots/race$n/upper' | diff '$T/mrace' -"
        else
                check "race $n: the snapshot was refused clearly ($(cat "$T/rs$n"))" refused "$T/rs$n"
                check "race $n: and none made" test ! -e "$ROOT/vps/101/snapshots/race$n"
        fi
        if [ "$rc" = 0 ]; then
                check "race $n: the clone completed, whole ($nfiles entries)" \
                        sh -c "[ \$(find '$ROOT/vps/2$n/upper' | wc -l) -ge $((nfiles - 4)) ]"
        else
                check "race $n: the clone was refused clearly ($(cat "$T/rc$n"))" refused "$T/rc$n"
                check "race $n: and none made" not vpsctl status "2$n"
        fi
        check "race $n: no debris (temporaries, captures, mounts)" sh -c \
                "! ls -A '$ROOT/vps' '$ROOT/vps/101' '$ROOT/vps/101/snapshots' | grep -q '^\\.' && ! grep -q ' $ROOT/vps/' /proc/self/mountinfo"
        check "race $n: no frozen cgroup left" sh -c "[ ! -e '$cg' ] || grep -qx 'frozen 0' '$cg/cgroup.events'"
}
race_stop 1 0
race_stop 2 0.1
finish
