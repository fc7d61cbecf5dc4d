/* vpsd: the remote API's socket. Its address is numeric (no name lookup at start); a re-exec
 * (SIGHUP) keeps the socket open across exec when `listen` still names it, so clients never
 * find the port closed, while the certificate is read again. */
#include "remote.h"

#include "api.h"
#include "audit.h"
#include "handlers.h"
#include "log.h"
#include "reexec.h"
#include "tls.h"
#include "vps/cleanup.h"
#include "vpsd.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vpsd_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
                      vps_error *err)
{
        char host[64];
        const char *colon = strrchr(s, ':');
        size_t hl = colon ? (size_t)(colon - s) : 0;
        if (!colon || hl == 0 || hl >= sizeof(host))
                return vps_err(err, EINVAL,
                               "listen takes ADDR:PORT ([ADDR]:PORT for IPv6), not "
                               "'%.60s'",
                               s);
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (host[0] == '[') {
                if (hl < 3 || host[hl - 1] != ']')
                        return vps_err(err, EINVAL, "listen: bad IPv6 address in '%.60s'", s);
                memmove(host, host + 1, hl - 2);
                host[hl - 2] = '\0';
        }
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 1 || port > 65535)
                return vps_err(err, EINVAL, "listen: the port must be 1 to 65535 in '%.60s'", s);
        memset(ret, 0, sizeof(*ret));
        struct sockaddr_in *v4 = (struct sockaddr_in *)ret;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ret;
        if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET;
                v4->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(*v4);
        } else if (strchr(host, ':') && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(*v6);
        } else {
                return vps_err(err, EINVAL, "listen: '%.60s' is not a numeric address", host);
        }
        return 0;
}

static int bind_listen(const struct sockaddr_storage *sa, socklen_t len, const char *text,
                       vps_error *err)
{
        _cleanup_close_ int fd =
                socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "socket for %s", text);
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (sa->ss_family == AF_INET6)
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)sa, len) < 0)
                return vps_err_sys(err, errno, "binding %s", text);
        if (listen(fd, 128) < 0)
                return vps_err_sys(err, errno, "listening on %s", text);
        return TAKE_FD(fd);
}

/* The socket a re-exec kept, when it is still the one asked for (else it is closed). */
static int kept_socket(int fd, const struct sockaddr_storage *sa, socklen_t len)
{
        struct sockaddr_storage have;
        socklen_t hl = sizeof(have);
        if (fd < 0)
                return -1;
        if (getsockname(fd, (struct sockaddr *)&have, &hl) == 0 && hl == len &&
            memcmp(&have, sa, len) == 0)
                return fd;
        close(fd);
        return -1;
}

int vpsd_remote_start(struct vpsd *d, const char *root, const struct vps_daemon_conf *conf,
                      vps_error *err)
{
        const char *listen = conf->listen;
        unsigned int per_client =
                conf->listen_client_limit ? conf->listen_client_limit : VPSD_LISTEN_CLIENT_LIMIT;
        /* The audit log rotates as vpsd.log does (log_max_size, log_keep). */
        d->audit_max = conf->log_max_size ? conf->log_max_size : VPSD_AUDIT_MAX;
        d->audit_keep = conf->log_keep ? conf->log_keep : VPSD_AUDIT_KEEP;
        d->rate.rate = conf->token_rate;
        d->rate.burst = conf->token_burst;
        d->events_queue = conf->events_queue;
        int r = vpsd_auth_open(&d->auth, root, err);
        if (r < 0 || (r = vpsd_audit_open(d, root, err)) < 0)
                return r;
        if (!listen || !*listen) {
                if (d->tls_fd >= 0)
                        close(d->tls_fd);
                d->tls_fd = -1;
                return 0;
        }
        struct sockaddr_storage sa;
        socklen_t len;
        if ((r = vpsd_listen_parse(listen, &sa, &len, err)) < 0 ||
            (r = vpsd_tls_load(root, d->tls_fp, err)) < 0)
                return r;
        d->tls_fd = kept_socket(d->tls_fd, &sa, len);
        if (d->tls_fd < 0 && (d->tls_fd = bind_listen(&sa, len, listen, err)) < 0)
                return d->tls_fd;
        if ((r = vpsd_api_init_tls(d, d->tls_fd, per_client, err)) < 0)
                return r;
        vpsd_log("remote API: https://%s, certificate %s", listen, d->tls_fp);
        return 0;
}

int vpsd_fingerprint_main(const char *root)
{
        vps_error err;
        char fp[VPSD_FP_LEN];
        if (vpsd_tls_load(root, fp, &err) < 0) {
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 1;
        }
        printf("%s\n", fp);
        return 0;
}

int vpsd_routes_main(void)
{
        for (size_t i = 0; i < vpsd_n_routes; i++) {
                const struct vpsd_route *rt = &vpsd_routes[i];
                char path[160];
                (void)snprintf(path, sizeof(path), "/v1/%s%s%s%s", rt->what,
                               rt->nparts >= 1 ? "/{}" : "", rt->action ? "/" : "",
                               rt->action ? rt->action : "");
                json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "method", rt->method, "path", path,
                                      "verb", vpsd_verb_name(rt->verb), "vps",
                                      !strcmp(rt->what, "vps") && rt->nparts >= 1);
                char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
                if (line)
                        printf("%s\n", line);
                free(line);
                json_decref(o);
        }
        return 0;
}
