/* vpsctl: GnuTLS loaded at its first call (gnutls_dl.h). */
#include "gnutls_dl.h"

#ifdef VPS_GNUTLS_DLOPEN
#include "dl.h"

#include <pthread.h>

static struct vpsctl_gnutls_api api;

static void load(void)
{
        const struct vpsctl_dl_sym syms[] = {
                {"gnutls_x509_crt_init", (void **)&api.crt_init},
                {"gnutls_x509_crt_deinit", (void **)&api.crt_deinit},
                {"gnutls_x509_crt_import", (void **)&api.crt_import},
                {"gnutls_x509_crt_get_fingerprint", (void **)&api.crt_get_fingerprint},
                {"gnutls_x509_crt_get_key_id", (void **)&api.crt_get_key_id},
                {"gnutls_strerror", (void **)&api.strerror},
        };
        vpsctl_dl_load(VPS_GNUTLS_SONAME, "GnuTLS", syms, sizeof(syms) / sizeof(syms[0]));
}

const struct vpsctl_gnutls_api *vpsctl_gnutls(void)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        (void)pthread_once(&once, load);
        return &api;
}
#endif
