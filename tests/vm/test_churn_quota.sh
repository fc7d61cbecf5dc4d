#!/bin/bash
# Guest test: the churn test (tests/integration/test_churn.sh) on an XFS root with project
# quotas, so that project ids are counted among what must come back: every VPS gets one at
# create and gives it back at destroy. A short run; the host runs the long one.
rc=0
CHURN_QUOTA_FS=xfs CHURN_CYCLES=${CHURN_CYCLES:-20} bash "$(dirname "$0")/../integration/test_churn.sh" || rc=$?
[ "$rc" = 77 ] && { echo "FAIL: test_churn.sh skipped in the guest"; exit 1; }
exit "$rc"
