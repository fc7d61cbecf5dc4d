/* vpsctl: the bits of HTTP/1.1 that vpsctl still writes itself, as pure functions: a request
 * path made safe for a URL, the plain requests on the local socket and the Upgrade request of
 * the console and backup streams, with the head of their answers (libcurl does a remote's
 * requests and the local socket's streamed GETs: client.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vps/error.h"

/* The status line and headers of an answer to an Upgrade, at most. */
#define HTTP_HEAD_MAX 8192u
/* The body of a refused Upgrade read at most (vpsd's {"error", "errno"}). */
#define HTTP_ERROR_BODY_MAX 65536u

/* A token (RFC 9110 5.6.2): what a method and a header name are made of. */
bool http_is_token(const char *s);

/* path with every byte that is not printable ASCII (a space, a control character, a byte of
 * a UTF-8 name) percent-encoded, as a browser does; NULL without memory. */
char *http_encode_path(const char *path);

/* Checks METHOD and PATH for a request: a token, and "/" followed by anything (encoded by
 * http_encode_path). EINVAL naming the problem. */
int http_request_check(const char *method, const char *path, vps_error *err);

/* "POST PATH HTTP/1.1" with Host, Connection: Upgrade, Upgrade: PROTO, an Authorization
 * header when authorization is not NULL ("Bearer T"), and Content-Length (0 without a body;
 * with one, Content-Type: application/json and the body after the head); path encoded.
 * Stores the malloc'd bytes (NUL-terminated) in *ret and their number in *ret_len. */
int http_upgrade_request(const char *host, const char *path, const char *proto,
                         const char *authorization, const char *body, char **ret, size_t *ret_len,
                         vps_error *err);

/* "METHOD PATH HTTP/1.1" with Host, Connection: close, and Content-Length when with_length
 * or a body is given (the body, JSON, after the head with its Content-Type); path encoded.
 * The plain requests on the local socket (local.c). As http_upgrade_request otherwise. */
int http_plain_request(const char *method, const char *host, const char *path, const char *body,
                       bool with_length, char **ret, size_t *ret_len, vps_error *err);

/* The head of an answer: "HTTP/1.x NNN reason", header lines, an empty line. */
struct http_head {
        int status;          /* 100 to 599 */
        long content_length; /* -1 without one */
        bool chunked;        /* Transfer-Encoding: chunked (then no Content-Length counts) */
};

/* Parses the len bytes of a complete head (ending in CRLF CRLF). EBADMSG for a malformed
 * one: no HTTP/1.x status line, a control character, a bad or conflicting Content-Length. */
int http_head_parse(const char *buf, size_t len, struct http_head *ret, vps_error *err);

/* The length of the head at the start of buf once its empty line (CRLF CRLF) is in, else 0. */
size_t http_head_end(const char *buf, size_t len);
