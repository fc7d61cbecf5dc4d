/* vpsd: stopping every VPS for a host shutdown. The daemon side answers POST /v1/shutdown
 * when the last VPS has stopped; the client side is `vpsd --shutdown-all`, what the
 * vps-shutdown unit runs before the host goes down (vpsd itself is stopped later and, as
 * always, leaves nothing running to kill). */
#include "shutdown.h"

#include "api.h"
#include "copy_job.h"
#include "events.h"
#include "jobs.h"
#include "log.h"
#include "starts.h"
#include "suspend_routes.h"
#include "throttle.h"
#include "trash.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void vpsd_shutdown_check(struct vpsd *d)
{
        if (!d->shutdown_waiters)
                return;
        for (size_t i = 0; i < d->m.n; i++)
                if (d->m.v[i]->status != VPS_STOPPED)
                        return;
        vpsd_log("shutdown: %u VPS%s stopped (%u killed at the timeout)", d->shutdown_count,
                 d->shutdown_count == 1 ? "" : "es", d->shutdown_killed);
        for (struct request *q = d->shutdown_waiters, *next; q; q = next) {
                next = vpsd_request_next(q);
                vpsd_request_finish(d, q, 200,
                                    json_pack("{s:I, s:I}", "stopped",
                                              (json_int_t)d->shutdown_count, "killed",
                                              (json_int_t)d->shutdown_killed));
        }
        d->shutdown_waiters = NULL;
        d->shutting_down = false;
}

void vpsd_answer_suspended(struct vpsd *d)
{
        vps_error err;
        vps_err(&err, ESHUTDOWN, "vpsd is exiting; the VPS goes on stopping");
        bool any = vpsd_job_answer_all(d);
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_loop *l = vpsd_loop_of(d->m.v[i]);
                for (struct request *q = l ? l->waiters : NULL, *next; q; q = next) {
                        next = vpsd_request_next(q);
                        vpsd_request_fail(d, q, &err);
                        any = true;
                }
                if (l) {
                        l->waiters = NULL;
                        l->after = AFTER_NOTHING;
                }
        }
        for (struct request *q = d->shutdown_waiters, *next; q; q = next) {
                next = vpsd_request_next(q);
                vpsd_request_fail(d, q, &err);
                any = true;
        }
        d->shutdown_waiters = NULL;
        any |= vpsd_trash_answer_all(d);
        any |= vpsd_copy_answer_all(d);
        any |= vpsd_criu_answer_all(d);
        any |= vpsd_starts_abort_all(d, &err);
        any |= (d->held.kick && vpsd_throttle_release(&d->held));
        any |= vpsd_events_end_all(d);
        /* Let libmicrohttpd send those answers before it stops. */
        for (int i = 0; any && i < 20; i++) {
                (void)MHD_run(d->mhd);
                if (d->tls_mhd)
                        (void)MHD_run(d->tls_mhd);
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

int vpsd_shutdown_all_client(const char *sock, int timeout)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(sock) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "vpsd: socket path too long: %s\n", sock);
                return 2;
        }
        strcpy(sa.sun_path, sock);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr,
                        "vpsd: --shutdown-all: cannot connect to %s: %s (is vpsd running?)\n", sock,
                        strerror(errno));
                return 1;
        }
        if (!vps_sock_peer_is_root(fd)) {
                fprintf(stderr, "vpsd: --shutdown-all: %s is not vpsd's socket (not root's)\n",
                        sock);
                return 1;
        }
        char body[64], req[256];
        int bl = snprintf(body, sizeof(body), "{\"timeout\": %d}", timeout);
        int rl = snprintf(req, sizeof(req),
                          "POST /v1/shutdown HTTP/1.0\r\nHost: localhost\r\n"
                          "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                          bl, body);
        if (write(fd, req, (size_t)rl) != rl) {
                fprintf(stderr, "vpsd: --shutdown-all: %s\n", strerror(errno));
                return 1;
        }
        /* HTTP/1.0: the answer ends when vpsd closes the connection. */
        char ans[4096];
        size_t n = 0;
        ssize_t k;
        while (n < sizeof(ans) - 1 && (k = read(fd, ans + n, sizeof(ans) - 1 - n)) > 0)
                n += (size_t)k;
        ans[n] = '\0';
        int status = 0;
        const char *json = strstr(ans, "\r\n\r\n");
        if (sscanf(ans, "HTTP/%*s %d", &status) != 1 || !json) {
                fprintf(stderr, "vpsd: --shutdown-all: no answer from vpsd\n");
                return 1;
        }
        _cleanup_json_ json_t *o = json_loads(json + 4, 0, NULL);
        if (status != 200) {
                const char *e = json_string_value(json_object_get(o, "error"));
                fprintf(stderr, "vpsd: --shutdown-all: %s\n", e ? e : "failed");
                return 1;
        }
        printf("vpsd: %lld VPS stopped, %lld killed at the timeout\n",
               (long long)json_integer_value(json_object_get(o, "stopped")),
               (long long)json_integer_value(json_object_get(o, "killed")));
        return 0;
}
