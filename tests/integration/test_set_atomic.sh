#!/usr/bin/env bash
# vpsctl set is one transaction (issue 16, "a change set"): a multi-field set on a running VPS
# that fails at any of its steps leaves config.json, the cgroup's limit files, the network
# (eth0's addresses, the filter and forwards, the rate) and the guest's files (hostname,
# /etc/hosts, resolv.conf, shadow, authorized_keys) as they were. The failures are injected
# with VPS_TEST_FAIL_STEP in vpsd's environment (after each step but the save, so its own
# undo runs too); then real ones: a user the guest does not have, an address another VPS
# holds. The logins come last and keep what they replaced: a failure after them leaves
# /etc/shadow and root's authorized_keys byte for byte as they were (mode and owner too), on a
# running VPS and on a stopped one (its upper dir: no copy-up, no directory left behind).
. "$(dirname "$0")/lib.sh"
printf 'enforce_limits = warn\n' >"$T/vpsd.conf"
export VPSD_CONFIG=$T/vpsd.conf
start_vpsd
make_running_vps 101 old.example
vpsctl set 101 --ipadd "$NETPFX.10" --forward tcp:18181:80 --nameserver 192.0.2.1 >/dev/null
make_running_vps 102
vpsctl set 102 --ipadd "$NETPFX.20" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$T/id" </dev/null 2>/dev/null ||
        echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test' >"$T/id.pub"
# root of 101 has a key already (the set adds a second), and a password of its own
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0kP0a7Q7m0z6n3Yk9g7Xr8v2o1cQ3sX2b5N8eW4d6F old' >"$T/old.pub"
vpsctl set 101 --ssh-key "$T/old.pub" --userpasswd root:before >/dev/null

# Everything the set below would change, as text.
state() {
        local cg
        cg=$(jq -r .cgroup "$(state_file 101)")
        cat "$ROOT/vps/101/config.json"
        for f in memory.max memory.swap.max cpu.max cpu.weight pids.max; do
                [ ! -f "$cg/$f" ] || echo "$f $(cat "$cg/$f")"
        done
        # (an IPv6 address of eth0 may still be tentative at first)
        vpsctl exec 101 -- sh -c 'hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf /etc/shadow
                cat /root/.ssh/authorized_keys 2>/dev/null; ip -o addr show dev eth0; ip route
                sha256sum /etc/shadow /root/.ssh/authorized_keys
                stat -c "%n %a %u %g %s %F" /etc/shadow /root/.ssh /root/.ssh/authorized_keys' |
                sed 's/ tentative//'
        # the host's side: the filter and forwards without their counters, the rate
        nft list table ip "vpsd_$BRIDGE" | sed -E 's/packets [0-9]+ bytes [0-9]+//' | sort
        nft list table bridge "vpsd_$BRIDGE" | sed -E 's/packets [0-9]+ bytes [0-9]+//' | sort
        tc qdisc show dev "$(veth_of 101)" | sort
}
SET=(set 101 --hostname new.example --ipadd "$NETPFX.11" --forward tcp:18182:80 --rate 10mbit
        --nameserver 192.0.2.53 --searchdomain new.example --onboot yes --ram 512M
        --userpasswd root:secret --ssh-key "$T/id.pub")
state >"$T/before"
[ -s "$T/before" ] && grep -q "$NETPFX.10" "$T/before" && grep -q ' old$' "$T/before" &&
        grep -q 'authorized_keys 600 0 0' "$T/before" || fail "no state to compare"

# fail_at STEP WHAT STATE BEFORE ARGS...: with vpsd failing at STEP, `vpsctl ARGS` is refused
# and the output of the function STATE is still the file BEFORE.
fail_at() {
        local step=$1 what=$2 state_of=$3 before=$4
        shift 4
        kill_vpsd
        VPS_TEST_FAIL_STEP=$step start_vpsd
        expect_error "$what: set failing at step $step" "failure injected (after|before) step $step" vpsctl "$@"
        $state_of >"$T/after"
        if cmp -s "$before" "$T/after"; then pass "a failure at $step leaves $what as it was"
        else fail "a failure at $step changed $what: $(diff "$before" "$T/after" | head -20)"; fi
}
for step in limits disk addresses forwards rate hostname guest save userpasswd ssh_key; do
        fail_at $step "VPS 101" state "$T/before" "${SET[@]}"
done

# VPS 102's root has no authorized_keys, and its /etc/shadow is the template's. Stopped, the
# logins edit its upper dir over the template: a failure leaves the upper dir as it was (no
# copy of shadow, no /root/.ssh), the template's files showing through again.
LOGINS=(set 102 --userpasswd root:secret --ssh-key "$T/id.pub")
vpsctl stop 102 --fast >/dev/null
upper() { (cd "$ROOT/vps/102/upper" && find . -printf '%p %m %u %g %s %y\n' | sort &&
        find . -type f -exec sha256sum {} + | sort); }
upper >"$T/before102"
grep -q '^./etc/shadow ' "$T/before102" && fail "VPS 102's shadow is copied up already"
for step in userpasswd ssh_key; do
        fail_at $step "stopped VPS 102's upper dir" upper "$T/before102" "${LOGINS[@]}"
done
# Running: a failed set leaves no authorized_keys (nor a /root/.ssh it made).
vpsctl start 102 >/dev/null
logins() { vpsctl exec 102 -- sh -c 'sha256sum /etc/shadow; stat -c "%n %a %u %g %s" /etc/shadow
        ls -A /root; ls -A /root/.ssh 2>&1 || true'; }
logins >"$T/before102"
fail_at ssh_key "running VPS 102's shadow and /root" logins "$T/before102" "${LOGINS[@]}"

# Real failures, once vpsd injects nothing.
kill_vpsd
start_vpsd
expect_error "a user the guest lacks, after every other step" "nosuchuser" \
        vpsctl set 101 --hostname new.example --ipadd "$NETPFX.11" --rate 10mbit \
        --nameserver 192.0.2.53 --userpasswd nosuchuser:secret
state >"$T/after"
check "and VPS 101 is as it was" cmp -s "$T/before" "$T/after"
expect_error "an address VPS 102 holds, after valid fields" "$NETPFX.20" \
        vpsctl set 101 --hostname new.example --rate 10mbit --ipadd "$NETPFX.20"
state >"$T/after"
check "and VPS 101 is as it was" cmp -s "$T/before" "$T/after"

# And the same set without a failure changes all of it, with one write of config.json.
trace_vpsd "$T/trace" rename,renameat,renameat2
vpsctl "${SET[@]}" >/dev/null
untrace_vpsd
expect_jq "the set applies" '.hostname == "new.example" and (.ip | length) == 2 and .rate == 10000000 and .onboot' vpsctl status 101 -j
check "the guest has the new name and address" sh -c "'$VPSCTL_BIN' --socket '$SOCK' exec 101 -- sh -c 'hostname; ip -o addr show dev eth0' | tr '\n' ' ' | grep -q 'new.*$NETPFX.11'"
expect_eq "config.json is written once" 1 "$(grep -c '"config.json"' "$T/trace")"
finish
