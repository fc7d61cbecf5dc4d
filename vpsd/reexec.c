/* vpsd: upgrading in place. SIGHUP makes vpsd exec its own binary again (the new one after a
 * package upgrade) with the same arguments, keeping the API socket and every running VPS's
 * console pty (master and the held slave) open across exec, so no guest console is hung up
 * and no client finds the socket missing. The fds are named in VPSD_INHERIT
 * ("listen=FD;ID=MASTER,HOLD;...", then "|n=FD" sysinfo listeners and "|r=..." restarts held
 * back). stderr, vpsd.log, stays open as it is. The VPSes themselves are re-adopted from their
 * state as after any restart, and stay children of this same process. */
#include "reexec.h"

#include "backup.h"
#include "builds.h"
#include "copy_job.h"
#include "exec.h"
#include "starts.h"
#include "log.h"
#include "notify.h"
#include "pause_routes.h"
#include "restart.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INHERIT_ENV "VPSD_INHERIT"

static char **saved_argv;

void vpsd_reexec_save_argv(char **argv)
{
        saved_argv = argv;
}

static int keep_open(int fd)
{
        int fl = fcntl(fd, F_GETFD);
        return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

const char *vpsd_reexec_blocker(struct vpsd *d)
{
        for (size_t i = 0; i < VPSD_BUILDS; i++)
                if (d->builds[i].used && d->builds[i].b.pidfd >= 0)
                        return "a template build is running";
        for (size_t i = 0; i < d->m.n; i++)
                if (d->m.v[i]->status == VPS_STOPPING)
                        return "a VPS is stopping";
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_loop *l = d->m.v[i]->loop_data;
                if (l && l->job)
                        return "a change to a running VPS is under way";
                /* Its child reports to this process's loop: a resumed init is taken there. */
                if (l && l->criu)
                        return "a VPS is being suspended or resumed";
        }
        if (d->trash)
                return "a destroyed VPS's files are being removed";
        if (vpsd_pause_pending(d))
                return "a VPS is being paused";
        if (vpsd_copy_running(d))
                return "a snapshot, switch, clone or reinstall is under way";
        /* Its child reports to this process's loop, which publishes a restored VPS. */
        if (vpsd_streams_running())
                return "a backup or restore is under way";
        if (vpsd_starts_pending(d))
                return "a VPS is starting";
        return d->shutting_down ? "every VPS is being stopped" : NULL;
}

void vpsd_reexec(struct vpsd *d)
{
        /* Only what the new image is told of crosses the exec. libmicrohttpd's own sockets
         * (the socketpair an upgraded TLS connection is relayed through) are not close-on-exec:
         * left open there, they kept a remote command's connection alive with nobody at the
         * other end (its command never hung up on) and went on into every child. */
        (void)vps_sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        size_t cap = 64 + d->m.n * (96 + VPS_ID_MAX + 48) + vpsd_exec_sessions() * 80 + 4096, n = 0;
        _cleanup_free_ char *env = malloc(cap);
        int listen_fd = MHD_quiesce_daemon(d->mhd); /* MHD stops accepting, leaves it open */
        if (!env || listen_fd < 0 || keep_open(listen_fd) < 0) {
                vpsd_log("re-exec: cannot keep the API socket: %s", strerror(errno));
                return;
        }
        n += (size_t)snprintf(env + n, cap - n, "listen=%d", listen_fd);
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_inst *vi = d->m.v[i];
                if (vi->status != VPS_RUNNING || vi->console_fd < 0 || vi->console_hold < 0 ||
                    keep_open(vi->console_fd) < 0 || keep_open(vi->console_hold) < 0)
                        continue;
                n += (size_t)snprintf(env + n, cap - n, ";%s=%d,%d", vi->cfg.id, vi->console_fd,
                                      vi->console_hold);
        }
        /* The remote API's socket: "|t=FD". */
        int tls_fd = d->tls_mhd ? MHD_quiesce_daemon(d->tls_mhd) : -1;
        if (tls_fd >= 0 && keep_open(tls_fd) == 0)
                n += (size_t)snprintf(env + n, cap - n, "|t=%d", tls_fd);
        /* The sysinfo listeners: "|n=FD" (no VPS ID has a '|'). */
        n += vpsd_notify_inherit_env(d, env + n, cap - n);
        /* Restarts held back (a reboot loop): "|r=ID,AT,RESTARTS,DELAY". */
        n += vpsd_restart_inherit_env(d, env + n, cap - n);
        /* Commands run through the API (exec.c): "|x=PID,ID", reaped by the new image. */
        n += vpsd_exec_inherit_env(env + n, cap - n);
        /* The same arguments but --daemon: this process is detached already, and its PID,
         * the parent of every VPS init, must stay. */
        int argc = 0;
        while (saved_argv[argc])
                argc++;
        char **argv = calloc((size_t)argc + 1, sizeof(char *));
        if (!argv)
                return;
        int k = 0;
        for (int i = 0; i < argc; i++)
                if (strcmp(saved_argv[i], "--daemon") != 0 && strcmp(saved_argv[i], "-d") != 0)
                        argv[k++] = saved_argv[i];
        /* The binary at our path now (an upgrade replaced it), not the deleted old inode. */
        char exe[4096];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[len > 0 ? len : 0] = '\0';
        size_t el = strlen(exe), dl = strlen(" (deleted)");
        if (el > dl && strcmp(exe + el - dl, " (deleted)") == 0)
                exe[el - dl] = '\0';
        setenv(INHERIT_ENV, env, 1);
        /* The claims' locks stay with this process across exec while their fds stay open; the
         * new image takes them again and closes these (VPSD_CLAIM_FDS). */
        vps_claims_keep_across_exec(&d->claims);
        char claims[64];
        (void)snprintf(claims, sizeof(claims), "%d,%d,%d", d->claims.fd[0], d->claims.fd[1],
                       d->claims.fd[2]);
        setenv("VPSD_CLAIM_FDS", claims, 1);
        vpsd_log("re-exec of %s: %s", exe, env);
        fflush(NULL);
        execv(exe[0] ? exe : "/proc/self/exe", argv);
        vpsd_log("re-exec failed: %s; exiting, VPSes keep running", strerror(errno));
        unsetenv(INHERIT_ENV);
        free(argv);
}

int vpsd_inherited_listen_fd(void)
{
        const char *env = getenv(INHERIT_ENV);
        int fd = -1;
        if (env && sscanf(env, "listen=%d", &fd) == 1 && fcntl(fd, F_GETFD) >= 0) {
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
                return fd;
        }
        return -1;
}

int vpsd_inherited_tls_fd(void)
{
        const char *env = getenv(INHERIT_ENV);
        const char *at = env ? strstr(env, "|t=") : NULL;
        int fd = -1;
        if (at && sscanf(at, "|t=%d", &fd) == 1 && fd > 2 && fcntl(fd, F_GETFD) >= 0) {
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
                return fd;
        }
        return -1;
}

/* The inherited description, kept past vpsd_inherit_consoles (which clears it from the
 * environment) for what can only be taken back once the loop exists. */
static char *inherited;

void vpsd_inherit_sessions(struct vpsd *d)
{
        vpsd_exec_inherit(d, inherited);
        free(inherited);
        inherited = NULL;
}

void vpsd_inherit_consoles(struct vpsd *d)
{
        const char *env = getenv(INHERIT_ENV);
        pid_t self = getpid();
        free(inherited);
        inherited = env ? strdup(env) : NULL;
        vpsd_notify_inherit(d, env);
        vpsd_restart_inherit(d, env);
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_inst *vi = d->m.v[i];
                if (vi->status != VPS_RUNNING)
                        continue;
                /* An init this process started before its exec is still its child (from its
                 * status: a guest can hold a read of its stat, base/proc.c). */
                if (vps_proc_ppid(vi->st.pid) == self)
                        vi->is_child = true;
                if (!env)
                        continue;
                char key[VPS_ID_MAX + 3];
                (void)snprintf(key, sizeof(key), ";%s=", vi->cfg.id);
                const char *at = strstr(env, key);
                int master = -1, hold = -1;
                if (!at || sscanf(at + strlen(key), "%d,%d", &master, &hold) != 2 ||
                    fcntl(master, F_GETFD) < 0 || fcntl(hold, F_GETFD) < 0)
                        continue;
                (void)fcntl(master, F_SETFD, FD_CLOEXEC);
                (void)fcntl(hold, F_SETFD, FD_CLOEXEC);
                (void)fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
                vi->console_fd = vps_fd_high(master);
                vi->console_hold = vps_fd_high(hold);
        }
        unsetenv(INHERIT_ENV);
}
