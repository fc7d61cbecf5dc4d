/* vpsctl: requests to vpsd, on the local socket by vpsctl itself (local.c), to a remote
 * through libcurl (conn.c sets up the handle): JSON in
 * and out with jansson, replies bounded in size, the daemon's
 * {"error", "errno"} bodies turned into a vps_error. */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "local.h"
#include "vps/cleanup.h"
#include "vps/util.h"

/* A reply larger than this is not something vpsd sends; refuse it rather than eat memory. */
#define REPLY_MAX (64u << 20)

struct reply {
        char *body; /* NUL-terminated; NULL while empty */
        size_t len;
        size_t cap;
        bool too_large;
        bool no_memory;
};

static size_t on_data(char *data, size_t size, size_t n, void *userp)
{
        struct reply *r = userp;
        int e = vps_buf_append(&r->body, &r->len, &r->cap, data, n, REPLY_MAX, 0);
        if (e == -EMSGSIZE)
                r->too_large = true;
        else if (e < 0)
                r->no_memory = true;
        (void)size; /* always 1 */
        return e < 0 ? 0 : n;
}

int client_error_from_body(const char *body, size_t len, long http_status, vps_error *err)
{
        _cleanup_json_ json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(j, "error"));
        json_int_t code = json_integer_value(json_object_get(j, "errno"));

        if (code <= 0 || code > 4095)
                code = http_status == 404   ? ENOENT
                       : http_status == 401 ? EACCES
                       : http_status == 403 ? EPERM
                                            : EIO;
        if (!msg)
                return vps_err(err, (int)code, "vpsd answered with HTTP status %ld", http_status);
        int r = vps_err(err, (int)code, "%s", msg);
        client_option_names(err->msg, sizeof(err->msg));
        return r;
}

/* The method and body: vpsd reads a POST's body only with a length, so POST, PUT and PATCH
 * always send one (0 when empty), as does any request with a body. */
static bool with_length(const char *method, const char *payload)
{
        return payload || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
               !strcmp(method, "PATCH");
}

static int set_method(struct conn *c, const char *method, const char *payload)
{
        bool post = strcmp(method, "POST") == 0;
        bool with_body = with_length(method, payload);
        CURLcode rc = CURLE_OK;

        if (with_body) {
                rc = curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, payload ? payload : "");
                if (rc == CURLE_OK)
                        rc = curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE,
                                              (curl_off_t)(payload ? strlen(payload) : 0));
                /* curl would wait for a 100 Continue before a large body */
                struct curl_slist *l = curl_slist_append(c->headers, "Expect:");
                if (l)
                        c->headers = l;
                if (payload && l &&
                    (l = curl_slist_append(c->headers, "Content-Type: application/json")))
                        c->headers = l;
                if (!l)
                        return vps_err(c->err, ENOMEM, "%s", strerror(ENOMEM));
        }
        if (rc == CURLE_OK && !post && (with_body || strcmp(method, "GET") != 0))
                rc = curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
        if (rc != CURLE_OK)
                return vps_err(c->err, EINVAL, "setting up libcurl: %s", curl_easy_strerror(rc));
        return 0;
}

/* One request and its whole reply, a 2xx one (other statuses become err). */
static int exchange(const struct client_target *t, const char *method, const char *path,
                    json_t *body, long timeout_s, struct reply *reply, vps_error *err)
{
        _cleanup_free_ char *payload = NULL;
        __attribute__((cleanup(conn_done))) struct conn c = {.fd = -1};

        if (http_request_check(method, path, err) < 0)
                return -err->code;
        if (body && !(payload = json_dumps(body, JSON_COMPACT)))
                return vps_err(err, ENOMEM, "encoding the request: %s", strerror(ENOMEM));
        if (!t->url) {
                /* the local socket: without libcurl (local.h) */
                struct local_reply lr;
                int r = local_exchange(t, method, path, payload, with_length(method, payload),
                                       timeout_s, REPLY_MAX, &lr, err);
                if (r < 0)
                        return r;
                reply->body = lr.body;
                reply->len = lr.len;
                reply->cap = lr.len + 1;
                if (lr.status < 200 || lr.status >= 300)
                        return client_error_from_body(reply->body, reply->len, lr.status, err);
                return 0;
        }
        int r = conn_init(&c, t, path, timeout_s, err);
        if (r < 0 || (r = set_method(&c, method, payload)) < 0)
                return r;
        CURLcode rc = curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_data);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c.h, CURLOPT_WRITEDATA, reply);
        if (rc == CURLE_OK)
                rc = curl_easy_perform(c.h);
        if (rc == CURLE_WRITE_ERROR && reply->too_large)
                return vps_err(err, EMSGSIZE, "the reply of %s is larger than %u bytes", c.where,
                               REPLY_MAX);
        if (rc == CURLE_WRITE_ERROR && reply->no_memory)
                return vps_err(err, ENOMEM, "reading the reply: %s", strerror(ENOMEM));
        if (rc != CURLE_OK)
                return conn_fail(&c, rc);

        long status = 0;
        (void)curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300)
                return client_error_from_body(reply->body, reply->len, status, err);
        return 0;
}

static void reply_free(struct reply *r)
{
        free(r->body);
        r->body = NULL;
}

int client_request(const struct client_target *t, const char *method, const char *path,
                   json_t *body, long timeout_s, json_t **ret, vps_error *err)
{
        __attribute__((cleanup(reply_free))) struct reply reply = {0};
        json_error_t jerr;

        if (ret)
                *ret = NULL;
        int r = exchange(t, method, path, body, timeout_s, &reply, err);
        if (r < 0 || reply.len == 0)
                return r;
        json_t *j = json_loadb(reply.body, reply.len, JSON_DECODE_ANY, &jerr);
        if (!j)
                return vps_err(err, EBADMSG, "invalid JSON from vpsd: %s", jerr.text);
        if (ret)
                *ret = j;
        else
                json_decref(j);
        return 0;
}

int client_request_text(const struct client_target *t, const char *path, long timeout_s, char **ret,
                        size_t *ret_len, vps_error *err)
{
        __attribute__((cleanup(reply_free))) struct reply reply = {0};

        *ret = NULL;
        *ret_len = 0;
        int r = exchange(t, "GET", path, NULL, timeout_s, &reply, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reply.body);
        *ret_len = reply.len;
        return 0;
}

struct sink {
        CURL *h;
        long status;
        int (*on_body)(const char *data, size_t len, void *arg);
        void *arg;
        int failed; /* on_body's negative errno */
        struct reply refusal;
};

static size_t on_stream(char *data, size_t size, size_t n, void *userp)
{
        struct sink *s = userp;
        if (!s->status)
                (void)curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
        if (s->status < 200 || s->status >= 300)
                return on_data(data, size, n, &s->refusal);
        int r = s->on_body(data, n, s->arg);
        if (r < 0) {
                s->failed = r;
                return 0;
        }
        return n;
}

int client_request_stream(const struct client_target *t, const char *path, long timeout_s,
                          int (*on_body)(const char *data, size_t len, void *arg), void *arg,
                          vps_error *err)
{
        __attribute__((cleanup(conn_done))) struct conn c = {.fd = -1};
        struct sink s = {.on_body = on_body, .arg = arg};

        if (http_request_check("GET", path, err) < 0)
                return -err->code;
        if (!t->url)
                return local_stream(t, path, timeout_s, on_body, arg, err);
        int r = conn_init(&c, t, path, timeout_s, err);
        if (r < 0)
                return r;
        s.h = c.h;
        CURLcode rc = curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_stream);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &s);
        if (rc == CURLE_OK)
                rc = curl_easy_perform(c.h);
        _cleanup_free_ char *refusal = s.refusal.body;
        if (rc == CURLE_WRITE_ERROR && s.failed < 0)
                return s.failed;
        if (rc != CURLE_OK)
                return conn_fail(&c, rc);
        (void)curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &s.status);
        if (s.status < 200 || s.status >= 300)
                return client_error_from_body(refusal, s.refusal.len, s.status, err);
        return 0;
}
