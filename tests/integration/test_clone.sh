#!/usr/bin/env bash
# vpsctl clone (issue 17): the copy is exact but for its new identity (compared by a manifest
# of every file with owners, ACL ids and file capabilities moved into the new id range); no
# machine-id, ssh host keys, addresses; a running source is frozen for the copy only; bad
# input refused; a large clone, snapshot and switch are copied beside vpsd's loop (a list
# answers meanwhile); a
# kill -9 of vpsd mid-clone leaves no clone and no debris.
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

# A large clone runs beside the loop (a child copies, the POST is answered when it ends):
# a list answers within a second meanwhile, and both VPSes are busy until it ends.
python3 -c 'import os, sys
for i in range(100):
    d = "%s/big/d%d" % (sys.argv[1], i); os.makedirs(d)
    for j in range(300):
        open("%s/f%d" % (d, j), "w").write("%d %d\n" % (i, j) * 64)
with open(sys.argv[1] + "/big/blob", "wb") as f:
    for _ in range(256):
        f.write(os.urandom(1 << 20))' "$ROOT/vps/101/upper"
t0=$(date +%s%N)
vpsctl clone 101 105 >"$T/clone105.out" 2>&1 &
cloner=$!
for _ in $(seq 400); do [ -e "$ROOT/vps/.clone-105" ] && break; sleep 0.005; done
t1=$(date +%s%N)
vpsctl list >/dev/null
t2=$(date +%s%N)
under_way=no
[ -e "$ROOT/vps/.clone-105" ] && under_way=yes
busy=$(vpsctl start 105 2>&1 || true)
rc=0
wait "$cloner" || rc=$?
t3=$(date +%s%N)
list_ms=$(((t2 - t1) / 1000000))
expect_eq "the large clone succeeds ($(cat "$T/clone105.out"), $(((t3 - t0) / 1000000)) ms)" 0 "$rc"
expect_eq "it was still under way after the list (positive control)" yes "$under_way"
check "a list answered within 1000 ms meanwhile (took $list_ms)" test "$list_ms" -lt 1000
check "the new VPS could not be started meanwhile ($busy)" grep -q "busy" <<<"$busy"
check "the clone is published" test -d "$ROOT/vps/105/upper/big/d99"
expect_eq "with every file" "$(find "$ROOT/vps/101/upper/big" | wc -l)" "$(find "$ROOT/vps/105/upper/big" | wc -l)"
vpsctl destroy 105 >/dev/null
# The same for a snapshot of it (running: frozen for the catch-up only) and a switch back to
# it (the VPS stopped; vpsctl starts it again): each copy runs in a child.
# timed_list_during WHAT PATTERN CMD...: CMD in the background; a list while its copy
# (PATTERN under vps/101) is still there.
timed_list_during() {
        local what=$1 pat=$2 pid rc=0 ms t1 t2 seen=no
        shift 2
        "$@" >"$T/during.out" 2>&1 &
        pid=$!
        for _ in $(seq 400); do compgen -G "$ROOT/vps/101/$pat" >/dev/null && break; sleep 0.005; done
        t1=$(date +%s%N)
        vpsctl list >/dev/null
        t2=$(date +%s%N)
        ! compgen -G "$ROOT/vps/101/$pat" >/dev/null || seen=yes
        wait "$pid" || rc=$?
        ms=$(((t2 - t1) / 1000000))
        expect_eq "$what succeeds ($(cat "$T/during.out"))" 0 "$rc"
        expect_eq "$what: its copy was still under way after the list (positive control)" yes "$seen"
        check "$what: a list answered within 1000 ms meanwhile (took $ms)" test "$ms" -lt 1000
}
timed_list_during "a large snapshot" "snapshots/.tmp-big" vpsctl snapshot 101 --name big
check "the snapshot holds the large tree" test -d "$ROOT/vps/101/snapshots/big/upper/big/d99"
rm -rf "$ROOT/vps/101/upper/big"
timed_list_during "a switch to the large snapshot" ".switch-upper" vpsctl snapshot-switch 101 big
check "the VPS has the large tree back" test -d "$ROOT/vps/101/upper/big/d99"
expect_eq "and runs again" running "$(vps_field 101 status)"
vpsctl snapshot-delete 101 big >/dev/null
rm -rf "$ROOT/vps/101/upper/big"

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
finish
