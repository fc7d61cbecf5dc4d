/* tls.c: the remote API's key and self-signed certificate (ROOT/remote/server.{key,crt},
 * made on first use, root's alone), its SHA-256 fingerprint, and the fingerprint of the
 * certificate a client presented. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;

/* 64 lowercase hex digits and a NUL. */
#define VPSD_FP_LEN 65

/* The directory of the remote API's files under the state root: ROOT/remote, 0700. */
int vpsd_remote_dir(const char *root, char *ret, size_t size, vps_error *err);
/* Loads ROOT/remote/server.{key,crt}, making them first when missing, for the TLS daemon's
 * certificate callback; ret_fp gets the certificate's fingerprint. */
int vpsd_tls_load(const char *root, char ret_fp[VPSD_FP_LEN], vps_error *err);
/* The certificate callback given to libmicrohttpd (MHD_OPTION_HTTPS_CERT_CALLBACK); it also
 * asks the client for a certificate, naming no authority (any is taken, then checked against
 * the trusted fingerprints). */
void *vpsd_tls_cert_callback(void);
/* The connection callback given to libmicrohttpd (MHD_OPTION_NOTIFY_CONNECTION): each new TLS
 * session gets the process's session ticket key, so that clients can resume. */
void *vpsd_tls_connection_callback(void);
/* The fingerprint of the certificate in a PEM text (vpsctl trust add). */
int vpsd_tls_pem_fingerprint(const char *pem, size_t len, char ret_fp[VPSD_FP_LEN], vps_error *err);
/* The fingerprint of the client's certificate on a TLS connection: 1 when it presented one,
 * 0 when not (or on a connection without TLS). */
int vpsd_tls_peer_fingerprint(struct MHD_Connection *c, char ret_fp[VPSD_FP_LEN]);
/* SHA-256 of the loaded certificate's public key (its DER SubjectPublicKeyInfo): what a peer
 * node pins ("sha256//" and its base64, libcurl's CURLOPT_PINNEDPUBLICKEY). -EIO when none
 * is loaded. */
int vpsd_tls_pubkey_hash(unsigned char ret[32]);
/* The priorities of the TLS daemon: TLS 1.2 and 1.3 alone. */
#define VPSD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"
