/* vpsctl: what it still says in HTTP/1.1 by itself (RFC 9112), without I/O: request paths
 * made URL-safe, the Upgrade request of the streams and the head of its answer. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vps/cleanup.h"

static bool is_tchar(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

bool http_is_token(const char *s)
{
        if (!s || !*s)
                return false;
        for (; *s; s++)
                if (!is_tchar((unsigned char)*s))
                        return false;
        return true;
}

/* A path byte sent as is: printable ASCII; a space, a control character or a non-ASCII
 * byte (a template name typed by the user) is percent-encoded. */
static bool path_byte_ok(unsigned char c)
{
        return c > ' ' && c < 0x7f;
}

char *http_encode_path(const char *path)
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

int http_request_check(const char *method, const char *path, vps_error *err)
{
        if (!http_is_token(method))
                return vps_err(err, EINVAL, "invalid HTTP method");
        if (path[0] != '/')
                return vps_err(err, EINVAL, "invalid request path: it must start with '/'");
        return 0;
}

/* "METHOD PATH HTTP/1.1" and its headers: Connection and Upgrade when proto is given,
 * Connection: close otherwise; Content-Length when with_length. */
static int request(const char *method, const char *host, const char *path, const char *proto,
                   const char *authorization, const char *body, bool with_length, char **ret,
                   size_t *ret_len, vps_error *err)
{
        *ret = NULL;
        *ret_len = 0;
        if (http_request_check(method, path, err) < 0)
                return -err->code;
        if (proto && !http_is_token(proto))
                return vps_err(err, EINVAL, "invalid upgrade protocol");
        for (const char *p = host; *p; p++)
                if (!path_byte_ok((unsigned char)*p))
                        return vps_err(err, EINVAL, "invalid host name");
        for (const char *p = authorization ? authorization : ""; *p; p++)
                if (!path_byte_ok((unsigned char)*p) && *p != ' ')
                        return vps_err(err, EINVAL, "a control character in the token");

        char length[48] = "";
        if (with_length || body)
                (void)snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
                               body ? strlen(body) : 0);
        _cleanup_free_ char *target = http_encode_path(path);
        char *req = NULL;
        int n = target ? asprintf(&req,
                                  "%s %s HTTP/1.1\r\n"
                                  "Host: %s\r\n"
                                  "User-Agent: vpsctl/" VPS_VERSION "\r\n"
                                  "%s%s%s"
                                  "%s%s%s"
                                  "%s"
                                  "%s"
                                  "\r\n"
                                  "%s",
                                  method, target, host,
                                  proto ? "Connection: Upgrade\r\nUpgrade: " : "Connection: close",
                                  proto ? proto : "", "\r\n",
                                  authorization ? "Authorization: " : "",
                                  authorization ? authorization : "", authorization ? "\r\n" : "",
                                  body ? "Content-Type: application/json\r\n" : "", length,
                                  body ? body : "")
                       : -1;
        if (n < 0)
                return vps_err(err, ENOMEM, "building the request: %s", strerror(ENOMEM));
        *ret = req;
        *ret_len = (size_t)n;
        return 0;
}

int http_upgrade_request(const char *host, const char *path, const char *proto,
                         const char *authorization, const char *body, char **ret, size_t *ret_len,
                         vps_error *err)
{
        if (!proto) {
                *ret = NULL;
                *ret_len = 0;
                return vps_err(err, EINVAL, "invalid upgrade protocol");
        }
        return request("POST", host, path, proto, authorization, body, true, ret, ret_len, err);
}

int http_plain_request(const char *method, const char *host, const char *path, const char *body,
                       bool with_length, char **ret, size_t *ret_len, vps_error *err)
{
        return request(method, host, path, NULL, NULL, body, with_length, ret, ret_len, err);
}

size_t http_head_end(const char *buf, size_t len)
{
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        return end ? (size_t)(end - buf) + 4 : 0;
}

static int malformed(vps_error *err, const char *what)
{
        return vps_err(err, EBADMSG, "malformed reply: %s", what);
}

/* What a field value or a reason phrase may hold: visible ASCII, space, tab, obs-text. */
static bool is_field_byte(unsigned char c)
{
        return c == '\t' || (c >= ' ' && c != 0x7f);
}

/* "HTTP/1.1 101 Switching Protocols": version 1.0 or 1.1, three digits, then nothing or a
 * space and a reason phrase. */
static int status_line(const char *s, size_t len, int *ret_status, vps_error *err)
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
        *ret_status = status;
        return 0;
}

/* A Content-Length value: digits, at most HTTP_ERROR_BODY_MAX's worth of them and more
 * saturating; a repeat must agree. */
static int length_value(const char *v, size_t n, long *ret, vps_error *err)
{
        while (n > 0 && (*v == ' ' || *v == '\t'))
                v++, n--;
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
        if (n == 0)
                return malformed(err, "invalid Content-Length");
        long len = 0;
        for (size_t i = 0; i < n; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return malformed(err, "invalid Content-Length");
                len = len > 100000000L ? len : len * 10 + (v[i] - '0');
        }
        if (*ret >= 0 && *ret != len)
                return malformed(err, "conflicting Content-Length values");
        *ret = len;
        return 0;
}

int http_head_parse(const char *buf, size_t len, struct http_head *ret, vps_error *err)
{
        *ret = (struct http_head){.content_length = -1};
        if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
                return malformed(err, "the headers do not end");
        const char *line = buf, *end = buf + len - 2; /* the last CRLF is the empty line */
        bool first = true;
        while (line < end) {
                const char *crlf = memmem(line, (size_t)(end - line), "\r\n", 2);
                size_t n = (size_t)(crlf - line);
                if (first) {
                        int r = status_line(line, n, &ret->status, err);
                        if (r < 0)
                                return r;
                        first = false;
                        line = crlf + 2;
                        continue;
                }
                const char *colon = memchr(line, ':', n);
                if (!colon || colon == line)
                        return malformed(err, "invalid header line");
                for (const char *p = line; p < colon; p++)
                        if (!is_tchar((unsigned char)*p))
                                return malformed(err, "invalid header name");
                for (const char *p = colon + 1; p < crlf; p++)
                        if (!is_field_byte((unsigned char)*p))
                                return malformed(err, "control character in a header");
                if (colon - line == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                        /* chunked is the last coding, the only one vpsd (libmicrohttpd) uses */
                        const char *v = crlf;
                        while (v > colon + 1 && (v[-1] == ' ' || v[-1] == '\t'))
                                v--;
                        /* a whole coding: the value's first, or after a comma */
                        const char *w = v - 7;
                        while (w > colon + 1 && (w[-1] == ' ' || w[-1] == '\t'))
                                w--;
                        ret->chunked = v - (colon + 1) >= 7 &&
                                       strncasecmp(v - 7, "chunked", 7) == 0 &&
                                       (w == colon + 1 || w[-1] == ',');
                }
                if (colon - line == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                        int r = length_value(colon + 1, (size_t)(crlf - colon - 1),
                                             &ret->content_length, err);
                        if (r < 0)
                                return r;
                }
                line = crlf + 2;
        }
        return first ? malformed(err, "no HTTP/1.x status line") : 0;
}
