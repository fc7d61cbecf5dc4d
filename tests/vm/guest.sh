#!/bin/bash
# Runs inside the VM guest (tests/vm/stage2.sh starts it): every tests/vm/test_*.sh, or the
# ones named in VM_TESTS, each with VPS_BUILD_DIR and VPSD_TEST_ROOT_BASE set. Exit 77 is a
# skip. Prints "N passed, N failed" (test scripts) at the end and exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
export VPS_BUILD_DIR=${VPS_BUILD_DIR:-$(pwd)/build}
export VPSD_TEST_ROOT_BASE=${VPSD_TEST_ROOT_BASE:-/mnt/vps}
PER_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-600}

# tests/integration/lib.sh keeps its state in /var/tmp, which here is the 9p/overlay root:
# unless it honours VPSD_TEST_ROOT_BASE itself, put the ext4 mount there.
if ! grep -q VPSD_TEST_ROOT_BASE tests/integration/lib.sh && ! mountpoint -q /var/tmp; then
        mkdir -p "$VPSD_TEST_ROOT_BASE/tmp" && chmod 1777 "$VPSD_TEST_ROOT_BASE/tmp" &&
                mount --bind "$VPSD_TEST_ROOT_BASE/tmp" /var/tmp ||
                echo "guest: warning: could not bind $VPSD_TEST_ROOT_BASE/tmp on /var/tmp"
fi

if [ -n "${VM_TESTS:-}" ]; then
        tests=()
        for t in $VM_TESTS; do tests+=("tests/vm/${t##*/}"); done
else
        tests=(tests/vm/test_*.sh)
fi
passed=0 failed=0 skipped=0
for t in "${tests[@]}"; do
        name=${t##*/}
        echo "=== $name"
        s=$(date +%s)
        rc=0
        timeout -k 5 "$PER_TEST_TIMEOUT" bash "$t" </dev/null 2>&1 || rc=$?
        d=$(( $(date +%s) - s ))
        case $rc in
        0) passed=$((passed + 1)); echo "=== PASS $name (${d}s)" ;;
        77) skipped=$((skipped + 1)); echo "=== SKIP $name (${d}s)" ;;
        124) failed=$((failed + 1)); echo "=== FAIL $name: timed out after ${PER_TEST_TIMEOUT}s" ;;
        *) failed=$((failed + 1)); echo "=== FAIL $name (exit $rc, ${d}s)" ;;
        esac
done
[ "$skipped" = 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
