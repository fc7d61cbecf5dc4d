#!/bin/bash
# Guest test: disk quotas on a loop-mounted ext4 image with project quotas, which this host's
# kernel cannot mount (no quota support) and the guest's Debian kernel can. The checks are
# tests/integration/test_quota.sh's; here a skip is a failure, since this is where they must run.
rc=0
QUOTA_FS=ext4 bash "$(dirname "$0")/../integration/test_quota.sh" || rc=$?
[ "$rc" = 77 ] && { echo "FAIL: test_quota.sh skipped in the guest: no ext4 project quotas"; exit 1; }
exit "$rc"
