#!/bin/bash
# Guest test (issue 19): a real Prometheus (Debian's, the host's binary seen through 9p)
# scrapes vpsd's /metrics over TLS with a token and a PromQL query of VPS 101's memory series
# (vps_memory_bytes{id="101"}) returns more than 0 bytes; promtool check metrics is clean.
# The host has no memory controller, so there tests/integration/test_prometheus.sh can only
# query vps_up: this runs the same test where the series exists, and requires it.
# Prometheus under TCG takes minutes (209 s at a host load of 20), so it runs only when named:
#   VM_TESTS=test_prometheus.sh tests/vm/run
# The default run checks the series itself with curl and promtool (test_limit_events.sh).
here=$(dirname "$0")
case " ${VM_TESTS:-} " in
*" test_prometheus.sh "*) ;;
*) echo "SKIP: a real Prometheus under TCG takes minutes: VM_TESTS=test_prometheus.sh tests/vm/run"; exit 77 ;;
esac
grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
        { echo "SKIP: no memory controller in /sys/fs/cgroup (run this through tests/vm/run)"; exit 77; }
VPS_PROM_NEED_MEMORY=1 exec bash "$here/../integration/test_prometheus.sh"
