/* libvpsfleet: the transport to etcd's JSON gateway: one libcurl handle (its connection kept
 * between requests), the cluster's endpoints tried in turn when one cannot serve. */
#include "fleet/etcd.h"
#include "json_cleanup.h"
#include "vps/cleanup.h"

#include "curl_socket.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_REPLY_MAX (64u << 20) /* a range of a million small records fits */

struct etcd {
        CURL *h;
        char *url[ETCD_MAX_ENDPOINTS];
        size_t n, cur;
        unsigned int timeout_ms;
        struct etcd_tls tls;
        void (*page_hook)(void *arg);
        void *page_arg;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
        (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int add_url(struct etcd *e, const char *u, size_t len, vps_error *err)
{
        if (e->n == ETCD_MAX_ENDPOINTS)
                return vps_err(err, E2BIG, "at most %d etcd endpoints", ETCD_MAX_ENDPOINTS);
        bool https = len > 8 && !strncmp(u, "https://", 8),
             http = len > 7 && !strncmp(u, "http://", 7);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)u[i] <= ' ' || u[i] == '?' || u[i] == '#')
                        http = https = false;
        if (!http && !https)
                return vps_err(err, EINVAL, "etcd endpoint '%.*s': not an http:// or https:// URL",
                               (int)(len > 200 ? 200 : len), u);
        while (len && u[len - 1] == '/')
                len--;
        if (!(e->url[e->n] = strndup(u, len)))
                return vps_err(err, ENOMEM, "out of memory");
        e->n++;
        return 0;
}

int etcd_open(const char *urls, const struct etcd_tls *tls, struct etcd **ret, vps_error *err)
{
        (void)pthread_once(&curl_once, curl_init);
        struct etcd *e = calloc(1, sizeof(*e));
        if (!e)
                return vps_err(err, ENOMEM, "out of memory");
        e->timeout_ms = 3000;
        if (tls)
                e->tls = *tls;
        int r = 0;
        for (const char *p = urls; r == 0 && *p;) {
                size_t len = strcspn(p, ",");
                r = len ? add_url(e, p, len, err)
                        : vps_err(err, EINVAL, "an empty etcd endpoint in '%.200s'", urls);
                p += len + (p[len] == ',');
        }
        if (r == 0 && e->n == 0)
                r = vps_err(err, EINVAL, "no etcd endpoint given");
        if (r == 0 && !(e->h = curl_easy_init()))
                r = vps_err(err, ENOMEM, "curl_easy_init failed");
        if (r < 0) {
                etcd_close(e);
                return r;
        }
        *ret = e;
        return 0;
}

void etcd_close(struct etcd *e)
{
        if (!e)
                return;
        if (e->h)
                curl_easy_cleanup(e->h);
        for (size_t i = 0; i < e->n; i++)
                free(e->url[i]);
        free(e);
}

void etcd_set_timeout(struct etcd *e, unsigned int ms)
{
        e->timeout_ms = ms ? ms : 3000;
}

void etcd_set_page_hook(struct etcd *e, void (*fn)(void *arg), void *arg)
{
        e->page_hook = fn;
        e->page_arg = arg;
}

void etcd_page_turned(struct etcd *e)
{
        if (e->page_hook)
                e->page_hook(e->page_arg);
}

const char *etcd_endpoint(const struct etcd *e)
{
        return e->url[e->cur];
}

struct sink {
        char *buf;
        size_t len, cap;
        /* A watch: each complete line is handed on as it comes. */
        int (*line)(struct sink *s, char *text);
        void *userdata;
        const volatile bool *stop;
        int stopped;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct sink *s = userdata;
        size_t n = size * nmemb;
        if (s->len + n + 1 > ETCD_REPLY_MAX)
                return 0;
        if (s->len + n + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 4096;
                while (cap < s->len + n + 1)
                        cap *= 2;
                char *b = realloc(s->buf, cap);
                if (!b)
                        return 0;
                s->buf = b, s->cap = cap;
        }
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        s->buf[s->len] = '\0';
        for (char *nl; s->line && (nl = memchr(s->buf, '\n', s->len));) {
                *nl = '\0';
                int r = s->line(s, s->buf);
                size_t used = (size_t)(nl + 1 - s->buf);
                memmove(s->buf, nl + 1, s->len - used + 1);
                s->len -= used;
                if (r) {
                        s->stopped = r;
                        return 0;
                }
        }
        return n;
}

static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
        const struct sink *s = userdata;
        return s->stop && *s->stop;
}

/* One request to endpoint i: 0 and the HTTP status, or the transport's error in why. */
static int post(struct etcd *e, size_t i, const char *path, const char *body, struct sink *s,
                bool stream, long *ret_status, char *why, size_t whylen)
{
        char url[600];
        (void)snprintf(url, sizeof(url), "%s%s", e->url[i], path);
        CURL *h = e->h;
        curl_easy_reset(h);
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        char cerr[CURL_ERROR_SIZE] = "";
        (void)curl_easy_setopt(h, CURLOPT_URL, url);
        (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        (void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        (void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        (void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        (void)curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
        (void)curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, fleet_curl_cloexec);
        (void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(e->timeout_ms / 3 + 1));
        if (stream) {
                /* A watch lasts: only a stalled connection (no byte for 3 timeouts) ends it. */
                (void)curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
                (void)curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                                       (long)(e->timeout_ms * 3 / 1000 + 1));
                (void)curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
                (void)curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
                (void)curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
        } else {
                (void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
        }
        if (e->tls.cacert[0])
                (void)curl_easy_setopt(h, CURLOPT_CAINFO, e->tls.cacert);
        if (e->tls.cert[0])
                (void)curl_easy_setopt(h, CURLOPT_SSLCERT, e->tls.cert);
        if (e->tls.key[0])
                (void)curl_easy_setopt(h, CURLOPT_SSLKEY, e->tls.key);
        CURLcode c = curl_easy_perform(h);
        curl_slist_free_all(hdr);
        if (c != CURLE_OK) {
                (void)snprintf(why, whylen, "%s: %s", e->url[i],
                               cerr[0] ? cerr : curl_easy_strerror(c));
                return -1;
        }
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
        return 0;
}

/* gRPC codes of an answer that another member may serve: DeadlineExceeded, Unavailable. */
static bool another_may_serve(long status, json_t *reply)
{
        json_int_t code = json_integer_value(json_object_get(reply, "code"));
        return status >= 500 || code == 4 || code == 14 || !reply;
}

static const char *error_text(json_t *reply)
{
        const char *t = json_string_value(json_object_get(reply, "error"));
        if (!t)
                t = json_string_value(json_object_get(reply, "message"));
        return t ? t : "no reason given";
}

static int call(struct etcd *e, const char *path, json_t *body, struct sink *s, bool stream,
                json_t **ret, vps_error *err)
{
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        char all[VPS_ERROR_MSG_MAX] = "";
        size_t used = 0;
        for (size_t k = 0; k < e->n; k++) {
                size_t i = (e->cur + k) % e->n;
                char why[400] = "";
                long status = 0;
                s->len = 0;
                if (s->buf)
                        s->buf[0] = '\0';
                int r = post(e, i, path, text, s, stream, &status, why, sizeof(why));
                if (stream && (s->stopped || (s->stop && *s->stop))) {
                        e->cur = i;
                        return 0;
                }
                json_t *reply = r == 0 && s->buf ? json_loads(s->buf, 0, NULL) : NULL;
                if (r == 0 && status == 200 && (reply || stream)) {
                        e->cur = i;
                        *ret = reply;
                        return 0;
                }
                if (r == 0 && !another_may_serve(status, reply)) {
                        e->cur = i;
                        /* gRPC OutOfRange: a revision asked for is compacted away. */
                        bool compacted = json_integer_value(json_object_get(reply, "code")) == 11;
                        int rr = vps_err(err, compacted ? ERANGE : EIO, "etcd %s: %s", path,
                                         error_text(reply));
                        json_decref(reply);
                        return rr;
                }
                if (r == 0)
                        (void)snprintf(why, sizeof(why), "%s: %s", e->url[i],
                                       reply ? error_text(reply) : "not an etcd answer");
                json_decref(reply);
                used += (size_t)snprintf(all + used, used < sizeof(all) ? sizeof(all) - used : 0,
                                         "%s%s", used ? "; " : "", why);
                if (used >= sizeof(all))
                        used = sizeof(all) - 1;
        }
        return vps_err(err, EHOSTUNREACH, "cluster unavailable: %s", all);
}

int etcd_call(struct etcd *e, const char *path, json_t *body, json_t **ret, vps_error *err)
{
        struct sink s = {0};
        int r = call(e, path, body, &s, false, ret, err);
        free(s.buf);
        return r;
}

struct watch {
        etcd_watch_fn fn;
        void *userdata;
        int64_t *last_rev;
};

static int watch_line(struct sink *s, char *text)
{
        struct watch *w = s->userdata;
        _cleanup_fjson_ json_t *msg = json_loads(text, 0, NULL);
        json_t *result = json_object_get(msg, "result");
        if (!result)
                return msg && json_object_get(msg, "error") ? -EIO : 0;
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(result, "events"), i, ev)
        {
                json_t *kv = json_object_get(ev, "kv");
                const char *k64 = json_string_value(json_object_get(kv, "key"));
                const char *v64 = json_string_value(json_object_get(kv, "value"));
                bool del = !strcmp(json_string_value(json_object_get(ev, "type")) ?: "", "DELETE");
                const char *mr = json_string_value(json_object_get(kv, "mod_revision"));
                int64_t rev = mr ? strtoll(mr, NULL, 10) : 0;
                _cleanup_free_ char *key = k64 ? etcd_unb64(k64, NULL) : NULL;
                _cleanup_free_ char *val = !del ? etcd_unb64(v64 ? v64 : "", NULL) : NULL;
                if (!key)
                        continue;
                *w->last_rev = rev;
                int r = w->fn(key, del ? NULL : (val ? val : ""), rev, w->userdata);
                if (r)
                        return r;
        }
        return 0;
}

int etcd_watch(struct etcd *e, const char *key, unsigned int flags, int64_t start_rev,
               etcd_watch_fn fn, void *userdata, const volatile bool *stop, vps_error *err)
{
        _cleanup_free_ char *k = etcd_b64(key, strlen(key));
        if (!k)
                return vps_err(err, ENOMEM, "out of memory");
        _cleanup_fjson_ json_t *req = json_pack("{s:{s:s, s:I}}", "create_request", "key", k,
                                                "start_revision", (json_int_t)start_rev);
        if (req && (flags & ETCD_PREFIX)) {
                _cleanup_free_ char *end = strdup(key);
                if (end && *end)
                        end[strlen(end) - 1]++;
                _cleanup_free_ char *e64 = end ? etcd_b64(end, strlen(end)) : NULL;
                if (!e64)
                        return vps_err(err, ENOMEM, "out of memory");
                json_object_set_new(json_object_get(req, "create_request"), "range_end",
                                    json_string(e64));
        }
        if (!req)
                return vps_err(err, ENOMEM, "out of memory");
        int64_t last = start_rev;
        struct watch w = {fn, userdata, &last};
        struct sink s = {.line = watch_line, .userdata = &w, .stop = stop};
        json_t *reply = NULL;
        int r = call(e, "/v3/watch", req, &s, true, &reply, err);
        json_decref(reply);
        free(s.buf);
        if (r == 0 && s.stopped < 0)
                r = vps_err(err, EIO, "etcd watch of %s: the stream failed", key);
        return r;
}

int fleet_curl_cloexec(void *userdata, curl_socket_t fd, curlsocktype purpose)
{
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0)
                (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        return CURL_SOCKOPT_OK;
}
