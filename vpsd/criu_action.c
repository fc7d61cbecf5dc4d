/* vpsd: criu's action script on a resume (criu_action.h). criu runs it at each step of a
 * restore; only "post-restore" matters: every task is made, its mounts too, and none runs
 * until criu lets them go. */
#include "criu_action.h"

#include "checkpoint/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool vpsd_criu_action_called(int argc)
{
        return argc == 1 && getenv("CRTOOLS_SCRIPT_ACTION") && getenv(VPS_CHECKPOINT_LOCK_ENV);
}

int vpsd_criu_action_main(void)
{
        if (strcmp(getenv("CRTOOLS_SCRIPT_ACTION"), "post-restore") != 0)
                return 0;
        const char *pid = getenv("CRTOOLS_INIT_PID");
        char *end = NULL;
        long init = pid ? strtol(pid, &end, 10) : 0;
        vps_error err;
        int r = init > 1 && init < (1 << 22) && !*end
                        ? vps_checkpoint_lock_mounts((pid_t)init, getenv(VPS_CHECKPOINT_LOCK_ENV),
                                                     &err)
                        : vps_err(&err, EINVAL, "criu named no restored init");
        if (r == 0)
                return 0;
        /* "Error" first: the line vpsd reports of criu's log (vps_checkpoint_log_error). */
        fprintf(stderr, "Error (vpsd): locking the VPS's /proc and /sys: %s\n", err.msg);
        return 1;
}
