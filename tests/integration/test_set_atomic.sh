#!/usr/bin/env bash
# vpsctl set is one transaction (issue 16, "a change set"): a multi-field set on a running VPS
# that fails at any of its steps leaves config.json, the cgroup's limit files, the network
# (eth0's addresses, the filter and forwards, the rate) and the guest's files (hostname,
# /etc/hosts, resolv.conf, shadow, authorized_keys) as they were. The failures are injected
# with VPS_TEST_FAIL_STEP in vpsd's environment (after a step with an undo, before one
# without); then real ones: a user the guest does not have, an address another VPS holds.
# The logins have no undo and come last: a key that fails after a password of the same set
# leaves that password (so that step's set here has no --userpasswd).
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
                cat /root/.ssh/authorized_keys 2>/dev/null; ip -o addr show dev eth0; ip route' |
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
[ -s "$T/before" ] && grep -q "$NETPFX.10" "$T/before" || fail "no state to compare"

for step in limits disk addresses forwards rate hostname guest save userpasswd ssh_key; do
        kill_vpsd
        VPS_TEST_FAIL_STEP=$step start_vpsd
        set_args=("${SET[@]}")
        [ "$step" != ssh_key ] || set_args=("${SET[@]:0:${#SET[@]}-4}" --ssh-key "$T/id.pub")
        expect_error "set failing at step $step" "failure injected (after|before) step $step" vpsctl "${set_args[@]}"
        state >"$T/after"
        if cmp -s "$T/before" "$T/after"; then pass "a failure at $step leaves VPS 101 as it was"
        else fail "a failure at $step changed VPS 101: $(diff "$T/before" "$T/after" | head -20)"; fi
done

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
