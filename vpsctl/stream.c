/* vpsctl: the API's upgraded streams (docs/api.md): a POST upgraded to a protocol of frames
 * (vps/backup.h), the progress frames vpsd sends on them shown on the terminal, and the
 * copies (snapshot, snapshot-switch, clone) followed through a vps-progress stream. */
#include "vpsctl.h"
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "storage/backup.h"
#include "vps/cleanup.h"

#define HEAD_MAX 8192

static int send_all(int fd, const char *p, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* The reply's head, byte by byte up to the empty line: what follows belongs to the stream. */
static int read_head(int fd, char *head, vps_error *err)
{
        size_t len = 0;
        while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
                if (len == HEAD_MAX)
                        return vps_err(err, EBADMSG, "the reply of vpsd has too long headers");
                ssize_t n = read(fd, head + len, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return vps_err(err, ECONNRESET, "vpsd closed the connection");
                len++;
        }
        head[len] = '\0';
        return 0;
}

/* A reply other than 101: its JSON body as the error, or a 2xx one's as the answer in *ret
 * when ret is given (a vpsd that does not know the upgrade did the request as a plain one). */
static int refused(int fd, const char *head, int status, json_t **ret, vps_error *err)
{
        const char *cl = strcasestr(head, "\r\nContent-Length:");
        long want = cl ? strtol(cl + 17, NULL, 10) : 65536;
        if (want < 0 || want > 65536)
                want = 65536;
        _cleanup_free_ char *body = malloc((size_t)want + 1);
        size_t have = 0;
        while (body && have < (size_t)want) {
                ssize_t n = read(fd, body + have, (size_t)want - have);
                if (n <= 0)
                        break;
                have += (size_t)n;
        }
        if (ret && status / 100 == 2 && body) {
                *ret = json_loadb(body, have, 0, NULL);
                return *ret ? 0 : vps_err(err, EBADMSG, "a bad answer from vpsd");
        }
        return client_error_from_body(body ? body : "", have, status, err);
}

int vpsctl_stream_open(const struct vpsctl *v, const char *path, const char *proto,
                       const char *body, int *ret_fd, json_t **ret_plain, vps_error *err)
{
        _cleanup_close_ int fd = client_connect(v->socket, err);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *req = NULL;
        size_t blen = body ? strlen(body) : 0;
        if (asprintf(&req,
                     "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
                     "Upgrade: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "\r\n%s",
                     path, proto, blen, body ? body : "") < 0)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        int r = send_all(fd, req, strlen(req));
        if (r < 0)
                return vps_err_sys(err, -r, "sending the request to vpsd");
        char head[HEAD_MAX + 1];
        if ((r = read_head(fd, head, err)) < 0)
                return r;
        int status = 0;
        if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
                return vps_err(err, EBADMSG, "invalid reply from vpsd: not HTTP");
        if (status != 101)
                return refused(fd, head, status, ret_plain, err);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void vpsctl_progress_show(struct vpsctl_progress *p, const char *json, size_t len)
{
        if (!p->on)
                return;
        _cleanup_json_ json_t *j = json_loadb(json, len, 0, NULL);
        const char *phase = json_string_value(json_object_get(j, "phase"));
        const char *unit = json_string_value(json_object_get(j, "unit"));
        double done = (double)json_integer_value(json_object_get(j, "done"));
        double total = (double)json_integer_value(json_object_get(j, "total"));
        long long files = (long long)json_integer_value(json_object_get(j, "files"));
        double mib = (double)json_integer_value(json_object_get(j, "bytes")) / (1024.0 * 1024.0);
        bool bytes = unit && !strcmp(unit, "bytes");
        if (phase && !strcmp(phase, "capture"))
                fprintf(stderr, "\r%s: capturing the running VPS's files\033[K", p->what);
        else if (total > 0 && bytes)
                fprintf(stderr, "\r%s: %3.0f%% (%.1f of %.1f MiB %s), %lld files\033[K", p->what,
                        100.0 * done / total, done / (1024.0 * 1024.0), total / (1024.0 * 1024.0),
                        p->verb ? p->verb : "copied", files);
        else if (total > 0)
                fprintf(stderr, "\r%s: %3.0f%% (%.0f of %.0f files), %.1f MiB\033[K", p->what,
                        100.0 * done / total, done, total, mib);
        else
                fprintf(stderr, "\r%s: %lld files, %.1f MiB\033[K", p->what, files, mib);
        p->shown = true;
}

void vpsctl_progress_done(struct vpsctl_progress *p)
{
        if (p->shown)
                fputc('\n', stderr);
        p->shown = false;
}

/* The frames of a vps-progress stream: 'P' shown, then 'K' (the answer) or 'E'. */
static int follow(int fd, struct vpsctl_progress *p, json_t **ret, vps_error *err)
{
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        if (!buf)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        for (;;) {
                char type;
                size_t n;
                int r = vps_frame_read(fd, &type, buf, &n, err);
                if (r == -ECONNRESET)
                        r = vps_err(err, ECONNRESET, "vpsd ended the stream without a result");
                if (r < 0)
                        return r;
                if (type == 'P') {
                        vpsctl_progress_show(p, buf, n);
                        continue;
                }
                vpsctl_progress_done(p);
                if (type == 'E')
                        return client_error_from_body(buf, n, 500, err);
                if (type != 'K')
                        return vps_err(err, EPROTO, "an unexpected frame from vpsd");
                *ret = json_loadb(buf, n, 0, NULL);
                return *ret ? 0 : vps_err(err, EBADMSG, "a bad result from vpsd");
        }
}

int vpsctl_copy_request(const struct vpsctl *v, const char *what, json_t *body, json_t **ret,
                        vps_error *err, const char *path_fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        va_list ap;
        va_start(ap, path_fmt);
        int r = vpsctl_vpath(&path, err, path_fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        if (!what || !isatty(STDERR_FILENO))
                return client_request(v->socket, "POST", path, body, TIMEOUT_NONE, ret, err);
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        _cleanup_close_ int fd = -1;
        *ret = NULL;
        r = vpsctl_stream_open(v, path, "vps-progress", text, &fd, ret, err);
        if (r < 0 || *ret)
                return r; /* refused, or answered as a plain request */
        struct vpsctl_progress p = {.on = true, .what = what};
        r = follow(fd, &p, ret, err);
        vpsctl_progress_done(&p);
        return r;
}
