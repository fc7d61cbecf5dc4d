/* vpsd: the start-up probe of CRIU (checkpoint/checkpoint.h). A child runs criu's own check,
 * which takes a few hundred milliseconds and may hang on an odd kernel: the loop only watches
 * its pidfd, then reads its report, logs one line and keeps the answer in d->criu. */
#include "criu_probe.h"

#include "log.h"
#include "suspend_routes.h"
#include "loop.h"
#include "vpsd.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

static void log_status(const struct vpsd *d)
{
        char line[700];
        vps_criu_describe(&d->criu, line, sizeof(line));
        vpsd_log("checkpoint: %s", line);
}

static void on_end(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        char report[VPS_CRIU_REPORT_MAX + 1];
        ssize_t n = read(d->criu_out, report, sizeof(report) - 1);
        report[n > 0 ? n : 0] = '\0';
        vps_criu_parse_report(report, &d->criu);
        siginfo_t si;
        (void)waitid(P_PIDFD, (id_t)s->fd, &si, WEXITED | WNOHANG);
        vpsd_timer_free(&d->ev, s); /* the pidfd */
        vps_closep(&d->criu_out);
        log_status(d);
        vpsd_criu_probed(d);
}

void vpsd_criu_probe(struct vpsd *d)
{
        pid_t pid;
        int pidfd, out;
        vps_error err;
        d->w_criu.fd = d->criu_out = -1;
        if (vps_criu_probe_start(&d->criu, &pid, &pidfd, &out, &err) < 0) {
                d->criu.state = VPS_CRIU_UNAVAILABLE;
                (void)snprintf(d->criu.why, sizeof(d->criu.why), "the probe did not start: %.400s",
                               err.msg);
        } else if (pid > 0) {
                d->criu_out = out;
                if (vpsd_event_add(&d->ev, &d->w_criu, pidfd, EPOLLIN, on_end, d, &err) == 0)
                        return;
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                close(pidfd);
                vps_closep(&d->criu_out);
                d->criu.state = VPS_CRIU_UNAVAILABLE;
                (void)snprintf(d->criu.why, sizeof(d->criu.why),
                               "the probe was not watched: %.400s", err.msg);
        }
        log_status(d);
        vpsd_criu_probed(d);
}
