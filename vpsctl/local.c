/* vpsctl: a plain request on vpsd's local socket without libcurl (local.h). The socket is
 * connected and its peer checked to be root by conn_local before a byte goes out, as for the
 * streams; the request says "Connection: close", so the answer ends with its Content-Length,
 * its last chunk, or the connection. */
#include "local.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#define RECV_CHUNK 16384

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct xfer {
        struct conn *c;
        int64_t deadline; /* CLOCK_MONOTONIC ms, or -1 */
        long timeout_s;
};

static int timed_out(const struct xfer *x)
{
        return vps_err(x->c->err, ETIMEDOUT, "%s did not answer within %ld seconds", x->c->where,
                       x->timeout_s);
}

/* Waits for events on the socket until the deadline: 0, or -errno with err set. */
static int wait_for(const struct xfer *x, short events)
{
        struct pollfd p = {.fd = x->c->fd, .events = events};
        for (;;) {
                int64_t left = x->deadline < 0 ? -1 : x->deadline - now_ms();
                if (x->deadline >= 0 && left <= 0)
                        return timed_out(x);
                int n = poll(&p, 1, left < 0 ? -1 : left > 60000 ? 60000 : (int)left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return vps_err_sys(x->c->err, errno, "talking to %s", x->c->where);
        }
}

static int too_large(const struct xfer *x, size_t max)
{
        return vps_err(x->c->err, EMSGSIZE, "the reply of %s is larger than %zu bytes", x->c->where,
                       max);
}

static int send_all(const struct xfer *x, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(x->c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = errno == EAGAIN ? wait_for(x, POLLOUT) : 0;
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return vps_err_sys(x->c->err, errno, "talking to %s", x->c->where);
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* What has come appended to *buf (at most max bytes in all: -EMSGSIZE past it, err not set);
 * 0 at the end of the stream, else how many. */
static ssize_t recv_more(const struct xfer *x, char **buf, size_t *len, size_t *cap, size_t max)
{
        char chunk[RECV_CHUNK];
        for (;;) {
                ssize_t n = recv(x->c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = errno == EAGAIN ? wait_for(x, POLLIN) : 0;
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return vps_err_sys(x->c->err, errno, "talking to %s", x->c->where);
                int r = vps_buf_append(buf, len, cap, chunk, (size_t)n, max, 0);
                if (r == -EMSGSIZE)
                        return vps_err(x->c->err, EMSGSIZE,
                                       "the reply of %s is larger than %zu bytes", x->c->where,
                                       max - HTTP_HEAD_MAX);
                if (r < 0)
                        return vps_err(x->c->err, ENOMEM, "reading the reply: %s",
                                       strerror(ENOMEM));
                return n;
        }
}

/* A chunked body (RFC 9112 7.1) undone in place: each "SIZE[;ext]\r\nDATA\r\n" up to the
 * chunk of size 0 (trailers ignored). -EBADMSG when malformed or cut short. */
static ssize_t unchunk(char *b, size_t len)
{
        size_t in = 0, out = 0;
        for (;;) {
                size_t size = 0, digits = 0;
                for (; in < len; in++, digits++) {
                        char ch = b[in];
                        unsigned int v = ch >= '0' && ch <= '9'   ? (unsigned int)(ch - '0')
                                         : ch >= 'a' && ch <= 'f' ? (unsigned int)(ch - 'a' + 10)
                                         : ch >= 'A' && ch <= 'F' ? (unsigned int)(ch - 'A' + 10)
                                                                  : 16;
                        if (v == 16)
                                break;
                        if (digits >= 15)
                                return -EBADMSG;
                        size = size * 16 + v;
                }
                const char *eol = digits ? memmem(b + in, len - in, "\r\n", 2) : NULL;
                if (!eol)
                        return -EBADMSG;
                in = (size_t)(eol - b) + 2;
                if (size == 0)
                        return (ssize_t)out;
                if (size > len - in || len - in - size < 2 || memcmp(b + in + size, "\r\n", 2))
                        return -EBADMSG;
                memmove(b + out, b + in, size);
                out += size;
                in += size + 2;
        }
}

/* The body (at most max bytes) after a head of hlen bytes in *buf: read to its length, or to
 * the end. */
static int read_body(const struct xfer *x, const struct http_head *h, size_t hlen, char **buf,
                     size_t *len, size_t *cap, size_t max)
{
        if (!h->chunked && h->content_length >= 0 && (size_t)h->content_length > max)
                return too_large(x, max);
        size_t want =
                !h->chunked && h->content_length >= 0 ? hlen + (size_t)h->content_length : SIZE_MAX;
        /* a chunked body's sizes and line ends are not its bytes: a little more room */
        size_t limit = hlen + max + (h->chunked ? max / 8 + 64 : 0);
        while (*len < want) {
                ssize_t n = recv_more(x, buf, len, cap, limit);
                if (n == -EMSGSIZE)
                        return too_large(x, max);
                if (n < 0)
                        return (int)n;
                if (n == 0 && want != SIZE_MAX)
                        return vps_err(
                                x->c->err, ECONNRESET,
                                "talking to %s: the connection closed before the reply's end",
                                x->c->where);
                if (n == 0)
                        break;
        }
        *len = want == SIZE_MAX ? *len : want; /* nothing past the body counts */
        memmove(*buf, *buf + hlen, *len - hlen);
        *len -= hlen;
        if (h->chunked) {
                ssize_t n = unchunk(*buf, *len);
                if (n < 0)
                        return vps_err(x->c->err, EBADMSG,
                                       "talking to %s: malformed reply: a bad chunked body",
                                       x->c->where);
                *len = (size_t)n;
        }
        if (*len > max)
                return too_large(x, max);
        (*buf)[*len] = '\0';
        return 0;
}

int local_exchange(const struct client_target *t, const char *method, const char *path,
                   const char *payload, bool with_length, long timeout_s, size_t max,
                   struct local_reply *ret, vps_error *err)
{
        __attribute__((cleanup(conn_done))) struct conn c = {0};
        *ret = (struct local_reply){0};
        _cleanup_free_ char *req = NULL;
        size_t req_len = 0;
        if (http_plain_request(method, "localhost", path, payload, with_length, &req, &req_len,
                               err) < 0)
                return -err->code;
        int r = conn_local_within(&c, t, timeout_s, err);
        if (r < 0)
                return r;
        struct xfer x = {.c = &c,
                         .deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : -1,
                         .timeout_s = timeout_s};
        if ((r = send_all(&x, req, req_len)) < 0)
                return r;

        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0, hlen = 0;
        while (!(hlen = http_head_end(buf ? buf : "", len))) {
                ssize_t n = recv_more(&x, &buf, &len, &cap, HTTP_HEAD_MAX + RECV_CHUNK);
                if (n == -EMSGSIZE || (n > 0 && len > HTTP_HEAD_MAX && !http_head_end(buf, len)))
                        return vps_err(err, EBADMSG, "the reply of %s has too long headers",
                                       c.where);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return vps_err(err, ECONNRESET,
                                       len ? "talking to %s: the connection "
                                             "closed before the reply's end"
                                           : "talking to %s: the connection "
                                             "closed without a reply",
                                       c.where);
        }
        struct http_head h;
        if (hlen > HTTP_HEAD_MAX)
                return vps_err(err, EBADMSG, "the reply of %s has too long headers", c.where);
        if (http_head_parse(buf, hlen, &h, err) < 0)
                return vps_err_wrap(err, "talking to %s", c.where);
        if ((r = read_body(&x, &h, hlen, &buf, &len, &cap, max)) < 0)
                return r;
        ret->status = h.status;
        ret->body = len ? TAKE_PTR(buf) : NULL;
        ret->len = len;
        return 0;
}
