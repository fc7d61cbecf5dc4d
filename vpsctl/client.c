/* vpsctl: HTTP requests to vpsd over its Unix socket with libcurl, replies parsed with
 * jansson, and the daemon's {"error", "errno"} bodies turned into a vps_error. */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vps/cleanup.h"

/* A reply larger than this is not something vpsd sends; refuse it rather than eat memory. */
#define REPLY_MAX (64u << 20)
/* The socket is local: a daemon that does not accept within this is stuck. */
#define CONNECT_TIMEOUT_S 10L

struct reply {
        char *data;
        size_t len;
};

static void reply_freep(struct reply *r)
{
        free(r->data);
}

static void curl_easy_cleanupp(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

static void curl_slist_freep(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

static int connect_error(vps_error *err, const char *socket_path, int errnum)
{
        /* ENOENT or ECONNREFUSED: the daemon is not running (or left a stale socket);
         * other errors (EACCES for a user who is not root) speak for themselves. */
        const char *hint = errnum == ENOENT || errnum == ECONNREFUSED ? " (is vpsd running?)" : "";
        return vps_err(err, errnum, "cannot connect to vpsd at %s: %s%s", socket_path,
                       strerror(errnum), hint);
}

int client_connect(const char *socket_path, vps_error *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};

        if (strlen(socket_path) >= sizeof(addr.sun_path))
                return connect_error(err, socket_path, ENAMETOOLONG);
        memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "creating a socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return connect_error(err, socket_path, errno);
        return TAKE_FD(fd);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct reply *r = userdata;
        size_t n = size * nmemb;

        /* returning less than n makes libcurl fail with CURLE_WRITE_ERROR */
        if (n > REPLY_MAX - r->len)
                return 0;
        char *p = realloc(r->data, r->len + n + 1);
        if (!p)
                return 0;
        memcpy(p + r->len, ptr, n);
        r->len += n;
        p[r->len] = '\0';
        r->data = p;
        return n;
}

static int append_header(struct curl_slist **list, const char *header, vps_error *err)
{
        struct curl_slist *l = curl_slist_append(*list, header);
        if (!l)
                return vps_err(err, ENOMEM, "building the request: %s", strerror(ENOMEM));
        *list = l;
        return 0;
}

static int transfer_error(CURLcode rc, const char *errbuf, const char *socket_path, long timeout_s,
                          vps_error *err)
{
        if (rc == CURLE_COULDNT_CONNECT) {
                /* libcurl does not expose the errno of connect(): ask the kernel again to
                 * print "No such file or directory" rather than "Couldn't connect". */
                int fd = client_connect(socket_path, err);
                if (fd < 0)
                        return fd;
                (void)close(fd);
        }
        if (rc == CURLE_OPERATION_TIMEDOUT)
                return vps_err(err, ETIMEDOUT, "vpsd at %s did not answer within %ld seconds",
                               socket_path, timeout_s);
        if (rc == CURLE_WRITE_ERROR)
                return vps_err(err, EMSGSIZE, "the reply of vpsd is larger than %u bytes",
                               REPLY_MAX);
        return vps_err(err, EIO, "talking to vpsd at %s: %s", socket_path,
                       errbuf[0] ? errbuf : curl_easy_strerror(rc));
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
        return vps_err(err, (int)code, "%s", msg);
}

static int parse_reply(const struct reply *r, json_t **ret, vps_error *err)
{
        json_error_t jerr;
        json_t *j = NULL;

        if (r->len > 0) {
                j = json_loadb(r->data, r->len, JSON_DECODE_ANY, &jerr);
                if (!j)
                        return vps_err(err, EBADMSG, "invalid JSON from vpsd: %s", jerr.text);
        }
        if (ret)
                *ret = j;
        else if (j)
                json_decref(j);
        return 0;
}

/* Method, body and headers: POST always carries a body (maybe empty) so that the request
 * has a Content-Length; other methods only when they have something to send. */
static int set_body(CURL *curl, const char *method, const char *payload,
                    struct curl_slist **headers, vps_error *err)
{
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
                (void)curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (payload || strcmp(method, "POST") == 0) {
                (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload ? payload : "");
                (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                                       (long)(payload ? strlen(payload) : 0));
        }
        if (payload && append_header(headers, "Content-Type: application/json", err) < 0)
                return -err->code;
        /* no "Expect: 100-continue" round trip for larger bodies */
        return append_header(headers, "Expect:", err);
}

int client_request(const char *socket_path, const char *method, const char *path, json_t *body,
                   long timeout_s, json_t **ret, vps_error *err)
{
        _cleanup_(curl_easy_cleanupp) CURL *curl = curl_easy_init();
        _cleanup_(curl_slist_freep) struct curl_slist *headers = NULL;
        _cleanup_(reply_freep) struct reply reply = {0};
        _cleanup_free_ char *url = NULL;
        _cleanup_free_ char *payload = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        long status = 0;

        if (ret)
                *ret = NULL;
        /* libcurl would say "Unix socket path too long"; say it as client_connect() does */
        if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
                return connect_error(err, socket_path, ENAMETOOLONG);
        if (!curl)
                return vps_err(err, ENOMEM, "cannot initialize libcurl");
        if (asprintf(&url, "http://localhost%s", path) < 0) {
                url = NULL;
                return vps_err(err, ENOMEM, "building the request: %s", strerror(ENOMEM));
        }
        if (body && !(payload = json_dumps(body, JSON_COMPACT)))
                return vps_err(err, ENOMEM, "encoding the request: %s", strerror(ENOMEM));
        if (set_body(curl, method, payload, &headers, err) < 0)
                return -err->code;

        (void)curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        (void)curl_easy_setopt(curl, CURLOPT_URL, url);
        (void)curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never send this through http_proxy */
        (void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void)curl_easy_setopt(curl, CURLOPT_USERAGENT, "vpsctl/" VPS_VERSION);
        (void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
        (void)curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
        (void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        (void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
        (void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);

        CURLcode rc = curl_easy_perform(curl);
        if (rc != CURLE_OK)
                return transfer_error(rc, errbuf, socket_path, timeout_s, err);
        (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300)
                return client_error_from_body(reply.data, reply.len, status, err);
        return parse_reply(&reply, ret, err);
}
