#!/usr/bin/env bash
# vpsctl reinstall (issue 17): a fresh root from the template, the ID, hostname and settings
# kept, the old root kept exactly as a snapshot (compared by a manifest of every file) unless
# --no-keep; a running VPS is stopped and started and told so; bad input changes nothing; a
# reinstall cut short after its commit point is finished by the next vpsd.
. "$(dirname "$0")/lib.sh"
MANIFEST="python3 $(dirname "$0")/tree_manifest.py"
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 101 --ostemplate busybox --hostname keep.example >/dev/null
base=$(vps_field 101 uid_base)
V=$ROOT/vps/101
$MANIFEST populate "$V/upper" "$base"
$MANIFEST manifest "$V/upper" >"$T/m1"
cfg_before=$(jq -S 'del(.ostemplate)' "$V/config.json")

expect_error "an unknown template changes nothing" "nosuch" vpsctl reinstall 101 --ostemplate nosuch
expect_error "a bad password spec changes nothing" "userpasswd|USER:PASSWORD|user" vpsctl reinstall 101 --userpasswd nocolon
check "the root is untouched" sh -c "$MANIFEST manifest '$V/upper' | diff '$T/m1' -"

out=$(vpsctl reinstall 101 --userpasswd root:s3cret -j)
snap=$(jq -r .snapshot <<<"$out")
expect_jq "reinstalled, the old root kept as a snapshot" \
        '.reinstalled and (.snapshot | startswith("reinstall-")) and (.restarted | not)' printf '%s' "$out"
check "the kept snapshot is the old root exactly (manifest)" \
        sh -c "$MANIFEST manifest '$V/snapshots/$snap/upper' | diff '$T/m1' -"
check "the new root holds only the new password" sh -c "[ \"\$(cd '$V/upper' && find . -type f | sort | tr '\\n' ' ')\" = './etc/shadow ' ]"
check "the password is set" grep -q '^root:\$' "$V/upper/etc/shadow"
expect_eq "hostname, addresses, limits, id range kept" "$cfg_before" "$(jq -S 'del(.ostemplate)' "$V/config.json")"
check "no debris" sh -c "! ls -A '$V' '$V/snapshots' | grep -q '^\\.\\|reinstall.json'"
expect_jq "listed, with the old root's size" '[.snapshots[].name] == ["'"$snap"'"] and .snapshots[0].size > 300000 and .snapshots[0].files > 20' vpsctl snapshot-list 101 -j

vpsctl start 101 >/dev/null
exec_false "the guest's old files are gone" 101 test -e /etc/hello
expect_eq "its hostname is kept" keep.example "$(vpsctl exec 101 -- hostname)"
echo 'echo new' | vpsctl exec 101 -- sh -c 'cat > /etc/mine'
out=$(vpsctl reinstall 101 --no-keep 2>&1)
check "a running VPS is stopped and started, and told so" \
        sh -c "grep -q 'stopping it to reinstall' <<<'$out' && grep -q 'starting it again' <<<'$out'"
expect_jq "running again" '.status == "running"' vpsctl status 101 -j
exec_false "--no-keep: the file is gone" 101 test -e /etc/mine
expect_jq "--no-keep: no new snapshot" '.snapshots | length == 1' vpsctl snapshot-list 101 -j
vpsctl stop 101 --fast >/dev/null

# Back to the old root through the kept snapshot.
vpsctl snapshot-switch 101 "$snap" >/dev/null
check "switch to the kept snapshot restores the old root (manifest)" \
        sh -c "$MANIFEST manifest '$V/upper' | diff '$T/m1' -"

# A reinstall cut short after its commit point (the journal written, the new layer made, the
# old not yet moved): the next vpsd finishes it.
kill_vpsd
mkdir -p "$V/.reinstall-new" "$V/snapshots/.tmp-crashed/"
chown "$base:$base" "$V/.reinstall-new"
echo '{"name": "crashed", "created_at": 1, "ostemplate": "busybox", "size": 0}' >"$V/snapshots/.tmp-crashed/meta.json"
echo '{"template": "busybox", "snapshot": "crashed"}' >"$V/reinstall.json"
mkdir "$V/.reinstall-old-junk-not-ours" # not a name vpsd uses: left alone
start_vpsd
check "finished at start-up: the old root is the snapshot" \
        sh -c "$MANIFEST manifest '$V/snapshots/crashed/upper' | diff '$T/m1' -"
check "and the new root is empty" sh -c "[ -z \"\$(ls -A '$V/upper')\" ]"
check "no journal, no temporaries" sh -c "! ls -A '$V' '$V/snapshots' | grep -qx 'reinstall.json\\|\\.reinstall-new\\|\\.tmp-crashed'"
rmdir "$V/.reinstall-old-junk-not-ours"

# Not committed (no journal): what it prepared is removed, the root untouched.
kill_vpsd
mkdir "$V/.reinstall-new" "$V/snapshots/.tmp-half"
touch "$V/upper/marker"
start_vpsd
check "an uncommitted reinstall leaves nothing" \
        sh -c "[ ! -e '$V/.reinstall-new' ] && [ ! -e '$V/snapshots/.tmp-half' ] && [ -e '$V/upper/marker' ]"
finish
