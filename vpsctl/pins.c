/* vpsctl: what a remote's certificate is pinned by: the SHA-256 of the certificate (as
 * `vpsd --fingerprint` prints it) and of its public key (CURLOPT_PINNEDPUBLICKEY's
 * "sha256//BASE64"), read from the chain libcurl reports (CURLINFO_CERTINFO). */
#include "conn.h"
#include "gnutls_dl.h"

#include <errno.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <string.h>

static void x509_freep(gnutls_x509_crt_t *crt)
{
        if (*crt)
                gnutls_x509_crt_deinit(*crt);
}

int pins_from_pem(const char *pem, char ret_fp[CLIENT_FP_LEN], char ret_pubkey[CLIENT_PIN_LEN],
                  vps_error *err)
{
        __attribute__((cleanup(x509_freep))) gnutls_x509_crt_t crt = NULL;
        gnutls_datum_t data = {.data = (unsigned char *)pem, .size = (unsigned int)strlen(pem)};
        unsigned char fp[32], id[32];
        size_t fp_len = sizeof(fp), id_len = sizeof(id);

        if (gnutls_x509_crt_init(&crt) < 0)
                return vps_err(err, ENOMEM, "reading the server's certificate: %s",
                               strerror(ENOMEM));
        int r = gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM);
        if (r == 0)
                r = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len);
        /* the key id with SHA-256 is the hash of the SubjectPublicKeyInfo, as curl pins it */
        if (r == 0)
                r = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &id_len);
        if (r < 0 || fp_len != sizeof(fp) || id_len != sizeof(id))
                return vps_err(err, EPROTO, "the server's certificate cannot be read: %s",
                               r < 0 ? gnutls_strerror(r) : "an unexpected digest size");
        for (size_t i = 0; i < sizeof(fp); i++)
                (void)snprintf(ret_fp + 2 * i, 3, "%02x", fp[i]);
        memcpy(ret_pubkey, "sha256//", 8);
        base64_encode_raw((char *)ret_pubkey + 8, sizeof(id), id);
        ret_pubkey[CLIENT_PIN_LEN - 1] = '\0';
        return 0;
}

int pins_of_connection(CURL *h, char ret_fp[CLIENT_FP_LEN], char ret_pubkey[CLIENT_PIN_LEN],
                       vps_error *err)
{
        struct curl_certinfo *ci = NULL;

        if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
                return vps_err(err, EPROTO, "the server showed no certificate");
        /* the first is the server's own; the rest, if any, its chain */
        for (const struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
                if (strncmp(s->data, "Cert:", 5) == 0)
                        return pins_from_pem(s->data + 5, ret_fp, ret_pubkey, err);
        return vps_err(err, EPROTO, "the server's certificate was not reported");
}
