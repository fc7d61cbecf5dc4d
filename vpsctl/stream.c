/* vpsctl: the API's upgraded streams (docs/api.md): a POST upgraded to a protocol of frames
 * (vps/backup.h; the connection is client_stream_open's, upgrade.c), the progress frames
 * vpsd sends on them shown on the terminal, and the copies (snapshot, snapshot-switch,
 * clone) followed through a vps-progress stream. */
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

int vpsctl_stream_open(const struct vpsctl *v, const char *path, const char *proto,
                       const char *body, int *ret_fd, json_t **ret_plain, vps_error *err)
{
        return client_stream_open(&v->target, path, proto, body, ret_fd, ret_plain, err);
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
                return client_request(&v->target, "POST", path, body, TIMEOUT_NONE, ret, err);
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
