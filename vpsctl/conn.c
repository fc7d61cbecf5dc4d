/* vpsctl: the connection to a target. The local socket is vpsctl's own (conn_local: connected
 * and its peer checked to be root before a byte goes out); a remote is a libcurl handle, HTTPS
 * with TLS 1.2 or newer, its certificate and public key pinned. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "vps/cleanup.h"
#include "vps/localsock.h"

void conn_where(const struct client_target *t, char *buf, size_t size)
{
        if (t->url)
                (void)snprintf(buf, size, "remote %s at %s", t->name ? t->name : "?", t->url);
        else
                (void)snprintf(buf, size, "vpsd at %s", t->socket_path);
}

/* --- the local socket ------------------------------------------------------------------ */

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

/* The socket connected, blocking: a connect() of a Unix socket whose listener's backlog is
 * full waits as long as the daemon takes to accept, up to the connect timeout (SO_SNDTIMEO
 * bounds it; past it, EAGAIN). */
static int finish_connect(struct conn *c)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        const char *path = c->t->socket_path;
        struct timeval tv = {.tv_sec = c->connect_s};
        int fl = fcntl(c->fd, F_GETFL);

        memcpy(addr.sun_path, path, strlen(path) + 1); /* its length checked in conn_init */
        if (fl < 0 || fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return vps_err_sys(c->err, errno, "connecting to vpsd at %s", path);
        int r = 0;
        /* an interrupted connect() leaves a Unix socket unconnected: try again */
        while (r == 0 && connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                if (errno == EAGAIN)
                        r = vps_err(c->err, ETIMEDOUT, "%s did not answer within %ld seconds",
                                    c->where, c->connect_s);
                else if (errno != EINTR)
                        r = connect_error(c->err, path, errno);
        }
        struct timeval none = {0};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
        (void)fcntl(c->fd, F_SETFL, fl);
        return r;
}

static int check_local(struct conn *c)
{
        struct sockaddr_un peer;
        socklen_t len = sizeof(peer);

        if (c->fd < 0)
                return vps_err(c->err, ENOTCONN, "talking to %s: no connection", c->where);
        if (getpeername(c->fd, (struct sockaddr *)&peer, &len) < 0) {
                if (errno != ENOTCONN)
                        return vps_err_sys(c->err, errno, "talking to %s", c->where);
                int r = finish_connect(c);
                if (r < 0)
                        return r;
        }
        /* vpsd runs as root: another user's listener (one bound in a directory others may
         * write to, before vpsd) never gets a request, nor a password in it. */
        uid_t uid = vps_sock_peer_uid(c->fd);
        if (uid != 0)
                return vps_err(c->err, EPERM,
                               "%s is not vpsd's socket: the process listening there runs as "
                               "uid %d, not root",
                               c->t->socket_path, (int)uid);
        return 0;
}

/* --- remotes --------------------------------------------------------------------------- */

/* One line, loud: a server that is not the one first contacted never gets a request. */
static int pin_refused(struct conn *c, const char *fp)
{
        return vps_err(c->err, EPERM,
                       "the certificate of %s is not the one pinned at first contact "
                       "(fingerprint %s, pinned %s): refused. If the server's certificate was "
                       "replaced, compare 'vpsd --fingerprint' there, then 'vpsctl remote "
                       "remove %s' and add it again",
                       c->where, fp, c->t->fingerprint ? c->t->fingerprint : "none",
                       c->t->name ? c->t->name : "?");
}

static int check_pin(struct conn *c)
{
        char fp[CLIENT_FP_LEN], pubkey[CLIENT_PIN_LEN];

        if (c->first_contact)
                return 0;
        if (!c->t->fingerprint)
                return vps_err(c->err, EPERM, "%s has no pinned certificate fingerprint", c->where);
        if (pins_of_connection(c->h, fp, pubkey, c->err) < 0)
                return vps_err_wrap(c->err, "%s", c->where);
        if (strcmp(fp, c->t->fingerprint) == 0)
                return 0;
        return pin_refused(c, fp);
}

int conn_check_peer(struct conn *c)
{
        return c->t->url ? check_pin(c) : check_local(c);
}

/* Called once connected (and the TLS handshake done), before the request goes out: no
 * request (no token, no password in a body) reaches a listener that is not root's, or a
 * server whose certificate is not the pinned one. */
static int before_request(void *userp, char *ip, char *local_ip, int port, int local_port)
{
        struct conn *c = userp;
        (void)ip;
        (void)local_ip;
        (void)port;
        (void)local_port;
        if (conn_check_peer(c) < 0) {
                c->err_set = true;
                return CURL_PREREQFUNC_ABORT;
        }
        return CURL_PREREQFUNC_OK;
}

static CURLcode set_prereq(struct conn *c)
{
        CURLcode rc = curl_easy_setopt(c->h, CURLOPT_PREREQFUNCTION, before_request);
        return rc == CURLE_OK ? curl_easy_setopt(c->h, CURLOPT_PREREQDATA, c) : rc;
}

static int setup_remote(struct conn *c)
{
        const struct client_target *t = c->t;
        CURL *h = c->h;
        CURLcode rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        /* the certificate is self-signed: what vouches for it is the pin, not a CA */
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_s);
        if (rc == CURLE_OK && !c->first_contact) {
                /* checked by libcurl in the handshake, and the whole certificate by us */
                rc = curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, t->pubkey ? t->pubkey : "-");
                if (rc == CURLE_OK)
                        rc = set_prereq(c);
        }
        if (rc == CURLE_OK && t->cert)
                rc = curl_easy_setopt(h, CURLOPT_SSLCERT, t->cert);
        if (rc == CURLE_OK && t->key)
                rc = curl_easy_setopt(h, CURLOPT_SSLKEY, t->key);
        if (rc == CURLE_OK && t->token && !c->first_contact) {
                _cleanup_free_ char *auth = NULL;
                if (asprintf(&auth, "Authorization: Bearer %s", t->token) < 0)
                        return vps_err(c->err, ENOMEM, "%s", strerror(ENOMEM));
                struct curl_slist *l = curl_slist_append(c->headers, auth);
                if (!l)
                        return vps_err(c->err, ENOMEM, "%s", strerror(ENOMEM));
                c->headers = l;
        }
        if (rc != CURLE_OK)
                return vps_err(c->err, EINVAL, "setting up libcurl: %s", curl_easy_strerror(rc));
        return 0;
}

/* --- the handle ------------------------------------------------------------------------ */

static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
        global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int conn_init(struct conn *c, const struct client_target *t, const char *path, long timeout_s,
              vps_error *err)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        *c = (struct conn){
                .t = t, .err = err, .timeout_s = timeout_s > 0 ? timeout_s : 0, .fd = -1};
        if (t->broken) {
                *err = *t->broken;
                return -err->code;
        }
        if (!t->url) /* the local socket is vpsctl's own (local.c, conn_local) */
                return vps_err(err, EINVAL, "libcurl is for remotes");
        c->first_contact = t->url && !t->fingerprint && !t->pubkey;
        c->connect_s = c->timeout_s > 0 && c->timeout_s < CONNECT_TIMEOUT_S ? c->timeout_s
                                                                            : CONNECT_TIMEOUT_S;
        conn_where(t, c->where, sizeof(c->where));
        (void)pthread_once(&once, global_init);
        if (global_rc != CURLE_OK || !(c->h = curl_easy_init()))
                return vps_err(err, ENOMEM, "starting libcurl: %s",
                               curl_easy_strerror(global_rc ? global_rc : CURLE_OUT_OF_MEMORY));

        _cleanup_free_ char *target = path ? http_encode_path(path) : strdup("");
        _cleanup_free_ char *url = NULL;
        if (!target || asprintf(&url, "%s%s", t->url ? t->url : "http://localhost", target) < 0)
                return vps_err(err, ENOMEM, "building the request: %s", strerror(ENOMEM));

        CURL *h = c->h;
        CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        if (rc == CURLE_OK) /* vpsd speaks HTTP/1.1 (libmicrohttpd) */
                rc = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(h, CURLOPT_USERAGENT, "vpsctl/" VPS_VERSION);
        if (rc == CURLE_OK && c->timeout_s > 0)
                rc = curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
        if (rc != CURLE_OK)
                return vps_err(err, EINVAL, "setting up libcurl: %s", curl_easy_strerror(rc));
        return setup_remote(c);
}

int conn_local(struct conn *c, const struct client_target *t, vps_error *err)
{
        return conn_local_within(c, t, 0, err);
}

int conn_local_within(struct conn *c, const struct client_target *t, long timeout_s, vps_error *err)
{
        *c = (struct conn){.t = t,
                           .err = err,
                           .fd = -1,
                           .timeout_s = timeout_s > 0 ? timeout_s : 0,
                           .connect_s = timeout_s > 0 && timeout_s < CONNECT_TIMEOUT_S
                                                ? timeout_s
                                                : CONNECT_TIMEOUT_S};
        if (t->broken) {
                *err = *t->broken;
                return -err->code;
        }
        conn_where(t, c->where, sizeof(c->where));
        struct sockaddr_un addr;
        if (strlen(t->socket_path) >= sizeof(addr.sun_path))
                return connect_error(err, t->socket_path, ENAMETOOLONG);
        if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
                return vps_err_sys(err, errno, "creating a socket");
        return check_local(c); /* connects it (finish_connect), then checks its peer */
}

void conn_done(struct conn *c)
{
        if (c->h)
                curl_easy_cleanup(c->h);
        else if (c->fd >= 0)
                (void)close(c->fd); /* conn_local's: no curl to close it */
        c->h = NULL;
        c->fd = -1;
        if (c->headers)
                curl_slist_free_all(c->headers);
        c->headers = NULL;
}

/* --- libcurl's results ----------------------------------------------------------------- */

static int os_errno(struct conn *c, int fallback)
{
        long e = 0;
        if (curl_easy_getinfo(c->h, CURLINFO_OS_ERRNO, &e) != CURLE_OK || e <= 0 || e > 4095)
                return fallback;
        return (int)e;
}

static const char *curl_text(const struct conn *c, CURLcode rc)
{
        return c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
}

/* The pinned public key did not match: the certificate is another, whose fingerprint a
 * second handshake (that sends nothing) reads for the message. */
static int pin_mismatch(struct conn *c)
{
        struct client_target bare = {.name = c->t->name, .url = c->t->url};
        char fp[CLIENT_FP_LEN] = "", pubkey[CLIENT_PIN_LEN];
        vps_error ignored;
        if (client_fetch_pins(&bare, fp, pubkey, &ignored) < 0)
                (void)snprintf(fp, sizeof(fp), "unknown");
        return pin_refused(c, fp);
}

int conn_fail(struct conn *c, CURLcode rc)
{
        if (c->err_set)
                return -c->err->code;
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
                return vps_err(c->err, ETIMEDOUT, "%s did not answer within %ld seconds", c->where,
                               c->timeout_s ? c->timeout_s : c->connect_s);
        case CURLE_COULDNT_RESOLVE_HOST:
                return vps_err(c->err, EHOSTUNREACH, "cannot connect to %s: %s", c->where,
                               curl_text(c, rc));
        case CURLE_COULDNT_CONNECT:
                return vps_err(c->err, ECONNREFUSED, "cannot connect to %s: %s", c->where,
                               strerror(os_errno(c, ECONNREFUSED)));
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
                return pin_mismatch(c);
        case CURLE_SSL_CONNECT_ERROR:
                return vps_err(c->err, EPROTO, "the TLS handshake with %s failed: %s", c->where,
                               curl_text(c, rc));
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
                return vps_err(c->err, EINVAL, "the client certificate of %s: %s", c->where,
                               curl_text(c, rc));
        case CURLE_GOT_NOTHING:
                return vps_err(c->err, ECONNRESET,
                               "talking to %s: the connection closed without a reply", c->where);
        case CURLE_PARTIAL_FILE:
                return vps_err(c->err, ECONNRESET,
                               "talking to %s: the connection closed before the reply's end",
                               c->where);
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR: {
                int e = os_errno(c, ECONNRESET);
                return vps_err(c->err, e, "talking to %s: %s", c->where, strerror(e));
        }
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_HTTP2:
                return vps_err(c->err, EBADMSG, "talking to %s: malformed reply: %s", c->where,
                               curl_text(c, rc));
        case CURLE_OUT_OF_MEMORY:
                return vps_err(c->err, ENOMEM, "talking to %s: %s", c->where, strerror(ENOMEM));
        default:
                return vps_err(c->err, EIO, "talking to %s: %s", c->where, curl_text(c, rc));
        }
}
