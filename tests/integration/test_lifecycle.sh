#!/usr/bin/env bash
# The lifecycle end to end through vpsctl, and what a VPS looks like from inside.
. "$(dirname "$0")/lib.sh"
start_vpsd

vpsctl template build busybox >/dev/null
expect_jq "template listed" '.[0].name == "busybox"' vpsctl template list -j
tpl_sum_before=$(cd "$ROOT/templates/busybox/rootfs" && find . -printf '%p %U %s %m\n' | sort | md5sum)

vpsctl create 101 --ostemplate busybox --hostname web101 >/dev/null
vpsctl create 102 --ostemplate busybox >/dev/null
expect_eq "new VPS is stopped" stopped "$(vps_field 101 status)"
vpsctl start 101 >/dev/null
vpsctl start 102 >/dev/null

json=$(vpsctl list -j)
expect_jq "list -j has the documented fields" \
        '.[] | select(.id=="101") | has("id") and has("status") and has("hostname") and has("ip") and has("ostemplate") and has("pid")' \
        printf '%s' "$json"
expect_eq "status running" running "$(vps_field 101 status)"
pid=$(vps_field 101 pid)
base=$(vps_field 101 uid_base)
base2=$(vps_field 102 uid_base)
check "host pid is alive" kill -0 "$pid"

# Inside: PID 1 is the template's init, only the VPS's processes are visible.
expect_eq "PID 1 is init" init "$(vpsctl exec 101 -- cat /proc/1/comm)"
expect_eq "PID 1 runs the template's binary" /bin/busybox "$(vpsctl exec 101 -- readlink /proc/1/exe)"
expect_eq "PID 1 on the host is the VPS init" "$pid" "$(vps_field 101 pid)"
nprocs=$(vpsctl exec 101 -- sh -c 'ls -d /proc/[0-9]* | wc -l')
check "only the VPS's processes are visible ($nprocs)" test "$nprocs" -le 6
exec_lacks "vpsd is invisible inside" 101 vpsd ps -o comm
expect_eq "hostname" web101 "$(vpsctl exec 101 -- hostname)"
expect_eq "uid_map is the VPS range" "0 $base 65536" "$(vpsctl exec 101 -- cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
check "ranges of two VPSes are disjoint" test "$base" -ne "$base2"
check "no VPS map contains host uid 0" test "$base" -ge 65536
expect_eq "root inside" 0 "$(vpsctl exec 101 -- id -u)"
exec_lacks "host mounts invisible" 101 "$T| /work" cat /proc/self/mountinfo
expect_eq "the init sits at its own cgroup namespace root" "0::/" "$(vpsctl exec 101 -- cat /proc/1/cgroup | grep '^0::')"
check "VPS cgroup exists on the host" test -d "$CG_MOUNT$CG_PARENT/101"
check "init is in the VPS's guest cgroup" grep -qx "0::$CG_PARENT/101/guest" /proc/"$pid"/cgroup
expect_eq "the VPS init starts at oom_score_adj 0, not vpsd's" 0 "$(cat /proc/"$pid"/oom_score_adj)"
# The top cgroup (limits) is host root's; its guest cgroup is delegated to the VPS's root
# (systemd inside makes its own cgroups), whose limit files stay host root's.
expect_eq "the VPS's top cgroup is host root's" 0 "$(stat -c %u "$CG_MOUNT$CG_PARENT/101")"
expect_eq "its guest cgroup is the VPS's root's" "$base" "$(stat -c %u "$CG_MOUNT$CG_PARENT/101/guest")"
expect_eq "its cgroup.procs too" "$base" "$(stat -c %u "$CG_MOUNT$CG_PARENT/101/guest/cgroup.procs")"
expect_eq "cgroup.max.depth stays host root's" 0 "$(stat -c %u "$CG_MOUNT$CG_PARENT/101/guest/cgroup.max.depth")"
check "the guest can make a cgroup of its own" vpsctl exec 101 -- mkdir /sys/fs/cgroup/guest.slice
exec_denied "but not raise its limits" 101 "Permission denied" sh -c 'echo 1 > /sys/fs/cgroup/cgroup.max.depth'
boot1=$(vpsctl exec 101 -- cat /proc/sys/kernel/random/boot_id)
check "the VPS has a boot id of its own ($boot1)" test -n "$boot1" -a "$boot1" != "$(cat /proc/sys/kernel/random/boot_id)"
check "another VPS has another" test "$boot1" != "$(vpsctl exec 102 -- cat /proc/sys/kernel/random/boot_id)"
exec_denied "the guest cannot write it" 101 "Read-only file system|Permission denied" \
        sh -c 'echo x > /proc/sys/kernel/random/boot_id'
exec_lacks "no boot id file left in /dev" 101 boot ls -a /dev
check "loopback is up" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 101 -- ip link show lo | grep -q UP"
check "/dev/null works" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 101 -- sh -c 'echo x > /dev/null && test -c /dev/null'"
exec_denied "/sys is read-only" 101 "Read-only file system" touch /sys/x
for m in /dev/shm /run; do
        expect_eq "$m is a tmpfs of its own" tmpfs "$(vpsctl exec 101 -- awk -v m="$m" '$2 == m { print $3 }' /proc/mounts)"
done
expect_eq "/dev/pts is a devpts instance" devpts "$(vpsctl exec 101 -- awk '$2 == "/dev/pts" { print $3 }' /proc/mounts)"
for ns in ipc uts net mnt pid user cgroup; do
        check "its own $ns namespace" test "$(vpsctl exec 101 -- readlink /proc/self/ns/$ns)" != "$(readlink /proc/self/ns/$ns)"
done
check "its ipc namespace is not the other VPS's" test "$(vpsctl exec 101 -- readlink /proc/1/ns/ipc)" != "$(vpsctl exec 102 -- readlink /proc/1/ns/ipc)"
# The template is shared, not copied: idmapped, its files (host root's) are root's inside,
# and nothing of it is in the VPS's own dir.
expect_eq "template files are root's inside (idmapped lower)" "0 0" "$(vpsctl exec 101 -- stat -c '%u %g' /bin/busybox)"
expect_eq "and host root's on the host" "0 0" "$(stat -c '%u %g' "$ROOT/templates/busybox/rootfs/bin/busybox")"
check "the VPS's dir holds no copy of the template" test ! -e "$ROOT/vps/101/upper/bin/busybox"
check "a running VPS's dir stays small ($(du -sk "$ROOT/vps/101" | cut -f1) KiB)" test "$(du -sk "$ROOT/vps/101" | cut -f1)" -lt 200
expect_eq "status prints vzctl's line" "VPS 101 exists running" "$(vpsctl status 101)"
expect_eq "VPSD_SOCKET stands for --socket" running "$(VPSD_SOCKET=$SOCK "$VPSCTL_BIN" status 101 -j | jq -r .status)"
# The console log is bounded: past 1 MiB it moves to console.log.1 and starts again.
vpsctl exec 101 -- sh -c 'head -c 2500000 /dev/zero | tr "\0" x > /dev/console'
for _ in $(seq 100); do [ -f "$ROOT/vps/101/console.log.1" ] && break; sleep 0.1; done
check "the console log rotates past 1 MiB" test -f "$ROOT/vps/101/console.log.1"
check "and neither file is over 1 MiB" test "$(stat -c %s "$ROOT/vps/101/console.log")" -le 1048576 -a "$(stat -c %s "$ROOT/vps/101/console.log.1")" -le 1048576

# Writes land in the VPS's own upper dir, owned by its mapped root; others don't see them.
vpsctl exec 101 -- sh -c 'echo secret > /root/file101'
check "file in upper dir" test -f "$ROOT/vps/101/upper/root/file101"
expect_eq "owned by the mapped uid" "$base" "$(stat -c %u "$ROOT/vps/101/upper/root/file101")"
exec_false "second VPS does not see it" 102 test -e /root/file101
check "template unchanged" test ! -e "$ROOT/templates/busybox/rootfs/root/file101"
check "host mount table has no VPS mounts" sh -c "! grep -q '$ROOT' /proc/self/mountinfo"

# Stop, start again (data kept), restart.
vpsctl stop 101 --timeout 10 >/dev/null
expect_eq "stopped" stopped "$(vps_field 101 status)"
check "init gone" sh -c "! kill -0 $pid 2>/dev/null"
check "cgroup removed on stop" test ! -d "$CG_MOUNT$CG_PARENT/101"
vpsctl start 101 >/dev/null
expect_eq "data survives a restart" secret "$(vpsctl exec 101 -- cat /root/file101)"
old=$(vps_field 101 pid)
vpsctl restart 101 >/dev/null
check "restart gives a new init" test "$(vps_field 101 pid)" != "$old"
check "and a new boot id" test "$(vpsctl exec 101 -- cat /proc/sys/kernel/random/boot_id)" != "$boot1"
vpsctl stop 101 --fast >/dev/null
expect_eq "fast stop" stopped "$(vps_field 101 status)"

# The list: sorted by ID in version order, up ones only without -a; -j prints vpsd's own
# indented answer, which must be the same JSON as the full list filtered here.
for id in 9 10; do vpsctl create "$id" --ostemplate busybox >/dev/null; done
vpsctl start 10 >/dev/null
vpsctl start 9 >/dev/null
expect_eq "list -a -j: sorted by ID (9 before 10 before 101)" "9 10 101 102" "$(vpsctl list -a -j | jq -r '[.[].id] | join(" ")')"
expect_eq "list -j: only those up (101 is stopped)" "9 10 102" "$(vpsctl list -j | jq -r '[.[].id] | join(" ")')"
# (booting: the two calls may fall either side of the moment the inits can take their halt signal.)
expect_eq "GET /v1/vps?up=1 is the same list" "$(vpsctl list -j | jq -c '[.[] | del(.rx_bytes, .rx_packets, .tx_bytes, .tx_packets, .booting)]')" \
        "$(curl -sf --unix-socket "$SOCK" 'http://localhost/v1/vps?up=1' | jq -c '[.[] | del(.rx_bytes, .rx_packets, .tx_bytes, .tx_packets, .booting)]')"
expect_eq "list -j is indented by two spaces" '  {' "$(vpsctl list -j | sed -n 2p)"
# The default table comes from vpsd's text scanned for its columns alone: the same as -o's.
expect_eq "list -a: the table -o id,status,pid,hostname,ip,ostemplate gives" \
        "$(vpsctl list -a -o id,status,pid,hostname,ip,ostemplate)" "$(vpsctl list -a)"
expect_eq "list: likewise" "$(vpsctl list -o id,status,pid,hostname,ip,ostemplate)" "$(vpsctl list)"
expect_eq "list -H -o id: the same order" "9 10 102" "$(vpsctl list -H -o id | tr -s ' \n' ' ' | sed 's/ $//')"
for id in 9 10; do vpsctl stop "$id" --fast >/dev/null; vpsctl destroy "$id" >/dev/null; done

# A tracer (strace) on a VPS's init holds its exit from vpsd, its parent, until it lets go:
# the stop is answered once it does (vpsd looks again), never left "stopping" for good.
vpsctl start 101 >/dev/null
init=$(vps_field 101 pid)
strace -q -p "$init" -o /dev/null &
tracer=$!
traced() { [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$init/status")" = "$tracer" ]; }
check "the tracer is attached to the init" eventually 20 traced
kill -STOP "$tracer"
vpsctl stop 101 --fast >"$T/stop-traced.out" 2>&1 &
stopper=$!
sleep 1
check "while the tracer holds the init's exit, the stop waits" test -e "/proc/$stopper"
kill -CONT "$tracer"
for _ in $(seq 50); do [ -e "/proc/$stopper" ] || break; sleep 0.2; done
check "once the tracer lets go, the stop is answered" not test -e "/proc/$stopper"
wait "$stopper" 2>/dev/null || true
wait "$tracer" 2>/dev/null || true
expect_eq "and the VPS is stopped" stopped "$(vps_field 101 status)"
kill "$stopper" 2>/dev/null || true

# A start whose maker fails after it made the init (work/ is not a directory: the maker cannot
# open it) fails with that reason, and leaves no process behind: the setup, the maker and the
# init are vpsd's children, each reaped (they were zombies of vpsd's until vpsd exited).
mv "$ROOT/vps/101/work" "$ROOT/vps/101/work.moved"
touch "$ROOT/vps/101/work"
for i in 1 2; do
        rc=0
        vpsctl start 101 >"$T/start-broken.out" 2>&1 || rc=$?
        check "a start whose maker fails fails ($i)" test "$rc" != 0
        check "and says why ($i)" grep -q 'opening work: Not a directory' "$T/start-broken.out"
done
zombies=
for _ in $(seq 25); do
        zombies=$(ps -o pid=,stat= --ppid "$VPSD_PID" | awk '$2 ~ /^Z/' | wc -l)
        [ "$zombies" = 0 ] && break
        sleep 0.2
done
expect_eq "no zombie left of vpsd's by the failed starts" 0 "$zombies"
rm "$ROOT/vps/101/work"
mv "$ROOT/vps/101/work.moved" "$ROOT/vps/101/work"
vpsctl start 101 >/dev/null
expect_eq "the VPS starts once work/ is back" running "$(vps_field 101 status)"
vpsctl stop 101 --fast >/dev/null

# Destroy leaves nothing.
vpsctl destroy 101 >/dev/null
vpsctl destroy 102 --force >/dev/null
check "VPS dirs removed" test -z "$(ls -A "$ROOT/vps")"
check "and their boot id files in the run directory" sh -c "! ls '$(run_state_dir)' | grep -q '^boot-id-'"
check "VPS cgroups removed" test -z "$(find "$CG_MOUNT$CG_PARENT" -mindepth 1 -type d)"
expect_eq "list empty" "[]" "$(vpsctl list -a -j | jq -c .)"
tpl_sum_after=$(cd "$ROOT/templates/busybox/rootfs" && find . -printf '%p %U %s %m\n' | sort | md5sum)
expect_eq "template never changed" "$tpl_sum_before" "$tpl_sum_after"
vpsctl template remove busybox >/dev/null
check "template removed" test ! -e "$ROOT/templates/busybox"
finish
