/* vpsctl: the HTTP client of vpsd's REST API (docs/api.md): over vpsd's Unix socket (its
 * plain requests without libcurl: local.h), or through libcurl over HTTPS to a remote vpsd
 * whose certificate was pinned at first contact (remote.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "vps/error.h"

/* SHA-256 of a certificate (DER) in 64 lowercase hex digits, and its NUL. */
#define CLIENT_FP_LEN 65
/* "sha256//" and the base64 of the SHA-256 of a public key (SubjectPublicKeyInfo, DER). */
#define CLIENT_PIN_LEN 53

/* Where requests go: vpsd's Unix socket (url NULL), or a remote's HTTPS address with its
 * credentials and pins. The strings belong to the caller. */
struct client_target {
        const char *socket_path; /* the local socket */
        const char *name;        /* the remote's name, for messages */
        const char *url;         /* "https://HOST:PORT" */
        const char *token;       /* sent as "Authorization: Bearer TOKEN", or NULL */
        const char *cert;        /* client certificate and key (PEM files), or NULL */
        const char *key;
        const char *fingerprint; /* the certificate pinned (hex); NULL at first contact */
        const char *pubkey;      /* and its public key (CURLOPT_PINNEDPUBLICKEY) */
        const vps_error *broken; /* the reason it cannot be used (a remote not found or
                                    remotes.json unreadable): every request fails with it */
};

/* Sends METHOD PATH with body (NULL for none) as JSON and waits up to timeout_s seconds (0 or
 * less: forever; connecting never waits more than 10 s) before "vpsd at PATH did not answer
 * within N seconds". On a 2xx reply stores the parsed JSON body in *ret (NULL when the body
 * is empty) and returns 0. An HTTP error status becomes err with the daemon's "error" text
 * and "errno"; returns a negative errno. */
int client_request(const struct client_target *t, const char *method, const char *path,
                   json_t *body, long timeout_s, json_t **ret, vps_error *err);

/* The same for a GET whose 2xx body is wanted as vpsd sent it (*ret: malloc'd, NUL
 * terminated, NULL when empty), e.g. to print it without parsing it. */
int client_request_text(const struct client_target *t, const char *path, long timeout_s, char **ret,
                        size_t *ret_len, vps_error *err);

/* A GET whose 2xx body is handed to on_body as it arrives (chunks undone by libcurl), within
 * timeout_s seconds (0: no time limit), until vpsd ends it or on_body returns a negative
 * errno (returned). Another status becomes err from its body. */
int client_request_stream(const struct client_target *t, const char *path, long timeout_s,
                          int (*on_body)(const char *data, size_t len, void *arg), void *arg,
                          vps_error *err);

/* POST PATH with body (JSON text, or NULL) upgraded to the protocol proto (vps-console,
 * vps-backup, vps-restore, vps-progress): once vpsd answered 101, *ret_fd (blocking,
 * O_CLOEXEC) carries the stream's bytes both ways: the socket itself, or for a remote one
 * end of a socket pair whose other end a thread relays through TLS (upgrade.c). A refusal
 * becomes err from vpsd's answer; with ret_plain given, a 2xx answer (a vpsd without that
 * upgrade did the request as a plain one) is 0 with its JSON in *ret_plain, *ret_fd -1. */
int client_stream_open(const struct client_target *t, const char *path, const char *proto,
                       const char *body, int *ret_fd, json_t **ret_plain, vps_error *err);

/* A remote's first contact: a TLS handshake (with the client certificate, if any) that sends
 * nothing, and the fingerprint and public key pin of the certificate the server showed. */
int client_fetch_pins(const struct client_target *t, char ret_fp[CLIENT_FP_LEN],
                      char ret_pubkey[CLIENT_PIN_LEN], vps_error *err);

/* Turns an HTTP error reply body into err: the "error" field as is, "errno" as the code. */
int client_error_from_body(const char *body, size_t len, long http_status, vps_error *err);
/* The API's field names in msg ('ram', 'ssh_key') as vpsctl's options (--ram, --ssh-key). */
void client_option_names(char *msg, size_t size);
