/* vpsctl: the upgraded streams (console, backup, restore, progress). vpsctl connects the local
 * socket itself (its peer checked: conn_local; libcurl is not even loaded), libcurl a remote
 * (CONNECT_ONLY: TCP and TLS, pins checked). vpsctl sends the Upgrade request itself and reads
 * the answer's head without reading past it (peeked on the local socket, byte by byte through
 * TLS). Then the local socket is handed over as it is; a remote's TLS is relayed by a thread
 * to a socket pair, so the commands read and write a plain fd either way. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"
#include "vps/cleanup.h"

/* Waits until the connection's socket is ready for events (after CURLE_AGAIN). */
static int wait_socket(CURL *h, short events)
{
        curl_socket_t fd = CURL_SOCKET_BAD;
        if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
                return -ENOTCONN;
        struct pollfd p = {.fd = fd, .events = events};
        while (poll(&p, 1, -1) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* A local socket without libcurl (conn_local): blocking, plain calls. */
static int send_plain(struct conn *c, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vps_err_sys(c->err, errno, "talking to %s", c->where);
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

static int send_all(struct conn *c, const char *buf, size_t len)
{
        if (!c->h)
                return send_plain(c, buf, len);
        while (len > 0) {
                size_t n = 0;
                CURLcode rc = curl_easy_send(c->h, buf, len, &n);
                if (rc == CURLE_AGAIN) {
                        int r = wait_socket(c->h, POLLOUT);
                        if (r < 0)
                                return vps_err_sys(c->err, -r, "talking to %s", c->where);
                        continue;
                }
                if (rc != CURLE_OK)
                        return conn_fail(c, rc);
                buf += n;
                len -= n;
        }
        return 0;
}

/* Up to len bytes; 0 at the end of the stream. */
static ssize_t recv_some(struct conn *c, char *buf, size_t len)
{
        while (!c->h) {
                ssize_t n = recv(c->fd, buf, len, 0);
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return vps_err_sys(c->err, errno, "talking to %s", c->where);
        }
        for (;;) {
                size_t n = 0;
                CURLcode rc = curl_easy_recv(c->h, buf, len, &n);
                if (rc == CURLE_OK)
                        return (ssize_t)n;
                if (rc != CURLE_AGAIN)
                        return conn_fail(c, rc);
                int r = wait_socket(c->h, POLLIN);
                if (r < 0)
                        return vps_err_sys(c->err, -r, "talking to %s", c->where);
        }
}

/* A connection alone (and for a remote, its certificate checked against the pins). */
static int connect_only(struct conn *c, const struct client_target *t, vps_error *err)
{
        int r = conn_init(c, t, NULL, 0, err);
        if (r < 0)
                return r;
        CURLcode rc = curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L);
        if (rc == CURLE_OK)
                rc = curl_easy_perform(c->h);
        if (rc != CURLE_OK)
                return conn_fail(c, rc);
        return conn_check_peer(c);
}

int client_fetch_pins(const struct client_target *t, char ret_fp[CLIENT_FP_LEN],
                      char ret_pubkey[CLIENT_PIN_LEN], vps_error *err)
{
        __attribute__((cleanup(conn_done))) struct conn c = {.fd = -1};
        struct client_target bare = *t;

        if (!t->url)
                return vps_err(err, EINVAL, "the local socket has no certificate");
        bare.fingerprint = bare.pubkey = NULL; /* a first contact: nothing is sent */
        int r = connect_only(&c, &bare, err);
        if (r < 0)
                return r;
        r = pins_of_connection(c.h, ret_fp, ret_pubkey, err);
        return r < 0 ? vps_err_wrap(err, "%s", c.where) : 0;
}

/* The answer's head, up to its empty line and not a byte past it. */
static int read_head(struct conn *c, char *head, size_t *ret_len)
{
        size_t len = 0;
        /* The local socket: what has come is peeked and, when the whole head is in (vpsd
         * sends it at once), the head alone taken; else byte by byte as through TLS. */
        ssize_t peeked = 0;
        while (!c->h && (peeked = recv(c->fd, head, HTTP_HEAD_MAX, MSG_PEEK)) < 0 && errno == EINTR)
                ;
        size_t end = peeked > 0 ? http_head_end(head, (size_t)peeked) : 0;
        for (size_t got = 0; got < end;) {
                ssize_t k = recv(c->fd, head + got, end - got, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return vps_err_sys(c->err, k < 0 ? errno : ECONNRESET, "talking to %s",
                                           c->where);
                got += (size_t)k;
        }
        if (end) {
                *ret_len = end;
                return 0;
        }
        while (http_head_end(head, len) == 0) {
                if (len == HTTP_HEAD_MAX)
                        return vps_err(c->err, EBADMSG, "the reply of %s has too long headers",
                                       c->where);
                ssize_t n = recv_some(c, head + len, 1);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return vps_err(c->err, ECONNRESET, "%s closed the connection", c->where);
                len++;
        }
        *ret_len = len;
        return 0;
}

/* An answer other than 101 carries the usual {"error", "errno"} body, or for a 2xx one the
 * answer of a vpsd that did the request as a plain one: read it (up to its Content-Length, or
 * to the end without one) and turn it into err, or into *ret_plain when asked for. */
static int refused(struct conn *c, const struct http_head *head, json_t **ret_plain)
{
        size_t want = head->content_length < 0 || head->content_length > HTTP_ERROR_BODY_MAX
                              ? HTTP_ERROR_BODY_MAX
                              : (size_t)head->content_length;
        _cleanup_free_ char *body = malloc(want + 1);
        size_t have = 0;
        vps_error ignored;
        vps_error *saved = c->err;

        c->err = &ignored; /* a body cut short still says what it says */
        while (body && have < want) {
                ssize_t n = recv_some(c, body + have, want - have);
                if (n <= 0)
                        break;
                have += (size_t)n;
        }
        c->err = saved;
        if (ret_plain && head->status / 100 == 2) {
                *ret_plain = body && have ? json_loadb(body, have, 0, NULL) : NULL;
                return *ret_plain ? 0 : vps_err(c->err, EBADMSG, "invalid JSON from vpsd");
        }
        return client_error_from_body(body, have, head->status, c->err);
}

/* --- the relay of a remote's stream ---------------------------------------------------- */

struct relay {
        struct conn c;
        vps_error err;
        int fd;             /* our end of the socket pair */
        curl_socket_t sock; /* the TLS connection's socket (curl's) */
        char down[16384];   /* from the server, not yet written to fd */
        size_t down_len, down_off;
        char up[16384]; /* from fd, not yet sent */
        size_t up_len, up_off;
        bool done; /* the thread is past its loop: its TLS socket is not ours to touch */
        pthread_t th;
};

/* One round: moves what can move without waiting; returns 1 when something moved, 0 when it
 * must wait, -1 when the relay ends. */
static int relay_round(struct relay *rl, bool *tls_eof, bool *fd_eof)
{
        int moved = 0;
        if (rl->down_off == rl->down_len && !*tls_eof) {
                size_t n = 0;
                CURLcode rc = curl_easy_recv(rl->c.h, rl->down, sizeof(rl->down), &n);
                if (rc == CURLE_OK && n == 0)
                        *tls_eof = true;
                else if (rc == CURLE_OK)
                        rl->down_len = n, rl->down_off = 0, moved = 1;
                else if (rc != CURLE_AGAIN)
                        return -1;
        }
        if (rl->down_off < rl->down_len) {
                ssize_t n = send(rl->fd, rl->down + rl->down_off, rl->down_len - rl->down_off,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -1;
                if (n > 0)
                        rl->down_off += (size_t)n, moved = 1;
        }
        if (rl->up_off == rl->up_len && !*fd_eof) {
                ssize_t n = recv(rl->fd, rl->up, sizeof(rl->up), MSG_DONTWAIT);
                if (n == 0)
                        *fd_eof = true;
                else if (n > 0)
                        rl->up_len = (size_t)n, rl->up_off = 0, moved = 1;
                else if (errno != EAGAIN && errno != EINTR)
                        return -1;
        }
        if (rl->up_off < rl->up_len) {
                size_t n = 0;
                CURLcode rc =
                        curl_easy_send(rl->c.h, rl->up + rl->up_off, rl->up_len - rl->up_off, &n);
                if (rc == CURLE_OK)
                        rl->up_off += n, moved = moved || n > 0;
                else if (rc != CURLE_AGAIN)
                        return -1;
        }
        return moved;
}

/* The relays of this process (a command opens a stream or, migrating between two remotes,
 * two at once; one that ended is joined when its slot is wanted again), which the process's
 * exit stops and joins before the libraries' destructors run (GnuTLS's among them). */
#define RELAYS_MAX 4
static struct {
        pthread_mutex_t lock;
        struct relay *rl[RELAYS_MAX];
        bool at_exit;
} relay_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *relay_run(void *arg)
{
        struct relay *rl = arg;
        bool tls_eof = false, fd_eof = false;
        curl_socket_t sock = rl->sock;

        for (;;) {
                int r = relay_round(rl, &tls_eof, &fd_eof);
                if (r < 0)
                        break;
                if (tls_eof && rl->down_off == rl->down_len)
                        break; /* the server is done: what it said has been passed on */
                if (fd_eof && rl->up_off == rl->up_len)
                        break; /* the command is done with the stream */
                if (r > 0)
                        continue; /* TLS may hold more than the socket shows */
                struct pollfd p[2] = {
                        {.fd = sock, .events = (short)(rl->up_off < rl->up_len ? POLLOUT : 0)},
                        {.fd = rl->fd,
                         .events = (short)(rl->down_off < rl->down_len ? POLLOUT : 0)},
                };
                if (rl->down_off == rl->down_len && !tls_eof)
                        p[0].events |= POLLIN;
                if (rl->up_off == rl->up_len && !fd_eof)
                        p[1].events |= POLLIN;
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
        }
        (void)shutdown(rl->fd, SHUT_RDWR); /* the command sees the end of the stream */
        (void)pthread_mutex_lock(&relay_state.lock);
        rl->done = true;
        (void)pthread_mutex_unlock(&relay_state.lock);
        conn_done(&rl->c);
        return NULL;
}

/* Slot i's relay stopped and joined: what it still holds is dropped. */
static void relay_end(size_t i)
{
        struct relay *rl = relay_state.rl[i];

        if (!rl)
                return;
        (void)pthread_mutex_lock(&relay_state.lock);
        if (!rl->done)
                (void)shutdown(rl->sock, SHUT_RDWR); /* wakes its poll, fails its sends */
        (void)shutdown(rl->fd, SHUT_RDWR);
        (void)pthread_mutex_unlock(&relay_state.lock);
        (void)pthread_join(rl->th, NULL);
        (void)close(rl->fd);
        free(rl);
        relay_state.rl[i] = NULL;
}

/* At exit: the command is done with its streams. */
static void relay_stop(void)
{
        for (size_t i = 0; i < RELAYS_MAX; i++)
                relay_end(i);
}

/* A free slot: an empty one, or one whose relay ended (joined now); -1 when none. */
static int relay_slot(void)
{
        for (size_t i = 0; i < RELAYS_MAX; i++) {
                (void)pthread_mutex_lock(&relay_state.lock);
                bool done = relay_state.rl[i] && relay_state.rl[i]->done;
                (void)pthread_mutex_unlock(&relay_state.lock);
                if (done)
                        relay_end(i);
                if (!relay_state.rl[i])
                        return (int)i;
        }
        return -1;
}

/* Hands c's connection to a relay thread; *ret_fd is the command's end. */
static int start_relay(struct conn *c, int *ret_fd)
{
        curl_socket_t sock = CURL_SOCKET_BAD;
        int sv[2];
        int slot = relay_slot();
        if (slot < 0)
                return vps_err(c->err, EBUSY, "%d streams are open already", RELAYS_MAX);
        if (curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
            sock == CURL_SOCKET_BAD)
                return vps_err(c->err, ENOTCONN, "talking to %s: no connection", c->where);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return vps_err_sys(c->err, errno, "creating a socket pair");
        struct relay *rl = calloc(1, sizeof(*rl));
        if (!rl || (!relay_state.at_exit && atexit(relay_stop) != 0)) {
                free(rl);
                (void)close(sv[0]);
                (void)close(sv[1]);
                return vps_err(c->err, ENOMEM, "%s", strerror(ENOMEM));
        }
        rl->c = *c;
        rl->c.err = &rl->err;
        rl->c.headers = NULL; /* not needed any more; c frees them */
        rl->fd = sv[1];
        rl->sock = sock;
        /* curl writes its error text into the buffer of the handle's conn, now this one */
        (void)curl_easy_setopt(rl->c.h, CURLOPT_ERRORBUFFER, rl->c.errbuf);
        /* the command's signals (a console's SIGINT) stay the main thread's */
        sigset_t all, old;
        (void)sigfillset(&all);
        (void)pthread_sigmask(SIG_SETMASK, &all, &old);
        relay_state.at_exit = true;
        int e = pthread_create(&rl->th, NULL, relay_run, rl);
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e != 0) {
                free(rl);
                (void)close(sv[0]);
                (void)close(sv[1]);
                return vps_err_sys(c->err, e, "starting the relay of %s", c->where);
        }
        relay_state.rl[slot] = rl;
        c->h = NULL; /* the relay's now */
        *ret_fd = sv[0];
        return 0;
}

/* The local socket itself, blocking, for the command (conn_local's, handed over). */
static int take_socket(struct conn *c, int *ret_fd)
{
        if (!c->h) {
                *ret_fd = c->fd;
                c->fd = -1;
                return 0;
        }
        curl_socket_t fd = CURL_SOCKET_BAD;
        if (curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
            fd == CURL_SOCKET_BAD)
                return vps_err(c->err, ENOTCONN, "talking to %s: no connection", c->where);
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (own < 0)
                return vps_err_sys(c->err, errno, "talking to %s", c->where);
        int fl = fcntl(own, F_GETFL);
        if (fl < 0 || fcntl(own, F_SETFL, fl & ~O_NONBLOCK) < 0) {
                int e = errno;
                (void)close(own);
                return vps_err_sys(c->err, e, "talking to %s", c->where);
        }
        *ret_fd = own;
        return 0;
}

int client_stream_open(const struct client_target *t, const char *path, const char *proto,
                       const char *body, int *ret_fd, json_t **ret_plain, vps_error *err)
{
        __attribute__((cleanup(conn_done))) struct conn c = {.fd = -1};
        _cleanup_free_ char *req = NULL, *auth = NULL;
        char head[HTTP_HEAD_MAX + 1];
        size_t req_len = 0, head_len = 0;
        struct http_head h;

        *ret_fd = -1;
        if (ret_plain)
                *ret_plain = NULL;
        /* The local socket needs nothing of libcurl (nor its loading: curl_dl.h). */
        int r = t->url ? connect_only(&c, t, err) : conn_local(&c, t, err);
        if (r < 0)
                return r;
        if (t->url && t->token && asprintf(&auth, "Bearer %s", t->token) < 0) {
                auth = NULL;
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        }
        if ((r = http_upgrade_request(t->url ? t->url + strlen("https://") : "localhost", path,
                                      proto, auth, body, &req, &req_len, err)) < 0 ||
            (r = send_all(&c, req, req_len)) < 0 || (r = read_head(&c, head, &head_len)) < 0)
                return r;
        if (http_head_parse(head, head_len, &h, err) < 0)
                return vps_err_wrap(err, "talking to %s", c.where);
        if (h.status != 101)
                return refused(&c, &h, ret_plain);
        return t->url ? start_relay(&c, ret_fd) : take_socket(&c, ret_fd);
}
