/* vpsctl, private to client.c, local.c, upgrade.c and pins.c: the connection to a target (the
 * local socket, connected and checked by vpsctl itself, or a libcurl handle for a remote over
 * TLS with its pins and credentials), and libcurl's results turned into vps_error. */
#pragma once

#include "curl_dl.h"
#include <stdbool.h>

#include "client.h"
#include "vps/error.h"

/* The local socket is local: a daemon that does not accept within this is stuck. A remote
 * gets as long for its TCP and TLS handshakes. */
#define CONNECT_TIMEOUT_S 10L

struct conn {
        const struct client_target *t;
        CURL *h;
        vps_error *err;
        bool err_set;       /* a callback already put the whole reason into err */
        bool first_contact; /* no pins yet: the handshake only reads the certificate */
        long timeout_s;
        long connect_s;
        int fd; /* the local socket (conn_local), -1 for a remote */
        struct curl_slist *headers;
        char where[512]; /* "vpsd at PATH" or "remote NAME at URL", for messages */
        char errbuf[CURL_ERROR_SIZE];
};

/* A libcurl handle for PATH on the remote t (a URL of its own when path is NULL: a connection
 * alone), with the deadline timeout_s (0: none); headers given to it are freed by conn_done.
 * 0 or -errno (EINVAL for the local socket, which is conn_local's). */
int conn_init(struct conn *c, const struct client_target *t, const char *path, long timeout_s,
              vps_error *err);
/* The local socket alone, connected and its peer checked, without libcurl (c->h NULL, c->fd
 * the socket): for the streams, which libcurl only connects. 0 or -errno. */
int conn_local(struct conn *c, const struct client_target *t, vps_error *err);
/* The same for a request within timeout_s seconds (0: none): connecting waits at most as long
 * (and never more than CONNECT_TIMEOUT_S). */
int conn_local_within(struct conn *c, const struct client_target *t, long timeout_s,
                      vps_error *err);
void conn_done(struct conn *c);

/* Turns libcurl's result of a transfer on c into err ("cannot connect to vpsd at PATH", "did
 * not answer within N seconds", a certificate that is not the one pinned...). Returns the
 * negative errno. */
int conn_fail(struct conn *c, CURLcode rc);

/* Checks c's connection before anything is sent on it: the local socket's listener must be
 * root (EPERM), a remote's certificate the pinned one (EPERM, loud); 0 when it is. libcurl
 * calls it before a request (CURLOPT_PREREQFUNCTION); a CONNECT_ONLY caller calls it. */
int conn_check_peer(struct conn *c);

/* The description of t used in messages. */
void conn_where(const struct client_target *t, char *buf, size_t size);

/* pins.c */
int pins_from_pem(const char *pem, char ret_fp[CLIENT_FP_LEN], char ret_pubkey[CLIENT_PIN_LEN],
                  vps_error *err);
/* The server's certificate on c's handle (CURLOPT_CERTINFO was on). */
int pins_of_connection(CURL *h, char ret_fp[CLIENT_FP_LEN], char ret_pubkey[CLIENT_PIN_LEN],
                       vps_error *err);
