/* vpsctl: its exit statuses, for scripts. One table, which --help prints and unit-manpage
 * holds against vpsctl(8)'s EXIT STATUS, and the map from an error's errno onto it. */
#include "vpsctl.h"

#include <errno.h>
#include <stdio.h>

const struct vpsctl_exit vpsctl_exits[] = {
        {0, "done"},
        {EXIT_FAIL, "failed for another reason"},
        {EXIT_USAGE, "usage error or bad value"},
        {EXIT_NOENT, "no such VPS or template"},
        {EXIT_EXISTS, "it already exists"},
        {EXIT_STATE, "wrong state (running, not running, or paused)"},
        {EXIT_REFUSED, "refused: a limit, a policy, permission, a port or address in use,"},
        {-1, "or what this host cannot do"},
        {EXIT_TIMEOUT, "timed out"},
        {EXIT_UNREACHABLE, "no vpsd answers at the socket"},
};
const size_t vpsctl_n_exits = sizeof(vpsctl_exits) / sizeof(vpsctl_exits[0]);

void vpsctl_print_exits(FILE *f)
{
        (void)fputs("Exit status:\n", f);
        for (size_t i = 0; i < vpsctl_n_exits; i++) {
                if (vpsctl_exits[i].status < 0)
                        (void)fprintf(f, "     %s\n", vpsctl_exits[i].what);
                else
                        (void)fprintf(f, "  %d  %s\n", vpsctl_exits[i].status,
                                      vpsctl_exits[i].what);
        }
}

int vpsctl_exit_for(int errnum)
{
        switch (errnum < 0 ? -errnum : errnum) {
        case EINVAL:
        case ERANGE:
        case ENAMETOOLONG:
        case E2BIG:
        case EBADMSG:
                return EXIT_USAGE;
        case ENOENT:
        case ESRCH:
                return EXIT_NOENT;
        case EEXIST:
                return EXIT_EXISTS;
        case EALREADY:
        case EBUSY:
        case EINPROGRESS:
                return EXIT_STATE;
        case EPERM:
        case EACCES:
        case EDQUOT:
        case ENOSPC:
        case EAGAIN:
        case EADDRINUSE: /* a port or address another holds */
        case EOPNOTSUPP: /* what this host cannot do: quotas, a cgroup controller */
                return EXIT_REFUSED;
        case ETIMEDOUT:
                return EXIT_TIMEOUT;
        case ECONNREFUSED:
        case ECONNRESET:
        case EPIPE:
        case EHOSTUNREACH: /* a remote's name that does not resolve */
        case ENETUNREACH:
                return EXIT_UNREACHABLE;
        default:
                return EXIT_FAIL;
        }
}
