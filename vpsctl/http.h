/* vpsctl: HTTP/1.1 messages to and from vpsd as pure functions, no I/O: the bytes of a
 * request, and an incremental parser of the reply that client.c feeds what it reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"

/* A reply larger than this is not something vpsd sends: refused rather than eating memory. */
#define HTTP_BODY_MAX (64u << 20)
/* The status line and headers together (and, apart, a chunked body's trailers). */
#define HTTP_HEAD_MAX (64u << 10)
/* One line: the status line, a header, a chunk size with its extensions, a trailer. */
#define HTTP_LINE_MAX 8192u

/* Builds "METHOD PATH HTTP/1.1" with Host, User-Agent, Connection: close and, with a body
 * (NULL for none), Content-Type: application/json. Content-Length is sent with a body and
 * always for POST, PUT and PATCH (0 when empty). Stores the malloc'd bytes (NUL-terminated)
 * in *ret and their number in *ret_len. A method that is not a token or a path that is not
 * "/" followed by printable ASCII is EINVAL. */
int http_request_build(const char *method, const char *path, const char *body, char **ret,
                       size_t *ret_len, vps_error *err);

enum http_phase {
        HTTP_STATUS,      /* the status line */
        HTTP_HEADERS,     /* header lines, up to the empty line */
        HTTP_BODY_LENGTH, /* Content-Length bytes */
        HTTP_BODY_EOF,    /* neither Content-Length nor chunked: the body ends with the stream */
        HTTP_CHUNK_SIZE,  /* a chunk's size line (extensions ignored) */
        HTTP_CHUNK_DATA,
        HTTP_CHUNK_END, /* the CRLF after a chunk's data */
        HTTP_TRAILERS,  /* after the last chunk, ignored up to the empty line */
        HTTP_DONE,
        HTTP_FAILED,
};

/* A reply being parsed. Fields above the line are the results; the rest is the parser's. */
struct http_reply {
        int status;      /* 100 to 599 once the status line is in */
        char *body;      /* malloc'd and NUL-terminated; NULL while the body is empty */
        size_t body_len; /* without the NUL */

        enum http_phase phase;
        size_t body_max;
        size_t body_cap;
        size_t head_len; /* bytes of the status line and headers (or of the trailers) */
        uint64_t left;   /* bytes still to come of the Content-Length or of the chunk */
        bool has_length; /* a Content-Length was given (its value is in left) */
        bool chunked;    /* Transfer-Encoding: chunked */
        bool http10;     /* HTTP/1.0 */
        size_t line_len; /* bytes of the unfinished line in line */
        char line[HTTP_LINE_MAX];
};

/* Starts a reply whose body may hold at most body_max bytes (HTTP_BODY_MAX for vpsd's). */
void http_reply_init(struct http_reply *r, size_t body_max);

/* Parses the next len bytes of the stream. Returns how many were used (fewer than len only
 * once the reply is complete: what follows is not part of it, e.g. a 101's upgraded stream)
 * or a negative errno: EBADMSG for a malformed reply, EMSGSIZE for a body over body_max,
 * ENOMEM. After an error the reply only accepts http_reply_free(). 1xx replies other than
 * 101 are skipped; 101, 204 and 304 end with their headers. A reply to HEAD is not
 * supported (its Content-Length would be taken for a body). */
ssize_t http_reply_feed(struct http_reply *r, const char *buf, size_t len, vps_error *err);

/* Tells the parser the stream ended: completes a body that runs to EOF; a reply cut short
 * is ECONNRESET. Returns 0 when the reply is complete. */
int http_reply_finish(struct http_reply *r, vps_error *err);

static inline bool http_reply_done(const struct http_reply *r)
{
        return r->phase == HTTP_DONE;
}

void http_reply_free(struct http_reply *r);
