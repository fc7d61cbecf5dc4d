/* vpsd: serving sysinfo(2) for VPS processes, the loop's side. Each VPS init's seccomp filter
 * sends sysinfo calls to a listener that the start hands to vpsd (and a copy to the console
 * keeper, so a new vpsd takes it back after a crash); `vpsctl exec` hands the listener of its
 * command's filter over RUN_DIR/sysinfo.sock (the root's run directory, 0700), from host root
 * only: a listener lets its holder answer the command's syscalls and put fds into it. The
 * listeners and that socket are served by the sysinfo thread (sysinfo_thread.c), not by the
 * loop: the loop hands listeners over and publishes the running VPSes' plans
 * (sysinfo_handover.c) after each round. */
#include "notify.h"

#include "log.h"
#include "sysinfo_handover.h"
#include "sysinfo_thread.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"
#include "vps/util.h"
#include "sandbox/sandbox.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int vpsd_notify_init(struct vpsd *d, vps_error *err)
{
        d->sysinfo_fd = -1;
        return vpsd_sysinfo_shared_init(&d->si_shared, err);
}

void vpsd_notify_add(struct vpsd *d, int listener)
{
        if (listener < 0)
                return;
        /* Its VPS's plan before its first call is read (the round's end is later). */
        vpsd_sysinfo_publish(&d->si_shared, &d->m);
        vpsd_sysinfo_give(&d->si_shared, vps_fd_high(listener));
}

void vpsd_notify_publish(void *userdata)
{
        struct vpsd *d = userdata;
        vpsd_sysinfo_publish(&d->si_shared, &d->m);
}

static int listen_socket(struct vpsd *d, vps_error *err)
{
        /* In the run directory vps_manager_open made root-only; vpsd holds the root's lock, so
         * a socket file there is a previous vpsd's (before a re-exec or a crash). */
        int n = snprintf(d->sysinfo_path, sizeof(d->sysinfo_path), "%s/%s/sysinfo.sock",
                         VPS_RUN_DIR, d->m.run_name);
        if (n < 0 || (size_t)n >= sizeof(d->sysinfo_path))
                return vps_err(err, ENAMETOOLONG, "the sysinfo socket's path is too long");
        return vps_sock_listen_path(d->sysinfo_path, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                    64, err);
}

int vpsd_notify_start(struct vpsd *d, vps_error *err)
{
        vps_error e;
        _cleanup_close_ int fd = listen_socket(d, &e);
        /* Without it exec'd commands keep the host's sysinfo; the VPSes' inits are served. */
        if (fd < 0)
                vpsd_log("sysinfo: %s; exec'd commands see the host's figures", e.msg);
        vpsd_sysinfo_publish(&d->si_shared, &d->m);
        int r = vpsd_sysinfo_start(&d->si_thread, &d->si_shared, fd, d->guest_timeout,
                                   d->m.cg.mount, err);
        if (r < 0)
                return r;
        d->sysinfo_fd = TAKE_FD(fd); /* the thread's now; kept for its number */
        return 0;
}

void vpsd_notify_stop(struct vpsd *d)
{
        vpsd_sysinfo_stop(d->si_thread);
}

size_t vpsd_notify_inherit_env(struct vpsd *d, char *buf, size_t size)
{
        vpsd_notify_stop(d);
        int fds[1024];
        size_t k = vpsd_sysinfo_listeners(d->si_thread, fds, 1024), n = 0;
        for (size_t i = 0; i < k && n < size; i++) {
                int fl = fcntl(fds[i], F_GETFD);
                if (fl < 0 || fcntl(fds[i], F_SETFD, fl & ~FD_CLOEXEC) < 0)
                        continue;
                int w = snprintf(buf + n, size - n, "|n=%d", fds[i]);
                n += w > 0 ? (size_t)w : 0;
        }
        return n < size ? n : size - 1;
}

void vpsd_notify_inherit(struct vpsd *d, const char *env)
{
        for (const char *p = env ? strstr(env, "|n=") : NULL; p; p = strstr(p + 3, "|n=")) {
                int fd = atoi(p + 3);
                if (fd > 2 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && vps_sysinfo_is_listener(fd))
                        vpsd_notify_add(d, fd);
        }
}
