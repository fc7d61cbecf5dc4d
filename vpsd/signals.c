/* vpsd: its signals, read from a signalfd in the loop. SIGTERM and SIGINT end the loop and
 * leave the VPSes running; SIGHUP re-executes the binary, once whatever must finish first
 * (reexec.c's blockers) has. */
#include "loop.h"
#include "signals.h"

#include "log.h"
#include "reexec.h"
#include "vpsd.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void on_signal(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct signalfd_siginfo si;
        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        vpsd_log("signal %d: exiting, VPSes keep running", (int)si.ssi_signo);
                        vpsd_event_exit(&d->ev);
                } else if (si.ssi_signo == SIGHUP) {
                        const char *why = vpsd_reexec_blocker(d);
                        d->reexec_wanted = true;
                        if (why)
                                vpsd_log("SIGHUP: not re-executing now: %s; it will when that "
                                         "is over",
                                         why);
                }
}

/* Before each round: a re-exec asked for goes ahead once nothing holds it (0: the loop ends
 * at once), else -1 (no timeout of ours). */
static int reexec_when_free(void *userdata)
{
        struct vpsd *d = userdata;
        if (!d->reexec_wanted || d->reexec || vpsd_reexec_blocker(d))
                return -1;
        vpsd_log("SIGHUP: re-executing, VPSes and consoles kept");
        d->reexec = true;
        vpsd_event_exit(&d->ev);
        return 0;
}

int vpsd_signals_init(struct vpsd *d, vps_error *err)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return vps_err_sys(err, errno, "sigprocmask");
        signal(SIGPIPE, SIG_IGN);
        d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->sigfd < 0)
                return vps_err_sys(err, errno, "signalfd");
        (void)vpsd_event_add_prepare(&d->ev, reexec_when_free, d);
        return vpsd_event_add(&d->ev, &d->w_sig, d->sigfd, EPOLLIN, on_signal, d, err);
}
