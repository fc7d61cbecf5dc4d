/* vpsctl: a request on vpsd's local socket without libcurl (local.h). The socket is connected
 * and its peer checked to be root by conn_local before a byte goes out, as for the upgraded
 * streams; the request says "Connection: close", so the answer ends with its Content-Length,
 * its last chunk, or the connection. Its body is handed on as it comes (chunks undone), to a
 * buffer or to a streaming caller. */
#include "local.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
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

/* Waits for events on the socket until the deadline: 0, or -errno with err set. */
static int wait_for(const struct xfer *x, short events)
{
        struct pollfd p = {.fd = x->c->fd, .events = events};
        for (;;) {
                int64_t left = x->deadline < 0 ? -1 : x->deadline - now_ms();
                if (x->deadline >= 0 && left <= 0)
                        return vps_err(x->c->err, ETIMEDOUT, "%s did not answer within %ld seconds",
                                       x->c->where, x->timeout_s);
                int n = poll(&p, 1, left < 0 ? -1 : left > 60000 ? 60000 : (int)left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return vps_err_sys(x->c->err, errno, "talking to %s", x->c->where);
        }
}

/* One transfer each way of the socket, waiting (up to the deadline) while it would block. */
static ssize_t io(const struct xfer *x, bool out, void *buf, size_t len)
{
        for (;;) {
                ssize_t n = out ? send(x->c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                                : recv(x->c->fd, buf, len, MSG_DONTWAIT);
                if (n >= 0)
                        return n;
                if (errno == EAGAIN) {
                        int r = wait_for(x, out ? POLLOUT : POLLIN);
                        if (r < 0)
                                return r;
                } else if (errno != EINTR) {
                        return vps_err_sys(x->c->err, errno, "talking to %s", x->c->where);
                }
        }
}

/* --- the body, as it comes ------------------------------------------------------------- */

struct body {
        const struct xfer *x;
        bool chunked;
        uint64_t left; /* of a Content-Length (UINT64_MAX: to the end), or of the chunk */
        enum { B_SIZE, B_DATA, B_DATA_END, B_TRAILER, B_DONE } st;
        uint64_t size; /* the chunk size being read */
        unsigned int digits;
        bool ext;        /* past the chunk size: an extension, ignored */
        unsigned int nl; /* line ends in a row in the trailer */
        int (*emit)(const char *data, size_t len, void *arg);
        void *arg;
};

static int bad_chunks(const struct body *b)
{
        return vps_err(b->x->c->err, EBADMSG, "talking to %s: malformed reply: a bad chunked body",
                       b->x->c->where);
}

/* Takes n bytes of what came: its content to emit, the chunk framing undone. */
static int body_take(struct body *b, const char *p, size_t n)
{
        while (n > 0 && b->st != B_DONE) {
                if (!b->chunked || b->st == B_DATA) {
                        size_t k = b->left < n ? (size_t)b->left : n;
                        int r = b->emit(p, k, b->arg);
                        if (r < 0)
                                return r;
                        p += k;
                        n -= k;
                        if (b->left != UINT64_MAX)
                                b->left -= k;
                        if (b->left == 0)
                                b->st = b->chunked ? B_DATA_END : B_DONE;
                        continue;
                }
                char ch = *p++;
                n--;
                switch (b->st) {
                case B_SIZE: {
                        unsigned int v = ch >= '0' && ch <= '9'   ? (unsigned int)(ch - '0')
                                         : ch >= 'a' && ch <= 'f' ? (unsigned int)(ch - 'a' + 10)
                                         : ch >= 'A' && ch <= 'F' ? (unsigned int)(ch - 'A' + 10)
                                                                  : 16;
                        if (v < 16 && !b->ext) {
                                if (++b->digits > 15)
                                        return bad_chunks(b);
                                b->size = b->size * 16 + v;
                        } else if (ch == '\n') {
                                if (!b->digits)
                                        return bad_chunks(b);
                                b->left = b->size;
                                b->st = b->size ? B_DATA : B_TRAILER;
                                b->size = b->digits = 0;
                                b->ext = false;
                                b->nl = 1;
                        } else if (ch == ';' || ch == '\r' || b->ext) {
                                b->ext = b->digits > 0; /* ";ext" or the CR of CRLF */
                                if (!b->ext)
                                        return bad_chunks(b);
                        } else {
                                return bad_chunks(b);
                        }
                        break;
                }
                case B_DATA_END: /* the CRLF after a chunk's data */
                        if (ch == '\n')
                                b->st = B_SIZE;
                        else if (ch != '\r')
                                return bad_chunks(b);
                        break;
                case B_TRAILER: /* header lines after the last chunk, up to an empty one */
                        if (ch == '\n' && ++b->nl == 2)
                                b->st = B_DONE;
                        else if (ch != '\r' && ch != '\n')
                                b->nl = 0;
                        break;
                default:
                        break;
                }
        }
        return 0;
}

/* The answer read from the socket: its head (its status to on_status), then its body handed
 * to emit as it comes, the bytes that came with the head first. */
static int exchange(const struct xfer *x, char *head, int (*on_status)(long status, void *arg),
                    int (*emit)(const char *data, size_t len, void *arg), void *arg)
{
        size_t len = 0, hlen = 0;
        while (!(hlen = http_head_end(head, len))) {
                if (len >= HTTP_HEAD_MAX + RECV_CHUNK - 1 ||
                    (len > HTTP_HEAD_MAX && !http_head_end(head, len)))
                        return vps_err(x->c->err, EBADMSG, "the reply of %s has too long headers",
                                       x->c->where);
                ssize_t n = io(x, false, head + len, HTTP_HEAD_MAX + RECV_CHUNK - 1 - len);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return vps_err(x->c->err, ECONNRESET,
                                       len ? "talking to %s: the connection closed before the "
                                             "reply's end"
                                           : "talking to %s: the connection closed without a "
                                             "reply",
                                       x->c->where);
                len += (size_t)n;
        }
        struct http_head h;
        if (hlen > HTTP_HEAD_MAX)
                return vps_err(x->c->err, EBADMSG, "the reply of %s has too long headers",
                               x->c->where);
        if (http_head_parse(head, hlen, &h, x->c->err) < 0)
                return vps_err_wrap(x->c->err, "talking to %s", x->c->where);
        int r = on_status(h.status, arg);
        if (r < 0)
                return r;
        struct body b = {.x = x,
                         .chunked = h.chunked,
                         .left = h.chunked || h.content_length < 0 ? UINT64_MAX
                                                                   : (uint64_t)h.content_length,
                         .st = h.chunked ? B_SIZE : B_DATA,
                         .emit = emit,
                         .arg = arg};
        if (!h.chunked && b.left == 0)
                b.st = B_DONE;
        if ((r = body_take(&b, head + hlen, len - hlen)) < 0)
                return r;
        char buf[RECV_CHUNK];
        while (b.st != B_DONE) {
                ssize_t n = io(x, false, buf, sizeof(buf));
                if (n < 0)
                        return (int)n;
                if (n == 0 && b.left == UINT64_MAX && !b.chunked)
                        return 0; /* to the end */
                if (n == 0)
                        return b.chunked ? bad_chunks(&b)
                                         : vps_err(x->c->err, ECONNRESET,
                                                   "talking to %s: the connection closed "
                                                   "before the reply's end",
                                                   x->c->where);
                if ((r = body_take(&b, buf, (size_t)n)) < 0)
                        return r;
        }
        return 0;
}

/* Connects, sends METHOD PATH (and payload), reads the answer through exchange(). */
static int request(const struct client_target *t, const char *method, const char *path,
                   const char *payload, bool with_length, long timeout_s,
                   int (*on_status)(long status, void *arg),
                   int (*emit)(const char *data, size_t len, void *arg), void *arg, vps_error *err)
{
        __attribute__((cleanup(conn_done))) struct conn c = {.fd = -1};
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
        for (size_t off = 0; off < req_len;) {
                ssize_t n = io(&x, true, req + off, req_len - off);
                if (n < 0)
                        return (int)n;
                off += (size_t)n;
        }
        _cleanup_free_ char *head = malloc(HTTP_HEAD_MAX + RECV_CHUNK);
        if (!head)
                return vps_err(err, ENOMEM, "reading the reply: %s", strerror(ENOMEM));
        return exchange(&x, head, on_status, emit, arg);
}

/* --- the whole body, into a buffer ------------------------------------------------------ */

struct whole {
        struct local_reply *ret;
        size_t cap, max;
        vps_error *err;
        const char *where;
};

static int whole_status(long status, void *arg)
{
        ((struct whole *)arg)->ret->status = status;
        return 0;
}

static int whole_emit(const char *data, size_t len, void *arg)
{
        struct whole *w = arg;
        int r = vps_buf_append(&w->ret->body, &w->ret->len, &w->cap, data, len, w->max, 0);
        if (r == -EMSGSIZE)
                return vps_err(w->err, EMSGSIZE, "the reply of %s is larger than %zu bytes",
                               w->where, w->max);
        if (r < 0)
                return vps_err(w->err, ENOMEM, "reading the reply: %s", strerror(ENOMEM));
        return 0;
}

int local_exchange(const struct client_target *t, const char *method, const char *path,
                   const char *payload, bool with_length, long timeout_s, size_t max,
                   struct local_reply *ret, vps_error *err)
{
        char where[512];
        conn_where(t, where, sizeof(where));
        *ret = (struct local_reply){0};
        struct whole w = {.ret = ret, .max = max, .err = err, .where = where};
        int r = request(t, method, path, payload, with_length, timeout_s, whole_status, whole_emit,
                        &w, err);
        if (r < 0) {
                free(ret->body);
                *ret = (struct local_reply){0};
        }
        return r;
}

/* --- a streamed body -------------------------------------------------------------------- */

struct streamed {
        int (*on_body)(const char *data, size_t len, void *arg);
        void *arg;
        long status;
        struct local_reply refusal; /* the body of an answer that is not 2xx */
        size_t cap;
        int failed; /* on_body's negative errno */
};

static int streamed_status(long status, void *arg)
{
        ((struct streamed *)arg)->status = status;
        return 0;
}

static int streamed_emit(const char *data, size_t len, void *arg)
{
        struct streamed *s = arg;
        if (s->status < 200 || s->status >= 300) {
                /* a refusal's {"error", "errno"}: what fits is enough */
                (void)vps_buf_append(&s->refusal.body, &s->refusal.len, &s->cap, data, len,
                                     HTTP_ERROR_BODY_MAX, 0);
                return 0;
        }
        int r = s->on_body(data, len, s->arg);
        if (r < 0)
                s->failed = r;
        return r;
}

int local_stream(const struct client_target *t, const char *path, long timeout_s,
                 int (*on_body)(const char *data, size_t len, void *arg), void *arg, vps_error *err)
{
        struct streamed s = {.on_body = on_body, .arg = arg};
        int r = request(t, "GET", path, NULL, false, timeout_s, streamed_status, streamed_emit, &s,
                        err);
        _cleanup_free_ char *refusal = s.refusal.body;
        if (s.failed < 0)
                return s.failed;
        /* a refusal's body cut short still says what it says */
        if (s.status && (s.status < 200 || s.status >= 300))
                return client_error_from_body(refusal, s.refusal.len, s.status, err);
        return r;
}
