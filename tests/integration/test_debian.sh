#!/usr/bin/env bash
# A Debian 12 VPS as a customer gets it: the template built by debootstrap (once per build
# dir: the published template is kept in a tarball under VPS_TEST_CACHE), systemd reaching
# "running" with no failed unit, logins over the real OpenSSH client with a key from
# --ssh-key and a password from --userpasswd, a clean stop, reboot and poweroff from inside,
# per-VPS machine-id and ssh host keys, and a guest that plants a symlink for /etc/shadow.
. "$(dirname "$0")/lib.sh"
for tool in debootstrap ssh sshpass ssh-keygen; do
        command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps)"; exit 1; }
done
quiet() { "$@" >/dev/null; }
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 -o LogLevel=ERROR)

start_vpsd
debian_template || { fail "template build debian-12: $(tail -n3 "$T/debian-build.out")"; finish; }
if [ "$DEBIAN_BUILT" = 1 ]; then
        out=$(cat "$T/debian-build.out")
        check "the build shows its download with a package count" grep -qE "^debian-12: downloading: [0-9]+ packages" <<<"$out"
        check "and one installing count" grep -qE "^debian-12: installing: step [0-9]+ of [0-9]+$" <<<"$out"
        check "that never goes backwards" sh -c "sed -n 's/^debian-12: installing: step \([0-9]*\) of .*/\1/p' | sort -nc" <<<"$out"
        check "and says it is built" grep -q "^Template debian-12 built (version bookworm-" <<<"$out"
        check "nothing of the build is left" test -z "$(ls -A "$ROOT/templates" | grep '^\.build-' || true)"
else
        pass "debian-12 from the cache ($DEBIAN_CACHE)"
fi
R=$ROOT/templates/debian-12/rootfs
expect_eq "template: machine-id empty" 0 "$(stat -c %s "$R/etc/machine-id")"
check "template: no ssh host keys" test -z "$(ls "$R"/etc/ssh/ | grep ssh_host_)"
check "template: resolv.conf is not the build host's" sh -c "! grep -q '^nameserver' '$R/etc/resolv.conf'"
expect_eq "template list: distro debian" debian "$(vpsctl template list -j | jq -r '.[] | select(.name == "debian-12") | .distro')"

ssh-keygen -q -t ed25519 -N '' -f "$T/id" </dev/null
IP1=$NETPFX.51 IP2=$NETPFX.52
check "create 501 --ipadd $IP1" quiet vpsctl create 501 --ostemplate debian-12 --ipadd "$IP1" --hostname deb501
check "create 502" quiet vpsctl create 502 --ostemplate debian-12 --ipadd "$IP2"
# Set while stopped: written into the VPS's upper dir over the template.
check "set --ssh-key on a stopped VPS" quiet vpsctl set 501 --ssh-key "$T/id.pub"
check "set --userpasswd on a stopped VPS" quiet vpsctl set 501 --userpasswd 'root:Open-Sesame 1'
expect_eq "authorized_keys owned by the VPS's root, mode 600" "$(vps_field 501 uid_base) 600" \
        "$(stat -c '%u %a' "$ROOT/vps/501/upper/root/.ssh/authorized_keys")"
check "the template's shadow is untouched" sh -c "! grep -q '^root:\\\$' '$R/etc/shadow'"

wait_running() { # wait_running ID: systemd's state once it settles (running, degraded...)
        local st= end=$((SECONDS + 90)) # a boot takes seconds; a busy machine, a sanitizer...
        while [ "$SECONDS" -lt "$end" ]; do
                st=$(vpsctl exec "$1" -- systemctl is-system-running 2>/dev/null || true)
                case $st in running|degraded|maintenance|stopping) break ;; esac
                sleep 0.1
        done
        echo "$st"
}
t0=$(date +%s%N)
check "start 501" quiet vpsctl start 501
st=$(wait_running 501)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "systemd in 501 reaches running (in $ms ms)" running "$st"
expect_eq "no failed units" "" "$(vpsctl exec 501 -- systemctl --failed --no-legend --plain)"
expect_eq "systemd-detect-virt -c: a container" container-other "$(vpsctl exec 501 -- systemd-detect-virt -c || true)"
expect_eq "/run/systemd/container names vpsd" vpsd "$(vpsctl exec 501 -- cat /run/systemd/container)"
check "systemd runs its services in its own cgroups" vpsctl exec 501 -- test -d /sys/fs/cgroup/system.slice/ssh.service
# What a provider's image has (issue 15): dbus for hostnamectl, timedatectl and localectl,
# C.UTF-8, ping, python3 with apt's module (Ansible: test_ansible.sh), sftp.
expect_eq "hostnamectl over dbus" deb501 "$(vpsctl exec 501 -- hostnamectl hostname 2>&1)"
expect_eq "timedatectl over dbus" Etc/UTC "$(vpsctl exec 501 -- timedatectl show -p Timezone --value 2>&1)"
check "localectl: LANG=C.UTF-8" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 501 -- localectl status | grep -q 'LANG=C.UTF-8'"
check "ping the gateway from the VPS" quiet vpsctl exec 501 -- ping -c 1 -W 5 "$NETPFX.1"
check "python3 with apt's module" quiet vpsctl exec 501 -- python3 -c 'import apt_pkg'
check "cron, logrotate, curl, an editor, sftp" quiet vpsctl exec 501 -- sh -c \
        'systemctl is-active -q cron && command -v logrotate curl nano vi less && test -x /usr/lib/openssh/sftp-server'
# systemd's sandboxing works over the locked /proc and /sys (every mount under them is made
# before the VPS's user namespace takes over): each unit remounts /proc/sys, /sys/fs/cgroup or
# /proc in a mount namespace of its own, which fails (226/NAMESPACE) on a tree that mixes
# locked mounts and the guest's own.
props=(ProtectKernelTunables=yes ProtectControlGroups=yes ProtectProc=invisible ProtectKernelLogs=yes PrivateUsers=yes)
for n in "${!props[@]}"; do
        vpsctl exec 501 -- sh -c "printf '[Service]\nType=oneshot\n%s\nExecStart=/bin/true\n' '${props[n]}' >/run/systemd/system/sbx$n.service"
done
vpsctl exec 501 -- systemctl daemon-reload
for n in "${!props[@]}"; do
        check "a unit with ${props[n]} runs (systemctl start waits for it)" vpsctl exec 501 -- systemctl start sbx$n.service
done
exec_denied "the boot id's bind is locked: umount refused" 501 "not permitted|busy|not mounted|Invalid" \
        umount /proc/sys/kernel/random/boot_id
expect_eq "and still in place (not the host's boot id)" 1 \
        "$(vpsctl exec 501 -- cat /proc/sys/kernel/random/boot_id | grep -vxc "$(cat /proc/sys/kernel/random/boot_id)")"
check "the console shows a login prompt" sh -c "for i in \$(seq 300); do grep -q 'login:' '$ROOT/vps/501/console.log' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"

# enter and exec behave as in a busybox VPS: a pty from the guest's devpts, bash as root.
out=$(printf 'tty; echo "shell=$0 in $(hostname)"; exit\n' | script -qec "'$VPSCTL_BIN' --socket '$SOCK' enter 501" /dev/null | tr -d '\r')
check "enter gets a pty inside" grep -q '/dev/pts/[0-9]' <<<"$out"
check "and root's login shell (bash) in deb501" grep -q "shell=.*bash in deb501" <<<"$out"
rc=0; vpsctl exec 501 -- sh -c 'exit 7' || rc=$?
expect_eq "exec passes the exit status" 7 "$rc"

# Logins with the real OpenSSH client.
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ]; do ssh "${SSH_OPTS[@]}" -i "$T/id" -o BatchMode=yes "root@$IP1" true 2>/dev/null && break; sleep 0.2; done
out=$(ssh "${SSH_OPTS[@]}" -i "$T/id" -o BatchMode=yes "root@$IP1" 'hostname; ip -4 -o addr show eth0' 2>&1 || true)
check "ssh with the key from --ssh-key: hostname deb501" grep -qx deb501 <<<"$out"
check "and the address $IP1 on eth0" grep -q "inet $IP1/" <<<"$out"
out=$(sshpass -p 'Open-Sesame 1' ssh "${SSH_OPTS[@]}" -o PubkeyAuthentication=no "root@$IP1" 'id -u; echo pw-ok' 2>&1 || true)
check "ssh with the password from --userpasswd" grep -qx pw-ok <<<"$out"
check "a wrong password is refused" sh -c "! sshpass -p wrong ssh ${SSH_OPTS[*]} -o PubkeyAuthentication=no root@$IP1 true 2>/dev/null"
check "set --userpasswd on the running VPS" quiet vpsctl set 501 --userpasswd 'root:second-pw'
check "the new password works at once" sh -c "sshpass -p second-pw ssh ${SSH_OPTS[*]} -o PubkeyAuthentication=no root@$IP1 true"
expect_error "a user that does not exist" "no user 'nosuch' in the VPS's /etc/shadow" vpsctl set 501 --userpasswd nosuch:x
expect_error "not a key file" "not an OpenSSH public key line" vpsctl set 501 --ssh-key /etc/hostname

# Two VPSes from one template: their own machine-id and ssh host keys.
check "start 502" quiet vpsctl start 502
expect_eq "systemd in 502 reaches running" running "$(wait_running 502)"
m1=$(vpsctl exec 501 -- cat /etc/machine-id) m2=$(vpsctl exec 502 -- cat /etc/machine-id)
check "machine-ids differ ($m1, $m2)" test -n "$m1" -a -n "$m2" -a "$m1" != "$m2"
k1=$(vpsctl exec 501 -- cat /etc/ssh/ssh_host_ed25519_key.pub) k2=$(vpsctl exec 502 -- cat /etc/ssh/ssh_host_ed25519_key.pub)
check "ssh host keys differ" test -n "$k1" -a -n "$k2" -a "$k1" != "$k2"

# A guest that swaps /etc/shadow for a symlink to a host file: refused, the host file kept.
echo "host secret" >"$T/hostfile"
before=$(md5sum <"$T/hostfile")
vpsctl exec 502 -- ln -sf "$T/hostfile" /etc/shadow
expect_error "--userpasswd through a planted symlink (running)" "refusing /etc/shadow in the guest: a symlink" \
        vpsctl set 502 --userpasswd root:x
vpsctl exec 502 -- mkdir -p /root/.ssh
vpsctl exec 502 -- ln -sf "$T/hostfile" /root/.ssh/authorized_keys
expect_error "--ssh-key through a planted symlink (running)" "a symlink" vpsctl set 502 --ssh-key "$T/id.pub"
check "stop 502" quiet vpsctl stop 502
expect_error "--userpasswd through a planted symlink (stopped)" "refusing /etc/shadow in the guest: a symlink" \
        vpsctl set 502 --userpasswd root:x
expect_eq "the host file is unchanged" "$before" "$(md5sum <"$T/hostfile")"

# A clean stop: systemd shuts down on SIGRTMIN+3, well before the timeout.
t0=$(date +%s%N)
check "stop 501" quiet vpsctl stop 501 --timeout 30
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# (Under a second here; the bound leaves a busy machine room, well below the kill at 30 s.)
check "stop took $ms ms, well under the 30 s timeout" test "$ms" -lt 20000
check "systemd shut down itself (not killed at the timeout)" sh -c "! grep -q 'VPS 501 did not stop in time' '$ROOT/vpsd.log'"
check "the console log shows systemd's own shutdown" grep -qE "Halting system|Powering off" "$ROOT/vps/501/console.log"

# reboot inside: back with a new boot id; poweroff inside: stopped.
check "start 501 again" quiet vpsctl start 501
expect_eq "running again" running "$(wait_running 501)"
b1=$(vpsctl exec 501 -- cat /proc/sys/kernel/random/boot_id)
boots() { vpsctl exec 501 -- journalctl --list-boots --no-pager -q 2>/dev/null | wc -l; }
boots1=$(boots)
vpsctl exec 501 -- systemctl reboot >/dev/null 2>&1 || true
b2= end=$((SECONDS + 90)) # systemd's shutdown, then a boot
while [ "$SECONDS" -lt "$end" ]; do
        b2=$(vpsctl exec 501 -- cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)
        [ -n "$b2" ] && [ "$b2" != "$b1" ] && break
        sleep 0.2
done
check "reboot inside brings 501 back with a new boot id" test -n "$b2" -a "$b2" != "$b1"
expect_eq "and it reaches running" running "$(wait_running 501)"
# The journal is persistent (the template has /var/log/journal): the reboot adds one boot.
boots2=$(boots)
check "journalctl --list-boots shows the reboot as one more boot ($boots1 -> $boots2)" \
        test "$boots1" -ge 1 -a "$boots2" = $((boots1 + 1))
vpsctl exec 501 -- systemctl poweroff >/dev/null 2>&1 || true
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ]; do [ "$(vps_field 501 status)" = stopped ] && break; sleep 0.1; done
expect_eq "poweroff inside stops 501" stopped "$(vps_field 501 status)"
finish
