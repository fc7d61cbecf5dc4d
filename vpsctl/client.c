/* vpsctl: requests to vpsd over its Unix socket: the bytes http.c builds go out and what
 * comes back goes through its parser, within a deadline; JSON in and out with jansson, and
 * the daemon's {"error", "errno"} bodies turned into a vps_error. */
#include "client.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "http.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"

/* A reply larger than this is not something vpsd sends; refuse it rather than eat memory. */
#define REPLY_MAX HTTP_BODY_MAX
/* The socket is local: a daemon that does not accept within this is stuck. */
#define CONNECT_TIMEOUT_S 10L

static int connect_error(vps_error *err, const char *socket_path, int errnum)
{
        /* ENOENT or ECONNREFUSED: the daemon is not running (or left a stale socket);
         * other errors (EACCES for a user who is not root) speak for themselves. */
        bool absent = errnum == ENOENT || errnum == ECONNREFUSED;
        /* ECONNREFUSED for both: no daemon answers here, whatever the socket file says (an
         * ENOENT would read as "no such VPS" to a script). */
        return vps_err(err, absent ? ECONNREFUSED : errnum, "cannot connect to vpsd at %s: %s%s",
                       socket_path, strerror(errnum), absent ? " (is vpsd running?)" : "");
}

static int timeout_error(vps_error *err, const char *socket_path, long timeout_s)
{
        return vps_err(err, ETIMEDOUT, "vpsd at %s did not answer within %ld seconds", socket_path,
                       timeout_s);
}

/* Connects, waiting at most timeout_s seconds (0: as long as it takes) for a daemon whose
 * listen backlog is full. poll() cannot wait for that on a Unix socket (it is writable
 * before it connects), but SO_SNDTIMEO bounds connect(), which then fails with EAGAIN. */
static int open_socket(const char *socket_path, long timeout_s, vps_error *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};

        if (strlen(socket_path) >= sizeof(addr.sun_path))
                return connect_error(err, socket_path, ENAMETOOLONG);
        memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "creating a socket");
        struct timeval tv = {.tv_sec = timeout_s};
        if (timeout_s > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return vps_err_sys(err, errno, "setting the connect timeout");
        /* an interrupted connect() leaves a Unix socket unconnected: try again */
        while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                if (errno == EAGAIN && timeout_s > 0)
                        return timeout_error(err, socket_path, timeout_s);
                if (errno != EINTR)
                        return connect_error(err, socket_path, errno);
        }
        /* vpsd runs as root: another user's listener (one bound in a directory others may
         * write to, before vpsd) never gets a request, nor a password in it. */
        uid_t uid = vps_sock_peer_uid(fd);
        if (uid != 0)
                return vps_err(err, EPERM,
                               "%s is not vpsd's socket: the process listening there runs as "
                               "uid %d, not root",
                               socket_path, (int)uid);
        return TAKE_FD(fd);
}

int client_connect(const char *socket_path, vps_error *err)
{
        return open_socket(socket_path, 0, err);
}

/* One request on a connected socket, non-blocking I/O (MSG_DONTWAIT) waited for in poll(). */
struct exchange {
        const char *socket_path;
        long timeout_s;
        int64_t deadline_ms; /* CLOCK_MONOTONIC; -1 for none */
        int fd;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the socket is ready for events; past the deadline that is ETIMEDOUT, with the
 * message complete. */
static int wait_for(const struct exchange *x, short events, vps_error *err)
{
        for (;;) {
                struct pollfd p = {.fd = x->fd, .events = events};
                int64_t left = x->deadline_ms < 0 ? -1 : x->deadline_ms - now_ms();
                if (x->deadline_ms >= 0 && left <= 0)
                        return timeout_error(err, x->socket_path, x->timeout_s);
                int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return vps_err_sys(err, errno, "waiting for vpsd");
        }
}

/* After a non-blocking send() or recv() that returned n: 1 when it moved bytes (or saw the
 * end of the stream), 0 to try again (after waiting for events on EAGAIN), or an error. */
static int io_result(const struct exchange *x, ssize_t n, short events, const char *what,
                     vps_error *err)
{
        if (n >= 0)
                return 1;
        if (errno == EINTR)
                return 0;
        if (errno != EAGAIN)
                return vps_err_sys(err, errno, "%s", what);
        int r = wait_for(x, events, err);
        return r < 0 ? r : 0;
}

static int send_all(const struct exchange *x, const char *buf, size_t len, vps_error *err)
{
        while (len > 0) {
                /* MSG_NOSIGNAL: a daemon that went away is an error to report, not SIGPIPE */
                ssize_t n = send(x->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                int r = io_result(x, n, POLLOUT, "sending the request", err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        buf += n;
                        len -= (size_t)n;
                }
        }
        return 0;
}

/* Reads until the reply is complete: its Content-Length, its last chunk or the end of the
 * stream; the daemon closes the connection after it (Connection: close) and is not waited
 * for. */
static int read_reply(const struct exchange *x, struct http_reply *reply, vps_error *err)
{
        char buf[16384];

        while (!http_reply_done(reply)) {
                ssize_t n = recv(x->fd, buf, sizeof(buf), MSG_DONTWAIT);
                int r = io_result(x, n, POLLIN, "reading the reply", err);
                if (r < 0)
                        return r;
                if (r > 0 && n == 0)
                        return http_reply_finish(reply, err);
                if (r > 0 && http_reply_feed(reply, buf, (size_t)n, err) < 0)
                        return -err->code;
        }
        return 0;
}

int client_error_from_body(const char *body, size_t len, long http_status, vps_error *err)
{
        _cleanup_json_ json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(j, "error"));
        json_int_t code = json_integer_value(json_object_get(j, "errno"));

        if (code <= 0 || code > 4095)
                code = http_status == 404 ? ENOENT : EIO;
        if (!msg)
                return vps_err(err, (int)code, "vpsd answered with HTTP status %ld", http_status);
        int r = vps_err(err, (int)code, "%s", msg);
        client_option_names(err->msg, sizeof(err->msg));
        return r;
}

static int parse_reply(const struct http_reply *r, json_t **ret, vps_error *err)
{
        json_error_t jerr;
        json_t *j = NULL;

        if (r->body_len > 0) {
                j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &jerr);
                if (!j)
                        return vps_err(err, EBADMSG, "invalid JSON from vpsd: %s", jerr.text);
        }
        if (ret)
                *ret = j;
        else if (j)
                json_decref(j);
        return 0;
}

/* One request and its whole reply, a 2xx one (other statuses become err). */
static int exchange(const char *socket_path, const char *method, const char *path, json_t *body,
                    long timeout_s, struct http_reply *reply, vps_error *err)
{
        _cleanup_free_ char *payload = NULL;
        _cleanup_free_ char *req = NULL;
        size_t req_len = 0;
        struct exchange x = {
                .socket_path = socket_path,
                .timeout_s = timeout_s,
                .deadline_ms = timeout_s > 0 ? now_ms() + (int64_t)timeout_s * 1000 : -1,
        };

        if (body && !(payload = json_dumps(body, JSON_COMPACT)))
                return vps_err(err, ENOMEM, "encoding the request: %s", strerror(ENOMEM));
        if (http_request_build(method, path, payload, &req, &req_len, err) < 0)
                return -err->code;

        long connect_s =
                timeout_s > 0 && timeout_s < CONNECT_TIMEOUT_S ? timeout_s : CONNECT_TIMEOUT_S;
        _cleanup_close_ int fd = open_socket(socket_path, connect_s, err);
        if (fd < 0)
                return fd;
        x.fd = fd;
        int r = send_all(&x, req, req_len, err);
        if (r == 0) {
                r = read_reply(&x, reply, err);
        } else if (r == -EPIPE || r == -ECONNRESET) {
                /* a daemon that refuses a request before reading all of it (413) may have
                 * answered before it closed: its answer says more than "Broken pipe" */
                vps_error reply_err;
                if (read_reply(&x, reply, &reply_err) == 0)
                        r = 0;
        }
        if (r == -ETIMEDOUT)
                return r; /* the message says it all */
        if (r == -EMSGSIZE)
                return vps_err(err, EMSGSIZE, "the reply of vpsd is larger than %u bytes",
                               REPLY_MAX);
        if (r < 0)
                return vps_err_wrap(err, "talking to vpsd at %s", socket_path);

        if (reply->status < 200 || reply->status >= 300)
                return client_error_from_body(reply->body, reply->body_len, reply->status, err);
        return 0;
}

int client_request(const char *socket_path, const char *method, const char *path, json_t *body,
                   long timeout_s, json_t **ret, vps_error *err)
{
        _cleanup_(http_reply_free) struct http_reply reply;
        http_reply_init(&reply, REPLY_MAX);
        if (ret)
                *ret = NULL;
        int r = exchange(socket_path, method, path, body, timeout_s, &reply, err);
        return r < 0 ? r : parse_reply(&reply, ret, err);
}

int client_request_text(const char *socket_path, const char *path, long timeout_s, char **ret,
                        size_t *ret_len, vps_error *err)
{
        _cleanup_(http_reply_free) struct http_reply reply;
        http_reply_init(&reply, REPLY_MAX);
        *ret = NULL;
        *ret_len = 0;
        int r = exchange(socket_path, "GET", path, NULL, timeout_s, &reply, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reply.body);
        *ret_len = reply.body_len;
        return 0;
}
