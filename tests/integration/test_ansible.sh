#!/usr/bin/env bash
# Issue 15, defect 5: Ansible, as a provider's customer uses it, drives a fresh debian-12 VPS
# over ssh with no bootstrap step: Debian's ansible-core on the host finds the template's
# python3 by itself (`ansible all -m ping`), and a play copies a local apt repository in over
# sftp, installs nginx from it with the apt module (python3-apt), starts and enables it; the
# host then fetches nginx's page from the VPS, and a second run of the play changes nothing.
# The repository holds nginx and what it needs beyond the template (localrepo.sh: fetched
# once into VPS_TEST_CACHE/ansible-debs, reruns are offline); the VPS's apt reads nothing else.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/localrepo.sh"
for tool in ansible ansible-playbook apt-get dpkg-scanpackages ssh ssh-keygen curl; do
        command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps)"; exit 1; }
done
quiet() { "$@" >/dev/null; }

start_vpsd
debian_template || { fail "template build debian-12: $(tail -n3 "$T/debian-build.out")"; finish; }
local_repo "$ROOT/templates/debian-12/rootfs" "$DEBIAN_CACHE/ansible-debs" "$T/repo" nginx ||
        { fail "$REPO_ERR"; finish; }
check "the local repository holds nginx and what it needs ($REPO_N packages, $REPO_FETCHED fetched now)" \
        grep -q '^Package: nginx$' "$T/repo/Packages"

ssh-keygen -q -t ed25519 -N '' -f "$T/id" </dev/null
IP=$NETPFX.61
check "create 611" quiet vpsctl create 611 --ostemplate debian-12 --ipadd "$IP" --hostname ans611
check "set --ssh-key" quiet vpsctl set 611 --ssh-key "$T/id.pub"
check "start 611" quiet vpsctl start 611
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
        ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes \
                -o ConnectTimeout=5 -i "$T/id" "root@$IP" true 2>/dev/null && break
        sleep 0.2
done

# Ansible's own state and config in $T: nothing of the host user's (~/.ansible, ansible.cfg).
mkdir -p "$T/ansible"
cd "$T/ansible"
export ANSIBLE_HOME=$T/ansible ANSIBLE_LOCAL_TEMP=$T/ansible/tmp ANSIBLE_CONFIG=$T/ansible/ansible.cfg
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
printf '[defaults]\n' >ansible.cfg
printf 'vps ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s ansible_ssh_common_args="-o UserKnownHostsFile=/dev/null -o ConnectTimeout=20"\n' \
        "$IP" "$T/id" >hosts

t0=$(date +%s%N)
out=$(ansible all -i hosts -m ping 2>&1) || true
check "ansible all -m ping: pong ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" grep -q '"ping": "pong"' <<<"$out"
check "with the python3 it found in the VPS (no bootstrap)" \
        grep -q '"discovered_interpreter_python": "/usr/bin/python3' <<<"$out"
[ "$FAILS" = 0 ] || { echo "$out" | head -n 20; finish; }

cat >play.yml <<EOF
- hosts: all
  tasks:
    - name: the local repository
      ansible.builtin.copy: {src: "$T/repo/", dest: /srv/localrepo/}
    - name: as apt's only source
      ansible.builtin.copy:
        content: "deb [trusted=yes] file:/srv/localrepo ./\n"
        dest: /etc/apt/sources.list
    - name: nginx installed
      ansible.builtin.apt: {name: nginx, update_cache: true, install_recommends: false}
    - name: nginx running
      ansible.builtin.service: {name: nginx, state: started, enabled: true}
EOF
t0=$(date +%s%N)
rc=0
ansible-playbook -i hosts play.yml >"$T/play1.out" 2>&1 || rc=$?
expect_eq "the play succeeds ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" 0 "$rc"
# (nginx's postinst starts and enables it already: the service task may find nothing to do.)
recap=$(grep -E '^vps +: ok=' "$T/play1.out" | tr -s ' ' || true)
check "it changed the VPS: $recap" grep -qE 'ok=5 changed=[34] unreachable=0 failed=0' <<<"$recap"
[ "$rc" = 0 ] || tail -n 30 "$T/play1.out"
expect_eq "nginx is active in the VPS" active "$(vpsctl exec 611 -- systemctl is-active nginx 2>&1)"
expect_eq "and enabled" enabled "$(vpsctl exec 611 -- systemctl is-enabled nginx 2>&1)"
out=$(curl -s --max-time 10 "http://$IP/" || true)
check "the host gets nginx's page from the VPS" grep -q 'Welcome to nginx' <<<"$out"
rc=0
ansible-playbook -i hosts play.yml >"$T/play2.out" 2>&1 || rc=$?
expect_eq "a second run succeeds" 0 "$rc"
check "and changes nothing" grep -qE 'vps +: ok=5 +changed=0 +unreachable=0 +failed=0' "$T/play2.out"
expect_eq "nothing in systemctl --failed" "" "$(vpsctl exec 611 -- systemctl --failed --no-legend --plain 2>&1)"
cd /
finish
