#!/bin/bash
# Guest test: disk quotas on a loop-mounted xfs image with project quotas, which this host's
# kernel cannot mount (no quota support) and the guest's Debian kernel can. The checks are
# tests/integration/test_quota.sh's; here a skip is a failure, since this is where they must run.
rc=0
QUOTA_FS=xfs bash "$(dirname "$0")/../integration/test_quota.sh" || rc=$?
[ "$rc" = 77 ] && { echo "FAIL: test_quota.sh skipped in the guest: no xfs project quotas"; exit 1; }
exit "$rc"
