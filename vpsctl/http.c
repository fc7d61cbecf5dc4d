/* vpsctl: the HTTP/1.1 that vpsctl speaks with vpsd (RFC 9112), without I/O: request bytes,
 * and a reply parser fed by whatever pieces the socket gives, one byte or all at once. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vps/cleanup.h"
#include "vps/util.h"

/* --- the request --------------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* A path byte sent as is: printable ASCII; a space, a control character or a non-ASCII
 * byte (a template name typed by the user) is percent-encoded, as a browser does. */
static bool path_byte_ok(unsigned char c)
{
        return c > ' ' && c < 0x7f;
}

static char *encode_path(const char *path)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = 1;

        for (const char *p = path; *p; p++)
                n += path_byte_ok((unsigned char)*p) ? 1 : 3;
        char *out = malloc(n), *o = out;
        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
                if (path_byte_ok(*p)) {
                        *o++ = (char)*p;
                        continue;
                }
                *o++ = '%';
                *o++ = hex[*p >> 4];
                *o++ = hex[*p & 15];
        }
        *o = '\0';
        return out;
}

int http_request_build(const char *method, const char *path, const char *body, char **ret,
                       size_t *ret_len, vps_error *err)
{
        /* vpsd reads a POST's body only with a length; PUT and PATCH are alike */
        bool length = body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                      strcmp(method, "PATCH") == 0;
        char content_length[48] = "";
        char *req = NULL;

        *ret = NULL;
        *ret_len = 0;
        size_t m = 0;
        while (method[m] && is_tchar((unsigned char)method[m]))
                m++;
        if (m == 0 || method[m] != '\0')
                return vps_err(err, EINVAL, "invalid HTTP method");
        if (path[0] != '/')
                return vps_err(err, EINVAL, "invalid request path: it must start with '/'");
        if (length)
                (void)snprintf(content_length, sizeof(content_length), "Content-Length: %zu\r\n",
                               body ? strlen(body) : 0);

        _cleanup_free_ char *target = encode_path(path);
        int n = target ? asprintf(&req,
                                  "%s %s HTTP/1.1\r\n"
                                  "Host: localhost\r\n"
                                  "User-Agent: vpsctl/" VPS_VERSION "\r\n"
                                  "%s%s"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "%s",
                                  method, target, body ? "Content-Type: application/json\r\n" : "",
                                  content_length, body ? body : "")
                       : -1;
        if (n < 0)
                return vps_err(err, ENOMEM, "building the request: %s", strerror(ENOMEM));
        *ret = req;
        *ret_len = (size_t)n;
        return 0;
}

/* --- the reply: helpers -------------------------------------------------------------- */

/* What a field value (or a reason phrase, or a chunk extension) may hold: visible ASCII,
 * space, tab and obs-text; no other control character (a bare CR, a NUL). */
static bool is_field_byte(unsigned char c)
{
        return c == '\t' || (c >= ' ' && c != 0x7f);
}

static bool is_ows(char c)
{
        return c == ' ' || c == '\t';
}

static int malformed(vps_error *err, const char *what)
{
        return vps_err(err, EBADMSG, "malformed reply: %s", what);
}

static int too_large(const struct http_reply *r, vps_error *err)
{
        return vps_err(err, EMSGSIZE, "the reply's body is larger than %zu bytes", r->body_max);
}

/* Appends to the body, always NUL-terminated; grows it by doubling, or at once to the
 * announced Content-Length. */
static int append(struct http_reply *r, const char *data, size_t n, vps_error *err)
{
        size_t hint = r->phase == HTTP_BODY_LENGTH ? r->body_len + (size_t)r->left + 1 : 0;
        int e = vps_buf_append(&r->body, &r->body_len, &r->body_cap, data, n, r->body_max, hint);
        if (e == -EMSGSIZE)
                return too_large(r, err);
        if (e < 0)
                return vps_err(err, ENOMEM, "reading the reply: %s", strerror(ENOMEM));
        return 0;
}

/* Gathers bytes up to a LF into r->line. Returns the bytes used, with *ret_complete set when
 * the line is whole (its LF, and a CR before it, dropped), or a negative errno. */
static ssize_t take_line(struct http_reply *r, const char *buf, size_t len, bool *ret_complete,
                         vps_error *err)
{
        const char *lf = memchr(buf, '\n', len);
        size_t n = lf ? (size_t)(lf - buf) : len;
        size_t used = lf ? n + 1 : n;

        *ret_complete = false;
        if (n >= sizeof(r->line) - r->line_len)
                return vps_err(err, EBADMSG, "malformed reply: a line over %zu bytes",
                               sizeof(r->line) - 1);
        if (r->phase == HTTP_STATUS || r->phase == HTTP_HEADERS || r->phase == HTTP_TRAILERS) {
                r->head_len += used;
                if (r->head_len > HTTP_HEAD_MAX)
                        return vps_err(err, EBADMSG, "malformed reply: headers over %u bytes",
                                       HTTP_HEAD_MAX);
        }
        memcpy(r->line + r->line_len, buf, n);
        r->line_len += n;
        if (!lf)
                return (ssize_t)used;
        if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
                r->line_len--;
        r->line[r->line_len] = '\0';
        *ret_complete = true;
        return (ssize_t)used;
}

/* --- the reply: lines ---------------------------------------------------------------- */

/* "HTTP/1.1 200 OK": version 1.0 or 1.1, three digits, then nothing or a space and a
 * reason phrase (which may be empty). */
static int on_status_line(struct http_reply *r, const char *s, size_t len, vps_error *err)
{
        if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
            s[8] != ' ' || (len > 12 && s[12] != ' '))
                return malformed(err, "no HTTP/1.x status line");
        int status = 0;
        for (size_t i = 9; i < 12; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return malformed(err, "no HTTP/1.x status line");
                status = status * 10 + (s[i] - '0');
        }
        if (status < 100 || status > 599)
                return malformed(err, "invalid status code");
        for (size_t i = 12; i < len; i++)
                if (!is_field_byte((unsigned char)s[i]))
                        return malformed(err, "control character in the status line");
        r->status = status;
        r->http10 = s[7] == '0';
        r->phase = HTTP_HEADERS;
        return 0;
}

/* Calls fn on each non-empty element of a comma-separated list, trimmed of OWS; a list
 * without any is malformed (both headers that use it want one element at least). */
static int each_element(struct http_reply *r, const char *v, size_t len,
                        int (*fn)(struct http_reply *r, const char *e, size_t n, vps_error *err),
                        vps_error *err)
{
        const char *end = v + len;
        bool any = false;

        while (v < end) {
                const char *comma = memchr(v, ',', (size_t)(end - v));
                const char *e = comma ? comma : end;
                const char *s = v;
                while (s < e && is_ows(*s))
                        s++;
                const char *t = e;
                while (t > s && is_ows(t[-1]))
                        t--;
                if (t > s) {
                        int ret = fn(r, s, (size_t)(t - s), err);
                        if (ret < 0)
                                return ret;
                        any = true;
                }
                v = comma ? comma + 1 : end;
        }
        return any ? 0 : malformed(err, "empty Content-Length or Transfer-Encoding");
}

/* One Content-Length value: repeats ("5, 5" or two fields) must agree. A value too large to
 * hold saturates, and is refused as too large when the headers end. */
static int on_length(struct http_reply *r, const char *e, size_t n, vps_error *err)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++) {
                if (e[i] < '0' || e[i] > '9')
                        return malformed(err, "invalid Content-Length");
                unsigned d = (unsigned)(e[i] - '0');
                v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        }
        if (r->has_length && r->left != v)
                return malformed(err, "conflicting Content-Length values");
        r->has_length = true;
        r->left = v;
        return 0;
}

/* Only "chunked", once and last: vpsctl decodes no compression. */
static int on_coding(struct http_reply *r, const char *e, size_t n, vps_error *err)
{
        if (r->chunked || n != 7 || strncasecmp(e, "chunked", 7) != 0)
                return malformed(err, "unsupported Transfer-Encoding");
        r->chunked = true;
        return 0;
}

static int on_header_line(struct http_reply *r, const char *s, size_t len, vps_error *err)
{
        const char *colon = memchr(s, ':', len);

        /* a space before the colon or at the start (obsolete line folding) is refused */
        if (!colon || colon == s)
                return malformed(err, "invalid header line");
        for (const char *p = s; p < colon; p++)
                if (!is_tchar((unsigned char)*p))
                        return malformed(err, "invalid header name");
        for (const char *p = colon + 1; p < s + len; p++)
                if (!is_field_byte((unsigned char)*p))
                        return malformed(err, "control character in a header");

        size_t name_len = (size_t)(colon - s);
        size_t value_len = len - name_len - 1;
        if (name_len == 14 && strncasecmp(s, "Content-Length", 14) == 0)
                return each_element(r, colon + 1, value_len, on_length, err);
        if (name_len == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0)
                return each_element(r, colon + 1, value_len, on_coding, err);
        return 0;
}

/* The empty line after the headers: decides how the body is framed (RFC 9112 6.3). */
static int on_head_end(struct http_reply *r, vps_error *err)
{
        if (r->status < 200 && r->status != 101) {
                /* an interim reply (100 Continue): the real one follows; head_len goes on
                 * counting, so that no stream of them is endless */
                r->has_length = r->chunked = false;
                r->left = 0;
                r->phase = HTTP_STATUS;
                return 0;
        }
        if (r->status == 101 || r->status == 204 || r->status == 304) {
                r->phase = HTTP_DONE;
                return 0;
        }
        if (r->chunked) {
                if (r->http10)
                        return malformed(err, "Transfer-Encoding in an HTTP/1.0 reply");
                r->phase = HTTP_CHUNK_SIZE;
                return 0;
        }
        if (!r->has_length) {
                r->phase = HTTP_BODY_EOF;
                return 0;
        }
        if (r->left > r->body_max)
                return too_large(r, err);
        r->phase = r->left > 0 ? HTTP_BODY_LENGTH : HTTP_DONE;
        return 0;
}

/* "1a3f", maybe followed by ";name=value" extensions, which are ignored. */
static int on_chunk_size(struct http_reply *r, const char *s, size_t len, vps_error *err)
{
        uint64_t size = 0;
        size_t i = 0;

        for (; i < len; i++) {
                char c = s[i];
                unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                    : 16;
                if (d == 16)
                        break;
                size = size > (UINT64_MAX - d) / 16 ? UINT64_MAX : size * 16 + d;
        }
        size_t digits = i;
        while (i < len && is_ows(s[i]))
                i++;
        if (digits == 0 || (i < len && s[i] != ';'))
                return malformed(err, "invalid chunk size");
        for (; i < len; i++)
                if (!is_field_byte((unsigned char)s[i]))
                        return malformed(err, "control character in a chunk extension");
        if (size > r->body_max - r->body_len)
                return too_large(r, err);
        if (size == 0) {
                r->head_len = 0; /* the trailers have a limit of their own */
                r->phase = HTTP_TRAILERS;
                return 0;
        }
        r->left = size;
        r->phase = HTTP_CHUNK_DATA;
        return 0;
}

static int on_line(struct http_reply *r, vps_error *err)
{
        const char *s = r->line;
        size_t len = r->line_len;

        switch (r->phase) {
        case HTTP_STATUS:
                return on_status_line(r, s, len, err);
        case HTTP_HEADERS:
                return len == 0 ? on_head_end(r, err) : on_header_line(r, s, len, err);
        case HTTP_CHUNK_SIZE:
                return on_chunk_size(r, s, len, err);
        case HTTP_CHUNK_END:
                if (len != 0)
                        return malformed(err, "chunk data longer than its size");
                r->phase = HTTP_CHUNK_SIZE;
                return 0;
        case HTTP_TRAILERS:
                if (len == 0)
                        r->phase = HTTP_DONE;
                return 0; /* trailers say nothing vpsctl needs */
        default:
                return malformed(err, "internal parser state");
        }
}

/* --- the reply: the parser ----------------------------------------------------------- */

void http_reply_init(struct http_reply *r, size_t body_max)
{
        *r = (struct http_reply){.phase = HTTP_STATUS, .body_max = body_max};
}

void http_reply_free(struct http_reply *r)
{
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
}

/* One phase's worth of buf: returns the bytes used or a negative errno. */
static ssize_t step(struct http_reply *r, const char *buf, size_t len, vps_error *err)
{
        int ret;

        if (r->phase == HTTP_BODY_EOF) {
                ret = append(r, buf, len, err);
                return ret < 0 ? ret : (ssize_t)len;
        }
        if (r->phase == HTTP_BODY_LENGTH || r->phase == HTTP_CHUNK_DATA) {
                size_t n = len < r->left ? len : (size_t)r->left;
                ret = append(r, buf, n, err);
                if (ret < 0)
                        return ret;
                r->left -= n;
                if (r->left == 0)
                        r->phase = r->phase == HTTP_CHUNK_DATA ? HTTP_CHUNK_END : HTTP_DONE;
                return (ssize_t)n;
        }

        bool complete;
        ssize_t used = take_line(r, buf, len, &complete, err);
        if (used < 0 || !complete)
                return used;
        ret = on_line(r, err);
        r->line_len = 0;
        return ret < 0 ? ret : used;
}

ssize_t http_reply_feed(struct http_reply *r, const char *buf, size_t len, vps_error *err)
{
        size_t used = 0;

        if (r->phase == HTTP_FAILED)
                return vps_err(err, EINVAL, "the reply was already found invalid");
        while (used < len && r->phase != HTTP_DONE) {
                ssize_t n = step(r, buf + used, len - used, err);
                if (n < 0) {
                        r->phase = HTTP_FAILED;
                        return n;
                }
                used += (size_t)n;
        }
        return (ssize_t)used;
}

int http_reply_finish(struct http_reply *r, vps_error *err)
{
        switch (r->phase) {
        case HTTP_DONE:
                return 0;
        case HTTP_BODY_EOF:
                r->phase = HTTP_DONE;
                return 0;
        case HTTP_FAILED:
                return vps_err(err, EINVAL, "the reply was already found invalid");
        case HTTP_STATUS:
        case HTTP_HEADERS:
                r->phase = HTTP_FAILED;
                if (r->head_len == 0)
                        return vps_err(err, ECONNRESET, "the connection closed without a reply");
                return vps_err(err, ECONNRESET, "the connection closed inside the headers");
        case HTTP_BODY_LENGTH:
                r->phase = HTTP_FAILED;
                return vps_err(err, ECONNRESET,
                               "the connection closed after %zu of %llu bytes of the body",
                               r->body_len, (unsigned long long)(r->body_len + r->left));
        default:
                r->phase = HTTP_FAILED;
                return vps_err(err, ECONNRESET,
                               "the connection closed inside the chunked body (after %zu bytes)",
                               r->body_len);
        }
}
