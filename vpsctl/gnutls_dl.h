/* vpsctl: GnuTLS, loaded when a command first reads a remote's certificate (pins.c) rather
 * than at every start: with what it links (p11-kit, libtasn1, libidn2, libunistring, hogweed,
 * gmp, libffi) and its constructor, 2-3 ms of every command, the local socket's included
 * (bench/README.md). With VPS_GNUTLS_DLOPEN (vpsctl's build against the system's libcurl)
 * the calls go through the table below; without it (a static libcurl, which links GnuTLS
 * itself) straight to GnuTLS. */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#ifdef VPS_GNUTLS_DLOPEN
struct vpsctl_gnutls_api {
        __typeof__(gnutls_x509_crt_init) *crt_init;
        __typeof__(gnutls_x509_crt_deinit) *crt_deinit;
        __typeof__(gnutls_x509_crt_import) *crt_import;
        __typeof__(gnutls_x509_crt_get_fingerprint) *crt_get_fingerprint;
        __typeof__(gnutls_x509_crt_get_key_id) *crt_get_key_id;
        __typeof__(gnutls_strerror) *strerror;
};

/* GnuTLS's functions, loaded at the first call; a vpsctl without its GnuTLS says so and exits
 * (1). */
const struct vpsctl_gnutls_api *vpsctl_gnutls(void);

#define gnutls_x509_crt_init(...)            (vpsctl_gnutls()->crt_init(__VA_ARGS__))
#define gnutls_x509_crt_deinit(...)          (vpsctl_gnutls()->crt_deinit(__VA_ARGS__))
#define gnutls_x509_crt_import(...)          (vpsctl_gnutls()->crt_import(__VA_ARGS__))
#define gnutls_x509_crt_get_fingerprint(...) (vpsctl_gnutls()->crt_get_fingerprint(__VA_ARGS__))
#define gnutls_x509_crt_get_key_id(...)      (vpsctl_gnutls()->crt_get_key_id(__VA_ARGS__))
#define gnutls_strerror(...)                 (vpsctl_gnutls()->strerror(__VA_ARGS__))
#endif
