/* vpsd: vpsd's binary as criu's action script on a resume (suspend.c passes it with
 * --action-script): at "post-restore" it locks the restored VPS's /proc and /sys. */
#pragma once

#include <stdbool.h>

/* Was this process exec'd by criu as that script (no arguments, criu's action and vpsd's
 * cgroup variable in its environment)? */
bool vpsd_criu_action_called(int argc);
/* The script: 0 when done (or for another action), 1 after saying why on stderr, which is
 * criu's log; criu then kills the restored tasks and fails the restore. */
int vpsd_criu_action_main(void);
